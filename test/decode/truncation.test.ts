import { describe, expect, it } from "vitest";
import {
  ethernetFrame,
  LinkType,
  loopFrame,
  nullFrame,
  rawFrame,
  sll2Frame,
  sllFrame,
  TcpFlag,
  tcpPacket,
  testFrame,
} from "../helpers/packets.js";
import { decodeOnce } from "./decode-harness.js";

const payload = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n";
const tcpOptions = Uint8Array.of(2, 4, 5, 0xb4, 1, 1, 4, 2); // MSS, NOP, NOP, SACK permitted

/** Valid IMDS frames with every kind of header, and where their TCP payload starts. */
const frames: { name: string; linkType: number; bytes: Uint8Array; payloadOffset: number }[] = [
  {
    name: "Ethernet + QinQ + IPv4 with options + TCP options",
    linkType: LinkType.ethernet,
    bytes: ethernetFrame(
      tcpPacket({
        src: "10.0.0.5",
        dst: "169.254.169.254",
        srcPort: 40000,
        dstPort: 80,
        seq: 7,
        flags: TcpFlag.psh | TcpFlag.ack,
        payload,
        tcpOptions,
        ipv4: { options: Uint8Array.of(0x94, 4, 0, 0) },
      }),
      { vlanTags: [{ tpid: 0x88a8, vlanId: 100 }, { vlanId: 10 }] },
    ),
    payloadOffset: 14 + 8 + 24 + 28,
  },
  {
    name: "SLL2 + IPv6 with hop-by-hop, routing, atomic fragment, AH",
    linkType: LinkType.linuxSll2,
    bytes: sll2Frame(
      tcpPacket({
        src: "fd00:ec2::254",
        dst: "2001:db8::5",
        srcPort: 80,
        dstPort: 40000,
        seq: 7,
        payload,
        tcpOptions,
        ipv6: { extensionHeaders: [{ kind: "hopByHop" }, { kind: "routing" }, { kind: "fragment" }, { kind: "ah" }] },
      }),
    ),
    payloadOffset: 20 + 40 + 8 + 8 + 8 + 24 + 28,
  },
  {
    name: "SLL + IPv4",
    linkType: LinkType.linuxSll,
    bytes: sllFrame(tcpPacket({ src: "169.254.169.254", dst: "10.1.2.3", srcPort: 80, dstPort: 1234, payload })),
    payloadOffset: 16 + 20 + 20,
  },
  {
    name: "NULL (big-endian) + IPv6",
    linkType: LinkType.null,
    bytes: nullFrame(tcpPacket({ src: "2001:db8::5", dst: "fd00:ec2::254", srcPort: 1, dstPort: 80, payload }), {
      byteOrder: "big",
    }),
    payloadOffset: 4 + 40 + 20,
  },
  {
    name: "LOOP + IPv4",
    linkType: LinkType.loop,
    bytes: loopFrame(tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 1, dstPort: 80, payload })),
    payloadOffset: 4 + 20 + 20,
  },
  {
    name: "RAW + IPv6",
    linkType: LinkType.raw,
    bytes: rawFrame(tcpPacket({ src: "2001:db8::5", dst: "fd00:ec2::254", srcPort: 1, dstPort: 80, payload })),
    payloadOffset: 40 + 20,
  },
];

describe("FrameDecoder: a valid IMDS frame cut at every byte offset", () => {
  for (const { name, linkType, bytes, payloadOffset } of frames) {
    it(`${name}: the whole frame decodes (sanity)`, () => {
      const { segment } = decodeOnce(testFrame(bytes, linkType));
      expect(Buffer.from(segment.payload).toString("latin1")).toBe(payload);
      expect(bytes.length - payloadOffset).toBe(payload.length);
    });

    it(`${name}: snaplen cut -> truncated headers, or the captured payload and the missing count`, () => {
      for (let cut = 0; cut < bytes.length; cut++) {
        const outcome = decodeOnce(testFrame(bytes, linkType, { snaplen: cut }));
        if (cut < payloadOffset) {
          expect({ cut, counter: outcome.counter }).toEqual({ cut, counter: "framesTruncatedHeaders" });
        } else {
          expect({ cut, counter: outcome.counter }).toEqual({ cut, counter: "imdsSegments" });
          expect(Buffer.from(outcome.segment.payload).toString("latin1")).toBe(payload.slice(0, cut - payloadOffset));
          expect(outcome.segment.missingPayloadBytes).toBe(bytes.length - cut);
        }
      }
    });

    it(`${name}: frame simply shorter (no snaplen cut) -> malformed, or decoded with what is there`, () => {
      for (let length = 0; length < bytes.length; length++) {
        const outcome = decodeOnce(testFrame(bytes.subarray(0, length), linkType));
        if (length < payloadOffset) {
          expect({ length, counter: outcome.counter }).toEqual({ length, counter: "framesMalformed" });
        } else {
          // The IP length claims more than the wire had: trust the smaller (nothing "missing").
          expect({ length, counter: outcome.counter }).toEqual({ length, counter: "imdsSegments" });
          expect(outcome.segment.payload.length).toBe(length - payloadOffset);
          expect(outcome.segment.missingPayloadBytes).toBe(0);
        }
      }
    });

    it(`${name}: every byte corrupted to several values never throws, counts exactly one reason`, () => {
      for (let offset = 0; offset < payloadOffset; offset++) {
        const original = bytes[offset]!;
        for (const value of [0x00, 0xff, original ^ 0x80, original ^ 0x0f, (original + 1) & 0xff]) {
          const corrupt = bytes.slice();
          corrupt[offset] = value;
          const outcome = decodeOnce(testFrame(corrupt, linkType)); // asserts exactly one counter
          if (outcome.decoded) {
            expect(outcome.segment.payload.length + outcome.segment.missingPayloadBytes).toBeLessThanOrEqual(
              bytes.length,
            );
          }
        }
      }
    });
  }
});
