// @ts-check
/**
 * Builds network packets as a capture holds them: TCP or UDP inside IPv4 or IPv6 inside any link
 * type the decoder reads, with correct lengths and checksums (IPv4 header checksum; TCP/UDP
 * checksum over the pseudo-header). The one place that knows these header layouts on the
 * writing side: tests, the hostile corpus (scripts/make-hostile-captures.mjs) and the bench
 * generator all build their frames here. Plain JavaScript with JSDoc types, so that scripts and
 * the bench run under plain Node.
 *
 * Two levels:
 * - `write*Header(bytes, offset, fields)` write one header in place, every byte of it, and return
 *   its length: for generators that fill a reused buffer millions of times (their TCP and UDP
 *   checksums stay 0, as captures from checksum-offloading NICs have them);
 * - `tcpPacket`, `ethernetFrame`, ... return fresh arrays with every checksum right, and take
 *   options that make a packet wrong on purpose (`totalLength`, `headerWords`,
 *   `dataOffsetWords`, ...) for malformed-input tests, applied after the checksums unless noted.
 *
 *   const ip = tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 40000, dstPort: 80,
 *                          seq: 1, ack: 1, flags: tcpFlags.psh | tcpFlags.ack, payload: "GET / ..." });
 *   const frame = ethernetFrame(ip, { vlanTags: [{ vlanId: 10 }] });
 */
import { concatBytes, put16, put32 } from "./bytes.mjs";

/** TCP flag bits. */
export const tcpFlags = /** @type {const} */ ({ fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80 });

export const etherType = /** @type {const} */ ({ ipv4: 0x0800, ipv6: 0x86dd, vlan: 0x8100 });

/** 02:00:00:00:00:01 and 02:00:00:00:00:02: locally administered, never a real NIC's. */
export const exampleMacs = /** @type {const} */ ({ first: Uint8Array.of(2, 0, 0, 0, 0, 1), second: Uint8Array.of(2, 0, 0, 0, 0, 2) });

// ---------------------------------------------------------------------------------------------
// Addresses and checksums

/** @param {string} text "10.0.0.5", or "fd00:ec2::254" (also "::ffff:1.2.3.4") @returns {Uint8Array} 4 or 16 bytes; throws on junk */
export function parseIpAddress(text) {
  return addressBytes(text).slice();
}

/** Parsed addresses: generators build hundreds of thousands of packets between a few addresses. */
/** @type {Map<string, Uint8Array>} */
const parsedAddresses = new Map();

/** @param {string} text @returns {Uint8Array} the parsed address, shared: never to be changed */
function addressBytes(text) {
  let bytes = parsedAddresses.get(text);
  if (bytes === undefined) {
    bytes = text.includes(":") ? parseIpv6(text) : parseIpv4(text);
    if (parsedAddresses.size < 1024) parsedAddresses.set(text, bytes);
  }
  return bytes;
}

