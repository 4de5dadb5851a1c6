import { readUint16, readUint32 } from "./bytes.js";
import { LinkType } from "./link-types.js";
import { headerPastCapturedBytes, type DecodeRejection } from "./rejection.js";

/** Where the IP packet starts inside a frame, and which IP version the link layer announced. */
export interface LinkLayerResult {
  ipOffset: number;
  ipVersion: 4 | 6;
}

export function createLinkLayerResult(): LinkLayerResult {
  return { ipOffset: 0, ipVersion: 4 };
}

export const EtherType = {
  ipv4: 0x0800,
  ipv6: 0x86dd,
  vlan8021q: 0x8100,
  /** 802.1ad service tag (outer tag of QinQ). */
  vlan8021ad: 0x88a8,
  /** Pre-standard QinQ outer tag some switches still send. */
  vlanQinq: 0x9100,
} as const;

/**
 * Address families of the NULL/LOOP pseudo-header. AF_INET6 differs by OS: 24 on
 * NetBSD/OpenBSD/BSDi, 28 on FreeBSD/DragonFly, 30 on macOS (a capture may come from any).
 */
export const LoopbackFamily = {
  inet: 2,
  inet6Bsd: 24,
  inet6FreeBsd: 28,
  inet6Darwin: 30,
} as const;

const ethernetHeaderBytes = 14;
const ethernetTypeOffset = 12;
const sllHeaderBytes = 16;
const sllProtocolOffset = 14;
const sll2HeaderBytes = 20;
const sll2ProtocolOffset = 0;
const loopbackHeaderBytes = 4;
const vlanTagBytes = 4;
/** More stacked tags than any real network uses (QinQ is 2): beyond this the frame is garbage. */
export const maxVlanTags = 8;

/**
 * Finds the IP packet in the frame `bytes[start, end)` (the captured bytes) of the given link
 * type. Returns `undefined` and fills `out` (offsets into `bytes`) when the frame carries IPv4 or
 * IPv6, otherwise the reason to skip it.
 */
export function decodeLinkLayer(
  bytes: Uint8Array,
  start: number,
  end: number,
  linkType: number,
  snaplenCut: boolean,
  out: LinkLayerResult,
): DecodeRejection | undefined {
  switch (linkType) {
    case LinkType.ethernet:
      if (end - start < ethernetHeaderBytes) return headerPastCapturedBytes(snaplenCut);
      return decodeEtherType(bytes, end, readUint16(bytes, start + ethernetTypeOffset), start + ethernetHeaderBytes, snaplenCut, out);
    case LinkType.linuxSll:
      if (end - start < sllHeaderBytes) return headerPastCapturedBytes(snaplenCut);
      return decodeEtherType(bytes, end, readUint16(bytes, start + sllProtocolOffset), start + sllHeaderBytes, snaplenCut, out);
    case LinkType.linuxSll2:
      if (end - start < sll2HeaderBytes) return headerPastCapturedBytes(snaplenCut);
      return decodeEtherType(bytes, end, readUint16(bytes, start + sll2ProtocolOffset), start + sll2HeaderBytes, snaplenCut, out);
    case LinkType.raw:
    case LinkType.rawBsd12:
    case LinkType.rawOpenBsd14:
      return decodeRawIp(bytes, start, end, snaplenCut, out);
    case LinkType.ipv4:
      out.ipOffset = start;
      out.ipVersion = 4;
      return undefined;
    case LinkType.ipv6:
      out.ipOffset = start;
      out.ipVersion = 6;
      return undefined;
    case LinkType.null: {
      if (end - start < loopbackHeaderBytes) return headerPastCapturedBytes(snaplenCut);
      // Host byte order of the capturing machine: the family is a small number, so if the high
      // half of the big-endian reading is set, the writer was little-endian (libpcap's own test).
      const bigEndian = readUint32(bytes, start);
      const family = (bigEndian & 0xffff0000) !== 0 ? bytes[start]! | (bytes[start + 1]! << 8) : bigEndian;
      return decodeLoopbackFamily(family, start, out);
    }
    case LinkType.loop:
      if (end - start < loopbackHeaderBytes) return headerPastCapturedBytes(snaplenCut);
      return decodeLoopbackFamily(readUint32(bytes, start), start, out);
    default:
      return "framesUnknownLinkType";
  }
}

/**
 * Follows an EtherType (Ethernet type, SLL/SLL2 protocol) through any stack of VLAN tags. A tag
 * sits where the payload would be: 2 bytes TCI, then the next EtherType.
 */
function decodeEtherType(
  bytes: Uint8Array,
  end: number,
  firstEtherType: number,
  firstPayloadOffset: number,
  snaplenCut: boolean,
  out: LinkLayerResult,
): DecodeRejection | undefined {
  let etherType = firstEtherType;
  let payloadOffset = firstPayloadOffset;
  for (let tags = 0; ; tags++) {
    if (etherType === EtherType.ipv4 || etherType === EtherType.ipv6) {
      out.ipOffset = payloadOffset;
      out.ipVersion = etherType === EtherType.ipv4 ? 4 : 6;
      return undefined;
    }
    if (etherType !== EtherType.vlan8021q && etherType !== EtherType.vlan8021ad && etherType !== EtherType.vlanQinq) {
      return "framesNotIp";
    }
    if (tags === maxVlanTags) return "framesMalformed";
    if (payloadOffset + vlanTagBytes > end) return headerPastCapturedBytes(snaplenCut);
    etherType = readUint16(bytes, payloadOffset + 2);
    payloadOffset += vlanTagBytes;
  }
}

/** Raw IP: the version nibble of the first byte says which. */
function decodeRawIp(
  bytes: Uint8Array,
  offset: number,
  end: number,
  snaplenCut: boolean,
  out: LinkLayerResult,
): DecodeRejection | undefined {
  if (offset >= end) return headerPastCapturedBytes(snaplenCut);
  const version = bytes[offset]! >> 4;
  if (version !== 4 && version !== 6) return "framesNotIp";
  out.ipOffset = offset;
  out.ipVersion = version;
  return undefined;
}

function decodeLoopbackFamily(family: number, start: number, out: LinkLayerResult): DecodeRejection | undefined {
  out.ipOffset = start + loopbackHeaderBytes;
  switch (family) {
    case LoopbackFamily.inet:
      out.ipVersion = 4;
      return undefined;
    case LoopbackFamily.inet6Bsd:
    case LoopbackFamily.inet6FreeBsd:
    case LoopbackFamily.inet6Darwin:
      out.ipVersion = 6;
      return undefined;
    default:
      return "framesNotIp";
  }
}
