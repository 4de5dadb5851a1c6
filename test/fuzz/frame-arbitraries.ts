/**
 * fast-check generators for link-layer frames holding TCP to or from IMDS, built with the test
 * packet helpers (correct lengths and checksums) from fuzzed fields: link type, VLAN stacks,
 * Ethernet padding and trailers, IPv4 options, IPv6 extension header chains, TCP options, flags,
 * sequence numbers, payloads. A `FrameSpec` also says what the decoder must make of its frame.
 */
import fc from "fast-check";
import {
  LinkType,
  ethernetFrame,
  loopFrame,
  nullFrame,
  rawFrame,
  sll2Frame,
  sllFrame,
  tcpPacket,
} from "../helpers/packets.js";
import type { Ipv6ExtensionHeader, VlanTag } from "../helpers/packets.js";

export interface FrameSpec {
  readonly linkType: number;
  readonly bytes: Uint8Array;
  /** Offset of the TCP payload in `bytes`, and its length. */
  readonly payloadOffset: number;
  readonly payload: Uint8Array;
  readonly expected: {
    readonly ipVersion: 4 | 6;
    readonly sourceAddress: string;
    readonly destinationAddress: string;
    readonly sourcePort: number;
    readonly destinationPort: number;
    readonly toServer: boolean;
    readonly sequence: number;
    readonly acknowledgement: number;
    readonly flags: number;
  };
}

const peersV4 = ["10.0.0.5", "172.17.0.2", "192.168.1.20", "169.254.169.253", "0.0.0.0"] as const;
/** Compressible and non-compressible forms, to exercise the RFC 5952 text. */
const peersV6 = ["2001:db8::5", "fe80::1", "::1", "2001:db8::1:0:0:1", "2001:0:0:1::1", "fd00:ec2::253", "1:2:3:4:5:6:7:8"] as const;

const vlanTagArbitrary: fc.Arbitrary<VlanTag> = fc.record({
  tpid: fc.constantFrom(0x8100, 0x88a8, 0x9100),
  vlanId: fc.nat({ max: 4095 }),
  priority: fc.nat({ max: 7 }),
});

const extensionHeaderArbitrary: fc.Arbitrary<Ipv6ExtensionHeader> = fc.oneof(
  fc.record({ kind: fc.constantFrom("hopByHop" as const, "destinationOptions" as const, "routing" as const), bytes: fc.constantFrom(8, 16, 24, 64) }),
  // Atomic fragment (offset 0, no more fragments): a whole packet the decoder must read through.
  fc.record({ kind: fc.constant("fragment" as const), offsetBytes: fc.constant(0), more: fc.constant(false), identification: fc.nat() }),
  fc.constant({ kind: "ah" as const }),
);

const linkArbitrary = fc.oneof(
  fc.record({
    linkType: fc.constant(LinkType.ethernet),
    vlanTags: fc.array(vlanTagArbitrary, { maxLength: 3 }),
    minimumLength: fc.constantFrom(0, 60, 64),
    trailer: fc.uint8Array({ maxLength: 6 }),
  }),
  fc.record({ linkType: fc.constantFrom(LinkType.linuxSll, LinkType.linuxSll2), vlanTags: fc.array(vlanTagArbitrary, { maxLength: 2 }) }),
  fc.record({ linkType: fc.constant(LinkType.null), byteOrder: fc.constantFrom("little" as const, "big" as const) }),
  fc.record({ linkType: fc.constantFrom(LinkType.loop, LinkType.raw, LinkType.rawBsd12, LinkType.rawOpenBsd14) }),
);

