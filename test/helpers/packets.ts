/**
 * Crafting frames for tests: TCP (or UDP) inside IPv4/IPv6 inside any link type the decoder
 * reads, with correct lengths and checksums (IPv4 header checksum; TCP/UDP checksum over the
 * pseudo-header), so the bytes are what a real capture would hold. tcpdump decodes them the
 * same way (test/decode/tcpdump-crosscheck.test.ts checks that).
 *
 * Typical use:
 *
 *   const ip = tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 40000, dstPort: 80,
 *                          seq: 1, ack: 1, flags: TcpFlag.psh | TcpFlag.ack, payload: "GET / ..." });
 *   const frame = testFrame(ethernetFrame(ip, { vlanTags: [{ vlanId: 10 }] }), LinkType.ethernet);
 *   decoder.decode(frame, segment);
 *
 * Every builder returns a fresh Uint8Array; nothing is shared between calls. Options that make a
 * packet wrong on purpose (`totalLength`, `headerWords`, `dataOffsetWords`, ...) exist for
 * malformed-input tests and are applied after the checksums unless noted.
 */
import { LinkType } from "../../src/decode/link-types.js";
import { TcpFlag } from "../../src/decode/segment.js";
import { createFrame, type Frame } from "../../src/source/frame.js";

export { LinkType, TcpFlag };

// ---------------------------------------------------------------------------------------------
// Addresses and checksums

/** "10.0.0.5" -> 4 bytes, "fd00:ec2::254" (also "::ffff:1.2.3.4") -> 16 bytes. Throws on junk. */
export function parseIpAddress(text: string): Uint8Array {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  const bytes = new Uint8Array(4);
  parts.forEach((part, index) => {
    const value = Number(part);
    if (!/^\d{1,3}$/.test(part) || value > 255) throw new Error(`not an IPv4 address: ${text}`);
    bytes[index] = value;
  });
  return bytes;
}