/** @param {string} text @returns {Uint8Array} */
function parseIpv4(text) {
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

/** @param {string} text @returns {Uint8Array} */
function parseIpv6(text) {
  const fail = () => {
    throw new Error(`not an IPv6 address: ${text}`);
  };
  const halves = text.split("::");
  if (halves.length > 2) fail();
  /** @param {string | undefined} half @returns {number[]} */
  const groupsOf = (half) => {
    if (half === undefined || half === "") return [];
    /** @type {number[]} */
    const groups = [];
    for (const part of half.split(":")) {
      if (part.includes(".")) {
        const v4 = parseIpv4(part);
        groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
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
  const groups = [...head, ...Array.from({ length: halves.length === 1 ? 0 : zeros }, () => 0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    put16(bytes, index * 2, group);
  });
  return bytes;
}

/**
 * RFC 1071 one's-complement sum of bytes[start, end) added to `sum`, not yet folded or
 * complemented. `start` must be even within the data the checksum covers.
 * @param {Uint8Array} bytes @param {number} start @param {number} end @param {number} [sum]
 * @returns {number}
 */
function onesComplementSum(bytes, start, end, sum = 0) {
  let total = sum;
  let index = start;
  for (; index + 1 < end; index += 2) total += ((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0);
  if (index < end) total += (bytes[index] ?? 0) << 8;
  while (total > 0xffff) total = (total & 0xffff) + (total >>> 16);
  return total;
}

/** @param {...Uint8Array} parts @returns {number} the Internet checksum of the parts as if concatenated */
export function internetChecksum(...parts) {
  const odd = parts.some((part, index) => index < parts.length - 1 && part.length % 2 === 1);
  if (odd) return internetChecksum(concatBytes(parts));
  let sum = 0;
  for (const part of parts) sum = onesComplementSum(part, 0, part.length, sum);
  return ~sum & 0xffff;
}

/** @param {Uint8Array} src @param {Uint8Array} dst @param {number} protocol @param {number} length @returns {Uint8Array} the pseudo-header TCP and UDP checksums cover */
function pseudoHeader(src, dst, protocol, length) {
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

/** @param {Uint8Array | string | undefined} payload @returns {Uint8Array} strings as UTF-8 */
function payloadBytes(payload) {
  if (payload === undefined) return new Uint8Array(0);
  return typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
}

/** @param {Uint8Array | undefined} raw @returns {Uint8Array} zero-padded (EOL) to a multiple of 4 bytes */
function paddedOptions(raw) {
  const options = raw ?? new Uint8Array(0);
  const padded = new Uint8Array(Math.ceil(options.length / 4) * 4);
  padded.set(options);
  return padded;
}

// ---------------------------------------------------------------------------------------------
// Transport

/**
 * @typedef {object} TcpHeaderFields
 * @property {number} srcPort
 * @property {number} dstPort
 * @property {number | undefined} [seq] unsigned 32-bit; default 0
 * @property {number | undefined} [ack] default 0
 * @property {number | undefined} [flags] tcpFlags bits; default ACK
 * @property {number | undefined} [window] default 65535
 * @property {Uint8Array | undefined} [tcpOptions] already a multiple of 4 bytes
 */

/**
 * A TCP header (20 bytes + options) at `offset`, checksum 0.
 * @param {Uint8Array} bytes @param {number} offset @param {TcpHeaderFields} fields @returns {number} its length
 */
export function writeTcpHeader(bytes, offset, fields) {
  const options = fields.tcpOptions ?? new Uint8Array(0);
  const length = 20 + options.length;
  bytes.fill(0, offset, offset + 20);
  put16(bytes, offset, fields.srcPort);
  put16(bytes, offset + 2, fields.dstPort);
  put32(bytes, offset + 4, (fields.seq ?? 0) >>> 0);
  put32(bytes, offset + 8, (fields.ack ?? 0) >>> 0);
  bytes[offset + 12] = (length / 4) << 4;
  bytes[offset + 13] = fields.flags ?? tcpFlags.ack;
  put16(bytes, offset + 14, fields.window ?? 65535);
  bytes.set(options, offset + 20);
  return length;
}

/**
 * A UDP header at `offset`, checksum 0.
 * @param {Uint8Array} bytes @param {number} offset @param {number} srcPort @param {number} dstPort @param {number} payloadLength
 * @returns {number} its length (8)
 */
export function writeUdpHeader(bytes, offset, srcPort, dstPort, payloadLength) {
  put16(bytes, offset, srcPort);
  put16(bytes, offset + 2, dstPort);
  put16(bytes, offset + 4, 8 + payloadLength);
  put16(bytes, offset + 6, 0);
  return 8;
}

/**
 * @typedef {object} TcpSegmentOptions
 * @property {string} src addresses, only for the checksum's pseudo-header (IPv4 or IPv6 text)
 * @property {string} dst
 * @property {number} srcPort
 * @property {number} dstPort
 * @property {number} [seq] unsigned 32-bit; default 0
 * @property {number} [ack] default 0
 * @property {number} [flags] tcpFlags bits; default ACK
 * @property {number} [window] default 65535
 * @property {Uint8Array | string} [payload] a string is written as UTF-8
 * @property {Uint8Array} [tcpOptions] raw TCP options, zero-padded (EOL) to a multiple of 4 bytes
 * @property {number} [dataOffsetWords] override the data offset field (in 32-bit words) after the checksum: malformed tests
 * @property {boolean} [badChecksum] store a wrong checksum, as captures with checksum offload do
 */

/** @param {TcpSegmentOptions} options @returns {Uint8Array} a TCP header + payload with a correct checksum (unless `badChecksum`) */
export function tcpSegmentBytes(options) {
  const tcpOptions = paddedOptions(options.tcpOptions);
  const payload = payloadBytes(options.payload);
  const segment = new Uint8Array(20 + tcpOptions.length + payload.length);
  const headerLength = writeTcpHeader(segment, 0, {
    srcPort: options.srcPort,
    dstPort: options.dstPort,
    seq: options.seq,
    ack: options.ack,
    flags: options.flags,
    window: options.window,
    tcpOptions,
  });
  segment.set(payload, headerLength);
  const checksum = internetChecksum(pseudoHeader(addressBytes(options.src), addressBytes(options.dst), 6, segment.length), segment);
  put16(segment, 16, options.badChecksum === true ? checksum ^ 0x5a5a : checksum);
  if (options.dataOffsetWords !== undefined) segment[12] = (options.dataOffsetWords & 0x0f) << 4;
  return segment;
}

/**
 * @typedef {object} UdpSegmentOptions
 * @property {string} src
 * @property {string} dst
 * @property {number} srcPort
 * @property {number} dstPort
 * @property {Uint8Array | string} [payload]
 */

/** @param {UdpSegmentOptions} options @returns {Uint8Array} a UDP header + payload with a correct checksum */
export function udpSegmentBytes(options) {
  const payload = payloadBytes(options.payload);
  const segment = new Uint8Array(8 + payload.length);
  writeUdpHeader(segment, 0, options.srcPort, options.dstPort, payload.length);
  segment.set(payload, 8);
  const checksum = internetChecksum(pseudoHeader(addressBytes(options.src), addressBytes(options.dst), 17, segment.length), segment);
  put16(segment, 6, checksum === 0 ? 0xffff : checksum);
  return segment;
}

// ---------------------------------------------------------------------------------------------
// IP

/**
 * @typedef {object} Ipv4HeaderFields
 * @property {number} protocol
 * @property {Uint8Array | number} src 4 bytes, or the address as an unsigned 32-bit number
 * @property {Uint8Array | number} dst
 * @property {number} totalLength the total length field (header + payload; 0 imitates TSO captures)
 * @property {number | undefined} [identification] default 1
 * @property {boolean | undefined} [dontFragment] default true, as Linux sends TCP
 * @property {boolean | undefined} [moreFragments]
 * @property {number | undefined} [fragmentOffsetBytes] a multiple of 8
 * @property {number | undefined} [ttl] default 64
 * @property {Uint8Array | undefined} [options] already a multiple of 4 bytes (at most 40)
 * @property {number | undefined} [headerWords] override the header length field, in 32-bit words
 * @property {number | undefined} [version] override the version nibble
 */

/**
 * An IPv4 header (20 bytes + options) at `offset`, with its checksum computed last (so it covers
 * the overrides too).
 * @param {Uint8Array} bytes @param {number} offset @param {Ipv4HeaderFields} fields @returns {number} its length
 */
export function writeIpv4Header(bytes, offset, fields) {
  const options = fields.options ?? new Uint8Array(0);
  const length = 20 + options.length;
  const fragmentOffsetBytes = fields.fragmentOffsetBytes ?? 0;
  if (fragmentOffsetBytes % 8 !== 0) throw new Error("IPv4 fragment offset must be a multiple of 8");
  bytes.fill(0, offset, offset + 20);
  bytes[offset] = ((fields.version ?? 4) << 4) | (fields.headerWords ?? length / 4);
  put16(bytes, offset + 2, fields.totalLength);
  put16(bytes, offset + 4, fields.identification ?? 1);
  const flags = ((fields.dontFragment ?? true) ? 0x4000 : 0) | (fields.moreFragments === true ? 0x2000 : 0);
  put16(bytes, offset + 6, flags | (fragmentOffsetBytes / 8));
  bytes[offset + 8] = fields.ttl ?? 64;
  bytes[offset + 9] = fields.protocol;
  putIpv4Address(bytes, offset + 12, fields.src);
  putIpv4Address(bytes, offset + 16, fields.dst);
  bytes.set(options, offset + 20);
  put16(bytes, offset + 10, ~onesComplementSum(bytes, offset, offset + length) & 0xffff);
  return length;
}

/** @param {Uint8Array} bytes @param {number} offset @param {Uint8Array | number} address */
function putIpv4Address(bytes, offset, address) {
  if (typeof address === "number") put32(bytes, offset, address >>> 0);
  else bytes.set(address, offset);
}

/**
 * @typedef {object} Ipv4Options
 * @property {number} [ttl] default 64
 * @property {number} [identification] default 1
 * @property {boolean} [dontFragment] default true, as Linux sends TCP
 * @property {boolean} [moreFragments]
 * @property {number} [fragmentOffsetBytes] fragment offset in bytes (a multiple of 8)
 * @property {Uint8Array} [options] raw IPv4 options, zero-padded (EOL) to a multiple of 4 bytes (at most 40)
 * @property {number} [totalLength] override the total length field (checksum recomputed): 0 imitates TSO captures
 * @property {number} [headerWords] override the header length field, in 32-bit words (checksum recomputed)
 * @property {number} [version] override the version nibble (checksum recomputed)
 */

/**
 * @typedef {Ipv4Options & { src: string, dst: string, protocol: number, payload: Uint8Array }} Ipv4PacketOptions
 */

/** @param {Ipv4PacketOptions} options @returns {Uint8Array} an IPv4 packet with a correct header checksum */
export function ipv4Packet(options) {
  return ipv4PacketOf(options.src, options.dst, options.protocol, options.payload, options);
}

/**
 * (No object spread on this path: the corpus and test generators build hundreds of thousands.)
 * @param {string} src @param {string} dst @param {number} protocol @param {Uint8Array} payload @param {Ipv4Options} options
 * @returns {Uint8Array}
 */
function ipv4PacketOf(src, dst, protocol, payload, options) {
  const ipOptions = paddedOptions(options.options);
  const packet = new Uint8Array(20 + ipOptions.length + payload.length);
  if (src.includes(":") || dst.includes(":")) throw new Error(`not an IPv4 address pair: ${src} -> ${dst}`);
  const headerLength = writeIpv4Header(packet, 0, {
    protocol,
    src: addressBytes(src),
    dst: addressBytes(dst),
    totalLength: options.totalLength ?? packet.length,
    identification: options.identification,
    dontFragment: options.dontFragment,
    moreFragments: options.moreFragments,
    fragmentOffsetBytes: options.fragmentOffsetBytes,
    ttl: options.ttl,
    options: ipOptions,
    headerWords: options.headerWords,
    version: options.version,
  });
  packet.set(payload, headerLength);
  return packet;
}

/**
 * An IPv6 extension header. Option headers (`bytes`: total size, a multiple of 8, default 8) are
 * filled with PadN; `routing` is type 0 with segments left 0 (so it changes nothing); `fragment`
 * is the 8-byte fragment header; `ah` is an authentication header with a 12-byte ICV; `esp`
 * starts encrypted data (the rest of the packet).
 * @typedef {{ kind: "hopByHop" | "destinationOptions" | "routing", bytes?: number }
 *   | { kind: "fragment", offsetBytes?: number, more?: boolean, identification?: number }
 *   | { kind: "ah" }
 *   | { kind: "esp" }} Ipv6ExtensionHeader
 */

const extensionHeaderProtocol = /** @type {const} */ ({ hopByHop: 0, routing: 43, fragment: 44, esp: 50, ah: 51, destinationOptions: 60 });

/** @param {Ipv6ExtensionHeader} header @param {number} nextHeader @returns {Uint8Array} */
function extensionHeaderBytes(header, nextHeader) {
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

/**
 * @typedef {object} Ipv6Options
 * @property {number} [hopLimit] default 64
 * @property {readonly Ipv6ExtensionHeader[]} [extensionHeaders] in order, first after the fixed header
 * @property {number} [payloadLength] override the payload length field: 0 is a jumbogram
 * @property {number} [version] override the version nibble
 */

/**
 * `protocol`: of `payload` (6 TCP, 17 UDP), the last extension header's next header.
 * @typedef {Ipv6Options & { src: string, dst: string, protocol: number, payload: Uint8Array }} Ipv6PacketOptions
 */

/** @param {Ipv6PacketOptions} options @returns {Uint8Array} an IPv6 packet (fixed header, extension headers, payload) */
export function ipv6Packet(options) {
  return ipv6PacketOf(options.src, options.dst, options.protocol, options.payload, options);
}

/**
 * @param {string} src @param {string} dst @param {number} protocol @param {Uint8Array} payload @param {Ipv6Options} options
 * @returns {Uint8Array}
 */
function ipv6PacketOf(src, dst, protocol, payload, options) {
  const chain = options.extensionHeaders ?? [];
  /** @type {Uint8Array[]} the extension headers, last first */
  const parts = [];
  let nextHeader = protocol;
  for (let index = chain.length - 1; index >= 0; index--) {
    const header = /** @type {Ipv6ExtensionHeader} */ (chain[index]);
    parts.push(extensionHeaderBytes(header, nextHeader));
    nextHeader = extensionHeaderProtocol[header.kind];
  }
  parts.reverse();
  parts.push(payload);
  const body = concatBytes(parts);
  if (!src.includes(":") || !dst.includes(":")) throw new Error(`not an IPv6 address pair: ${src} -> ${dst}`);
  const header = new Uint8Array(40);
  header[0] = (options.version ?? 6) << 4;
  put16(header, 4, options.payloadLength ?? body.length);
  header[6] = nextHeader;
  header[7] = options.hopLimit ?? 64;
  header.set(addressBytes(src), 8);
  header.set(addressBytes(dst), 24);
  return concatBytes([header, body]);
}

/** @typedef {TcpSegmentOptions & { ipv4?: Ipv4Options, ipv6?: Ipv6Options }} TcpPacketOptions */

/** @param {TcpPacketOptions} options @returns {Uint8Array} an IP packet (version from the address form) holding one TCP segment */
export function tcpPacket(options) {
  return ipPacket(options.src, options.dst, 6, tcpSegmentBytes(options), options.ipv4, options.ipv6);
}

/** @typedef {UdpSegmentOptions & { ipv4?: Ipv4Options, ipv6?: Ipv6Options }} UdpPacketOptions */

/** @param {UdpPacketOptions} options @returns {Uint8Array} an IP packet (version from the address form) holding one UDP datagram */
export function udpPacket(options) {
  return ipPacket(options.src, options.dst, 17, udpSegmentBytes(options), options.ipv4, options.ipv6);
}

/**
 * @param {string} src @param {string} dst @param {number} protocol @param {Uint8Array} payload
 * @param {Ipv4Options | undefined} ipv4 @param {Ipv6Options | undefined} ipv6
 * @returns {Uint8Array}
 */
function ipPacket(src, dst, protocol, payload, ipv4, ipv6) {
  if (src.includes(":") !== dst.includes(":")) throw new Error(`mixed IP versions: ${src} -> ${dst}`);
  return src.includes(":") ? ipv6PacketOf(src, dst, protocol, payload, ipv6 ?? {}) : ipv4PacketOf(src, dst, protocol, payload, ipv4 ?? {});
}

// ---------------------------------------------------------------------------------------------
// Link layer

/** @param {Uint8Array} ip @returns {number} the EtherType for an IP packet, from its version nibble */
function etherTypeOf(ip) {
  return (ip[0] ?? 0) >> 4 === 6 ? etherType.ipv6 : etherType.ipv4;
}

/**
 * An Ethernet header at `offset`.
 * @param {Uint8Array} bytes @param {number} offset @param {number} type EtherType
 * @param {Uint8Array} [destinationMac] default 02:00:00:00:00:02 @param {Uint8Array} [sourceMac] default 02:00:00:00:00:01
 * @returns {number} its length (14)
 */
export function writeEthernetHeader(bytes, offset, type, destinationMac = exampleMacs.second, sourceMac = exampleMacs.first) {
  bytes.set(destinationMac, offset);
  bytes.set(sourceMac, offset + 6);
  put16(bytes, offset + 12, type);
  return 14;
}

/**
 * @typedef {object} VlanTag
 * @property {number} [tpid] 0x8100 (802.1Q, default), 0x88a8 (802.1ad) or 0x9100 (old QinQ)
 * @property {number} vlanId
 * @property {number} [priority] priority code point 0..7
 */

/** @param {readonly VlanTag[]} tags @param {number} innerEtherType @returns {{ firstType: number, bytes: Uint8Array }} */
function vlanTagBytes(tags, innerEtherType) {
  if (tags.length === 0) return { firstType: innerEtherType, bytes: new Uint8Array(0) };
  const bytes = new Uint8Array(tags.length * 4);
  tags.forEach((tag, index) => {
    put16(bytes, index * 4, ((tag.priority ?? 0) << 13) | (tag.vlanId & 0x0fff));
    const next = tags[index + 1];
    put16(bytes, index * 4 + 2, next === undefined ? innerEtherType : (next.tpid ?? etherType.vlan));
  });
  return { firstType: tags[0]?.tpid ?? etherType.vlan, bytes };
}

/**
 * @typedef {object} EthernetOptions
 * @property {readonly VlanTag[]} [vlanTags] outermost first
 * @property {Uint8Array} [sourceMac] default 02:00:00:00:00:01
 * @property {Uint8Array} [destinationMac] default 02:00:00:00:00:02
 * @property {number} [etherType] override the (innermost) EtherType; default from the IP version
 * @property {number} [minimumLength] zero-pad the frame to this many bytes (60: the Ethernet minimum without FCS)
 * @property {Uint8Array} [trailer] bytes after the packet (an FCS, a trailer), before any padding
 */

/** @param {Uint8Array} ip @param {EthernetOptions} [options] @returns {Uint8Array} */
export function ethernetFrame(ip, options = {}) {
  const tags = vlanTagBytes(options.vlanTags ?? [], options.etherType ?? etherTypeOf(ip));
  const header = new Uint8Array(14);
  writeEthernetHeader(header, 0, tags.firstType, options.destinationMac, options.sourceMac);
  const frame = concatBytes([header, tags.bytes, ip, options.trailer ?? new Uint8Array(0)]);
  const minimum = options.minimumLength ?? 0;
  return frame.length >= minimum ? frame : concatBytes([frame, new Uint8Array(minimum - frame.length)]);
}

/** SLL packet types: who the packet was for. */
export const SllPacketType = /** @type {const} */ ({ host: 0, broadcast: 1, multicast: 2, otherHost: 3, outgoing: 4 });

/**
 * @typedef {object} SllOptions
 * @property {number} [packetType] default `outgoing`
 * @property {number} [protocol] override the protocol field; default the EtherType of the IP version
 * @property {readonly VlanTag[]} [vlanTags] tags between the cooked header and the packet (as libpcap re-inserts them)
 * @property {number} [arphrdType] ARPHRD_ type; default 1 (Ethernet)
 */

/** LINUX_SLL (113): 16-byte cooked header, protocol at offset 14. @param {Uint8Array} ip @param {SllOptions} [options] @returns {Uint8Array} */
export function sllFrame(ip, options = {}) {
  const header = new Uint8Array(16);
  put16(header, 0, options.packetType ?? SllPacketType.outgoing);
  put16(header, 2, options.arphrdType ?? 1);
  put16(header, 4, 6);
  header.set(exampleMacs.first, 6);
  const tags = vlanTagBytes(options.vlanTags ?? [], options.protocol ?? etherTypeOf(ip));
  put16(header, 14, tags.firstType);
  return concatBytes([header, tags.bytes, ip]);
}

/** @typedef {SllOptions & { interfaceIndex?: number }} Sll2Options `interfaceIndex` default 2 */

/** LINUX_SLL2 (276, tcpdump -i any): 20-byte header, protocol at offset 0. @param {Uint8Array} ip @param {Sll2Options} [options] @returns {Uint8Array} */
export function sll2Frame(ip, options = {}) {
  const header = new Uint8Array(20);
  const tags = vlanTagBytes(options.vlanTags ?? [], options.protocol ?? etherTypeOf(ip));
  put16(header, 0, tags.firstType);
  put32(header, 4, options.interfaceIndex ?? 2);
  put16(header, 8, options.arphrdType ?? 1);
  header[10] = options.packetType ?? SllPacketType.outgoing;
  header[11] = 6;
  header.set(exampleMacs.first, 12);
  return concatBytes([header, tags.bytes, ip]);
}

/**
 * @typedef {object} NullOptions
 * @property {"little" | "big"} [byteOrder] of the capturing host; default "little" (x86, ARM)
 * @property {number} [family] address family; default 2 (AF_INET) or 30 (macOS AF_INET6) from the IP version
 */

/** NULL (0, BSD loopback): 4-byte address family in the capturing host's byte order. @param {Uint8Array} ip @param {NullOptions} [options] @returns {Uint8Array} */
export function nullFrame(ip, options = {}) {
  const family = options.family ?? ((ip[0] ?? 0) >> 4 === 6 ? 30 : 2);
  const header = new Uint8Array(4);
  put32(header, 0, family, (options.byteOrder ?? "little") === "little");
  return concatBytes([header, ip]);
}

/** LOOP (108, OpenBSD loopback): 4-byte address family in network byte order. @param {Uint8Array} ip @param {{ family?: number }} [options] @returns {Uint8Array} */
export function loopFrame(ip, options = {}) {
  const header = new Uint8Array(4);
  put32(header, 0, options.family ?? ((ip[0] ?? 0) >> 4 === 6 ? 24 : 2));
  return concatBytes([header, ip]);
}

/** RAW (101), IPV4 (228), IPV6 (229): the packet itself. @param {Uint8Array} ip @returns {Uint8Array} */
export function rawFrame(ip) {
  return ip.slice();
}