/** A well-formed frame: the decoder must return exactly its segment. */
export const imdsFrameArbitrary: fc.Arbitrary<FrameSpec> = fc
  .record({
    ipVersion: fc.constantFrom(4 as const, 6 as const),
    peerIndex: fc.nat({ max: 6 }),
    toServer: fc.boolean(),
    peerPort: fc.integer({ min: 0, max: 65_535 }),
    sequence: fc.nat({ max: 0xffff_ffff }),
    acknowledgement: fc.nat({ max: 0xffff_ffff }),
    flags: fc.nat({ max: 0xff }),
    window: fc.nat({ max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 160 }),
    tcpOptions: fc.uint8Array({ maxLength: 40 }),
    ipv4Options: fc.uint8Array({ maxLength: 40 }),
    ttl: fc.nat({ max: 255 }),
    extensionHeaders: fc.array(extensionHeaderArbitrary, { maxLength: 4 }),
    link: linkArbitrary,
  })
  .map((fields): FrameSpec => {
    const imds = fields.ipVersion === 4 ? "169.254.169.254" : "fd00:ec2::254";
    const peers = fields.ipVersion === 4 ? peersV4 : peersV6;
    const peer = peers[fields.peerIndex % peers.length]!;
    const [src, dst] = fields.toServer ? [peer, imds] : [imds, peer];
    const [srcPort, dstPort] = fields.toServer ? [fields.peerPort, 80] : [80, fields.peerPort];
    const ip = tcpPacket({
      src,
      dst,
      srcPort,
      dstPort,
      seq: fields.sequence,
      ack: fields.acknowledgement,
      flags: fields.flags,
      window: fields.window,
      payload: fields.payload,
      tcpOptions: fields.tcpOptions,
      ipv4: { ttl: fields.ttl, options: fields.ipv4Options },
      ipv6: { hopLimit: fields.ttl, extensionHeaders: fields.extensionHeaders },
    });
    const link = fields.link;
    let bytes: Uint8Array;
    switch (link.linkType) {
      case LinkType.ethernet:
        bytes = ethernetFrame(ip, { vlanTags: link.vlanTags, minimumLength: link.minimumLength, trailer: link.trailer });
        break;
      case LinkType.linuxSll:
        bytes = sllFrame(ip, { vlanTags: link.vlanTags });
        break;
      case LinkType.linuxSll2:
        bytes = sll2Frame(ip, { vlanTags: link.vlanTags });
        break;
      case LinkType.null:
        bytes = nullFrame(ip, { byteOrder: link.byteOrder });
        break;
      case LinkType.loop:
        bytes = loopFrame(ip);
        break;
      case LinkType.raw:
      case LinkType.rawBsd12:
      case LinkType.rawOpenBsd14:
        bytes = rawFrame(ip);
    }
    const ipOffset = bytes.length - ip.length - ("trailer" in link ? trailerAndPadding(ip.length, link) : 0);
    const payloadOffset = ipOffset + ip.length - fields.payload.length;
    return {
      linkType: link.linkType,
      bytes,
      payloadOffset,
      payload: fields.payload,
      expected: {
        ipVersion: fields.ipVersion,
        sourceAddress: src,
        destinationAddress: dst,
        sourcePort: srcPort,
        destinationPort: dstPort,
        toServer: fields.toServer,
        sequence: fields.sequence,
        acknowledgement: fields.acknowledgement,
        flags: fields.flags,
      },
    };
  });

/** Bytes after the IP packet in an Ethernet frame built with these options. */
function trailerAndPadding(
  ipLength: number,
  link: { readonly vlanTags: readonly VlanTag[]; readonly minimumLength: number; readonly trailer: Uint8Array },
): number {
  const unpadded = 14 + link.vlanTags.length * 4 + ipLength + link.trailer.length;
  return link.trailer.length + Math.max(0, link.minimumLength - unpadded);
}

/** Any link type, including ones the decoder does not read and values next to real ones. */
export const anyLinkTypeArbitrary = fc.oneof(
  fc.constantFrom(...Object.values(LinkType)),
  fc.constantFrom(2, 11, 100, 102, 109, 112, 114, 127, 228, 229, 275, 277),
  fc.nat({ max: 0xffff }),
);