function parseIpv6(text: string): Uint8Array {
  const fail = (): never => {
    throw new Error(`not an IPv6 address: ${text}`);
  };
  const halves = text.split("::");
  if (halves.length > 2) fail();
  const groupsOf = (half: string | undefined): number[] => {
    if (half === undefined || half === "") return [];
    const groups: number[] = [];
    for (const part of half.split(":")) {
      if (part.includes(".")) {
        const v4 = parseIpv4(part);
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) fail();
        groups.push(parseInt(part, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) fail();
  const groups = [...head, ...(new Array<number>(halves.length === 1 ? 0 : zeros).fill(0)), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/** RFC 1071 one's-complement sum of all the parts (as if concatenated), complemented. */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const part of parts) {
    for (const byte of part) {
      if (odd === null) {
        odd = byte;
      } else {
        sum += (odd << 8) | byte;
        odd = null;
      }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function put16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

function put32(bytes: Uint8Array, offset: number, value: number): void {
  put16(bytes, offset, (value >>> 16) & 0xffff);
  put16(bytes, offset + 2, value & 0xffff);
}

function toBytes(payload: Uint8Array | string | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
}

/** The IPv4 or IPv6 pseudo-header TCP and UDP checksums cover. */
function pseudoHeader(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Uint8Array {
  if (src.length === 4) {
    const header = new Uint8Array(12);
    header.set(src, 0);
    header.set(dst, 4);
    header[9] = protocol;
    put16(header, 10, length);
    return header;
  }
  const header = new Uint8Array(40);
  header.set(src, 0);
  header.set(dst, 16);
  put32(header, 32, length);
  header[39] = protocol;
  return header;
}

// ---------------------------------------------------------------------------------------------
// Transport

export interface TcpSegmentOptions {
  /** Addresses, only for the checksum's pseudo-header (IPv4 or IPv6 text). */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit; default 0. */
  seq?: number;
  ack?: number;
  /** TcpFlag bits; default ACK. */
  flags?: number;
  /** Default 65535. */
  window?: number;
  payload?: Uint8Array | string;
  /** Raw TCP options, zero-padded (EOL) to a multiple of 4 bytes. */
  tcpOptions?: Uint8Array;
  /** Override the data offset field (in 32-bit words) after the checksum: malformed tests. */
  dataOffsetWords?: number;
  /** Store a wrong checksum, as captures with checksum offload do. */
  badChecksum?: boolean;
}

/** A TCP header + payload with a correct checksum (unless `badChecksum`). */
export function tcpSegmentBytes(options: TcpSegmentOptions): Uint8Array {
  const rawOptions = options.tcpOptions ?? new Uint8Array(0);
  const optionBytes = new Uint8Array(Math.ceil(rawOptions.length / 4) * 4);
  optionBytes.set(rawOptions);
  const header = new Uint8Array(20 + optionBytes.length);
  put16(header, 0, options.srcPort);
  put16(header, 2, options.dstPort);
  put32(header, 4, options.seq ?? 0);
  put32(header, 8, options.ack ?? 0);
  header[12] = (header.length / 4) << 4;
  header[13] = options.flags ?? TcpFlag.ack;
  put16(header, 14, options.window ?? 65535);
  header.set(optionBytes, 20);
  const segment = concat(header, toBytes(options.payload));
  const src = parseIpAddress(options.src);
  const dst = parseIpAddress(options.dst);
  const checksum = internetChecksum(pseudoHeader(src, dst, 6, segment.length), segment);
  put16(segment, 16, options.badChecksum === true ? checksum ^ 0x5a5a : checksum);
  if (options.dataOffsetWords !== undefined) segment[12] = (options.dataOffsetWords & 0x0f) << 4;
  return segment;
}

export interface UdpSegmentOptions {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload?: Uint8Array | string;
}

/** A UDP header + payload with a correct checksum. */
export function udpSegmentBytes(options: UdpSegmentOptions): Uint8Array {
  const payload = toBytes(options.payload);
  const segment = new Uint8Array(8 + payload.length);
  put16(segment, 0, options.srcPort);
  put16(segment, 2, options.dstPort);
  put16(segment, 4, segment.length);
  segment.set(payload, 8);
  const checksum = internetChecksum(
    pseudoHeader(parseIpAddress(options.src), parseIpAddress(options.dst), 17, segment.length),
    segment,
  );
  put16(segment, 6, checksum === 0 ? 0xffff : checksum);
  return segment;
}

// ---------------------------------------------------------------------------------------------
// IP

export interface Ipv4Options {
  /** Default 64. */
  ttl?: number;
  /** Default 1. */
  identification?: number;
  /** Default true, as Linux sends TCP. */
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffsetBytes?: number;
  /** Raw IPv4 options, zero-padded (EOL) to a multiple of 4 bytes (at most 40). */
  options?: Uint8Array;
  /** Override the total length field (checksum recomputed): 0 imitates TSO captures. */
  totalLength?: number;
  /** Override the header length field, in 32-bit words (checksum recomputed). */
  headerWords?: number;
  /** Override the version nibble (checksum recomputed). */
  version?: number;
}

export interface Ipv4PacketOptions extends Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  payload: Uint8Array;
}

/** An IPv4 packet with a correct header checksum. */
export function ipv4Packet(options: Ipv4PacketOptions): Uint8Array {
  const rawOptions = options.options ?? new Uint8Array(0);
  const optionBytes = new Uint8Array(Math.ceil(rawOptions.length / 4) * 4);
  optionBytes.set(rawOptions);
  const header = new Uint8Array(20 + optionBytes.length);
  header[0] = ((options.version ?? 4) << 4) | (options.headerWords ?? header.length / 4);
  put16(header, 2, options.totalLength ?? header.length + options.payload.length);
  put16(header, 4, options.identification ?? 1);
  const fragmentOffsetBytes = options.fragmentOffsetBytes ?? 0;
  if (fragmentOffsetBytes % 8 !== 0) throw new Error("IPv4 fragment offset must be a multiple of 8");
  put16(
    header,
    6,
    ((options.dontFragment ?? true) ? 0x4000 : 0) | (options.moreFragments === true ? 0x2000 : 0) | (fragmentOffsetBytes / 8),
  );
  header[8] = options.ttl ?? 64;
  header[9] = options.protocol;
  header.set(parseIpv4(options.src), 12);
  header.set(parseIpv4(options.dst), 16);
  header.set(optionBytes, 20);
  put16(header, 10, internetChecksum(header));
  return concat(header, options.payload);
}

/**
 * An IPv6 extension header. Option headers are filled with PadN; `routing` is type 0 with
 * segments left 0 (so it changes nothing); `fragment` is the 8-byte fragment header; `ah` is an
 * authentication header with a 12-byte ICV; `esp` starts encrypted data (the rest of the packet).
 */
export type Ipv6ExtensionHeader =
  | { kind: "hopByHop" | "destinationOptions" | "routing"; /** total size, multiple of 8, default 8 */ bytes?: number }
  | { kind: "fragment"; offsetBytes?: number; more?: boolean; identification?: number }
  | { kind: "ah" }
  | { kind: "esp" };

const extensionHeaderProtocol = {
  hopByHop: 0,
  routing: 43,
  fragment: 44,
  esp: 50,
  ah: 51,
  destinationOptions: 60,
} as const;

function extensionHeaderBytes(header: Ipv6ExtensionHeader, nextHeader: number): Uint8Array {
  switch (header.kind) {
    case "hopByHop":
    case "destinationOptions":
    case "routing": {
      const size = header.bytes ?? 8;
      if (size % 8 !== 0 || size < 8 || size > 2048) throw new Error("extension header size: multiple of 8");
      const bytes = new Uint8Array(size);
      bytes[0] = nextHeader;
      bytes[1] = size / 8 - 1;
      if (header.kind === "routing") {
        bytes[2] = 0; // type 0
        bytes[3] = 0; // segments left
      } else {
        bytes[2] = 1; // PadN covering the rest
        bytes[3] = size - 4;
      }
      return bytes;
    }
    case "fragment": {
      const bytes = new Uint8Array(8);
      bytes[0] = nextHeader;
      const offsetBytes = header.offsetBytes ?? 0;
      if (offsetBytes % 8 !== 0) throw new Error("IPv6 fragment offset must be a multiple of 8");
      put16(bytes, 2, offsetBytes | (header.more === true ? 1 : 0));
      put32(bytes, 4, header.identification ?? 0x1234);
      return bytes;
    }
    case "ah": {
      const bytes = new Uint8Array(24);
      bytes[0] = nextHeader;
      bytes[1] = 24 / 4 - 2;
      put32(bytes, 4, 0x100); // SPI
      put32(bytes, 8, 1); // sequence
      return bytes;
    }
    case "esp": {
      const bytes = new Uint8Array(8);
      put32(bytes, 0, 0x100); // SPI
      put32(bytes, 4, 1); // sequence
      return bytes;
    }
  }
}

export interface Ipv6Options {
  /** Default 64. */
  hopLimit?: number;
  /** In order, first after the fixed header. */
  extensionHeaders?: readonly Ipv6ExtensionHeader[];
  /** Override the payload length field: 0 is a jumbogram. */
  payloadLength?: number;
  /** Override the version nibble. */
  version?: number;
}

export interface Ipv6PacketOptions extends Ipv6Options {
  src: string;
  dst: string;
  /** Protocol of `payload` (6 TCP, 17 UDP): the last extension header's next header. */
  protocol: number;
  payload: Uint8Array;
}

export function ipv6Packet(options: Ipv6PacketOptions): Uint8Array {
  const chain = options.extensionHeaders ?? [];
  const parts: Uint8Array[] = [];
  let nextHeader = options.protocol;
  for (let i = chain.length - 1; i >= 0; i--) {
    const header = chain[i]!;
    parts.unshift(extensionHeaderBytes(header, nextHeader));
    nextHeader = extensionHeaderProtocol[header.kind];
  }
  const body = concat(...parts, options.payload);
  const header = new Uint8Array(40);
  header[0] = (options.version ?? 6) << 4;
  put16(header, 4, options.payloadLength ?? body.length);
  header[6] = nextHeader;
  header[7] = options.hopLimit ?? 64;
  header.set(parseIpv6(options.src), 8);
  header.set(parseIpv6(options.dst), 24);
  return concat(header, body);
}

export interface TcpPacketOptions extends TcpSegmentOptions {
  /** IPv4 header options (used when the addresses are IPv4). */
  ipv4?: Ipv4Options;
  /** IPv6 header options (used when the addresses are IPv6). */
  ipv6?: Ipv6Options;
}

/** An IP packet (version from the address form) holding one TCP segment. */
export function tcpPacket(options: TcpPacketOptions): Uint8Array {
  const segment = tcpSegmentBytes(options);
  return ipPacket(options.src, options.dst, 6, segment, options.ipv4, options.ipv6);
}

export interface UdpPacketOptions extends UdpSegmentOptions {
  ipv4?: Ipv4Options;
  ipv6?: Ipv6Options;
}

/** An IP packet (version from the address form) holding one UDP datagram. */
export function udpPacket(options: UdpPacketOptions): Uint8Array {
  return ipPacket(options.src, options.dst, 17, udpSegmentBytes(options), options.ipv4, options.ipv6);
}

function ipPacket(
  src: string,
  dst: string,
  protocol: number,
  payload: Uint8Array,
  ipv4: Ipv4Options | undefined,
  ipv6: Ipv6Options | undefined,
): Uint8Array {
  if (src.includes(":") !== dst.includes(":")) throw new Error(`mixed IP versions: ${src} -> ${dst}`);
  return src.includes(":")
    ? ipv6Packet({ ...ipv6, src, dst, protocol, payload })
    : ipv4Packet({ ...ipv4, src, dst, protocol, payload });
}

// ---------------------------------------------------------------------------------------------
// Link layer

/** EtherType for an IP packet, from its version nibble. */
function etherTypeOf(ip: Uint8Array): number {
  return (ip[0] ?? 0) >> 4 === 6 ? 0x86dd : 0x0800;
}

export interface VlanTag {
  /** 0x8100 (802.1Q, default), 0x88a8 (802.1ad) or 0x9100 (old QinQ). */
  tpid?: number;
  vlanId: number;
  /** Priority code point 0..7. */
  priority?: number;
}

function vlanTagBytes(tags: readonly VlanTag[], innerEtherType: number): { firstType: number; bytes: Uint8Array } {
  if (tags.length === 0) return { firstType: innerEtherType, bytes: new Uint8Array(0) };
  const bytes = new Uint8Array(tags.length * 4);
  tags.forEach((tag, index) => {
    put16(bytes, index * 4, ((tag.priority ?? 0) << 13) | (tag.vlanId & 0x0fff));
    const next = tags[index + 1];
    put16(bytes, index * 4 + 2, next === undefined ? innerEtherType : (next.tpid ?? 0x8100));
  });
  return { firstType: tags[0]!.tpid ?? 0x8100, bytes };
}

export interface EthernetOptions {
  /** Outermost first. */
  vlanTags?: readonly VlanTag[];
  /** Default 02:00:00:00:00:01 -> 02:00:00:00:00:02. */
  sourceMac?: Uint8Array;
  destinationMac?: Uint8Array;
  /** Override the (innermost) EtherType; default from the IP version. */
  etherType?: number;
  /** Zero-pad the frame to this many bytes (60: the Ethernet minimum without FCS). */
  minimumLength?: number;
  /** Bytes after the packet (an FCS, a trailer), before any padding. */
  trailer?: Uint8Array;
}

export function ethernetFrame(ip: Uint8Array, options: EthernetOptions = {}): Uint8Array {
  const header = new Uint8Array(14);
  header.set(options.destinationMac ?? Uint8Array.of(2, 0, 0, 0, 0, 2), 0);
  header.set(options.sourceMac ?? Uint8Array.of(2, 0, 0, 0, 0, 1), 6);
  const tags = vlanTagBytes(options.vlanTags ?? [], options.etherType ?? etherTypeOf(ip));
  put16(header, 12, tags.firstType);
  const frame = concat(header, tags.bytes, ip, options.trailer ?? new Uint8Array(0));
  const minimum = options.minimumLength ?? 0;
  return frame.length >= minimum ? frame : concat(frame, new Uint8Array(minimum - frame.length));
}

/** SLL packet types: who the packet was for. */
export const SllPacketType = { host: 0, broadcast: 1, multicast: 2, otherHost: 3, outgoing: 4 } as const;

export interface SllOptions {
  /** Default `outgoing`. */
  packetType?: number;
  /** Override the protocol field; default the EtherType of the IP version. */
  protocol?: number;
  /** Tags between the cooked header and the packet (as libpcap re-inserts them). */
  vlanTags?: readonly VlanTag[];
  /** ARPHRD_ type; default 1 (Ethernet). */
  arphrdType?: number;
}

/** LINUX_SLL (113): 16-byte cooked header, protocol at offset 14. */
export function sllFrame(ip: Uint8Array, options: SllOptions = {}): Uint8Array {
  const header = new Uint8Array(16);
  put16(header, 0, options.packetType ?? SllPacketType.outgoing);
  put16(header, 2, options.arphrdType ?? 1);
  put16(header, 4, 6);
  header.set([2, 0, 0, 0, 0, 1], 6);
  const tags = vlanTagBytes(options.vlanTags ?? [], options.protocol ?? etherTypeOf(ip));
  put16(header, 14, tags.firstType);
  return concat(header, tags.bytes, ip);
}

export interface Sll2Options extends SllOptions {
  /** Default 2. */
  interfaceIndex?: number;
}

/** LINUX_SLL2 (276, tcpdump -i any): 20-byte header, protocol at offset 0. */
export function sll2Frame(ip: Uint8Array, options: Sll2Options = {}): Uint8Array {
  const header = new Uint8Array(20);
  const tags = vlanTagBytes(options.vlanTags ?? [], options.protocol ?? etherTypeOf(ip));
  put16(header, 0, tags.firstType);
  put32(header, 4, options.interfaceIndex ?? 2);
  put16(header, 8, options.arphrdType ?? 1);
  header[10] = options.packetType ?? SllPacketType.outgoing;
  header[11] = 6;
  header.set([2, 0, 0, 0, 0, 1], 12);
  return concat(header, tags.bytes, ip);
}

export interface NullOptions {
  /** Byte order of the capturing host; default "little" (x86, ARM). */
  byteOrder?: "little" | "big";
  /** Address family; default 2 (AF_INET) or 30 (macOS AF_INET6) from the IP version. */
  family?: number;
}

/** NULL (0, BSD loopback): 4-byte address family in the capturing host's byte order. */
export function nullFrame(ip: Uint8Array, options: NullOptions = {}): Uint8Array {
  const family = options.family ?? ((ip[0] ?? 0) >> 4 === 6 ? 30 : 2);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, family, (options.byteOrder ?? "little") === "little");
  return concat(header, ip);
}

/** LOOP (108, OpenBSD loopback): 4-byte address family in network byte order. */
export function loopFrame(ip: Uint8Array, options: { family?: number } = {}): Uint8Array {
  const header = new Uint8Array(4);
  put32(header, 0, options.family ?? ((ip[0] ?? 0) >> 4 === 6 ? 24 : 2));
  return concat(header, ip);
}

/** RAW (101), IPV4 (228), IPV6 (229): the packet itself. */
export function rawFrame(ip: Uint8Array): Uint8Array {
  return ip.slice();
}

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
