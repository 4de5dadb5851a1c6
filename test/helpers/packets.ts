/**
 * Frames for tests. The packet builders themselves (TCP or UDP inside IPv4/IPv6 inside any link
 * type, with correct lengths and checksums) are src/wire-format/packets.mjs, shared with the
 * hostile corpus and the bench generator; this adds what needs the decoder's own types: a frame
 * for any `LinkType`, and a `Frame` object as a capture source emits it.
 *
 *   const ip = tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 40000, dstPort: 80,
 *                          seq: 1, ack: 1, flags: TcpFlag.psh | TcpFlag.ack, payload: "GET / ..." });
 *   const frame = testFrame(ethernetFrame(ip, { vlanTags: [{ vlanId: 10 }] }), LinkType.ethernet);
 *   decoder.decode(frame, segment);
 */
import { LinkType } from "../../src/decode/link-types.js";
import { TcpFlag } from "../../src/decode/segment.js";
import { createFrame, type Frame } from "../../src/source/frame.js";
import { ethernetFrame, loopFrame, nullFrame, rawFrame, sll2Frame, sllFrame } from "../../src/wire-format/packets.mjs";

export * from "../../src/wire-format/packets.mjs";
export { LinkType, TcpFlag };

/** The frame bytes for `ip` in any link type the decoder reads, with default options. */
export function linkFrame(linkType: LinkType, ip: Uint8Array): Uint8Array {
  switch (linkType) {
    case LinkType.ethernet:
      return ethernetFrame(ip);
    case LinkType.linuxSll:
      return sllFrame(ip);
    case LinkType.linuxSll2:
      return sll2Frame(ip);
    case LinkType.null:
      return nullFrame(ip);
    case LinkType.loop:
      return loopFrame(ip);
    case LinkType.raw:
    case LinkType.rawBsd12:
    case LinkType.rawOpenBsd14:
    case LinkType.ipv4:
    case LinkType.ipv6:
      return rawFrame(ip);
  }
}

export interface TestFrameOptions {
  /** Keep only this many bytes, as a capture with this snaplen would (originalLength stays). */
  snaplen?: number;
  /** Length on the wire; default the full length of `bytes`. */
  originalLength?: number;
  /** Default 1. */
  number?: number;
  timestampSeconds?: number;
  timestampNanos?: number;
}

/** A `Frame` as a capture source would emit it, around a copy of `bytes`. */
export function testFrame(bytes: Uint8Array, linkType: number, options: TestFrameOptions = {}): Frame {
  const frame = createFrame();
  const captured = options.snaplen === undefined ? bytes.slice() : bytes.slice(0, options.snaplen);
  frame.number = options.number ?? 1;
  frame.linkType = linkType;
  frame.setData(captured, 0, captured.length);
  frame.originalLength = options.originalLength ?? bytes.length;
  frame.timestampSeconds = options.timestampSeconds ?? 1_700_000_000;
  frame.timestampNanos = options.timestampNanos ?? 0;
  return frame;
}
