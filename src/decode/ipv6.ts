import { imdsIpv6Bytes } from "../imds/endpoints.js";
import { readUint16 } from "./bytes.js";
import { IpProtocol, type IpLayerResult } from "./ip-layer.js";
import { headerPastCapturedBytes, type DecodeRejection } from "./rejection.js";

const ipv6HeaderBytes = 40;
const sourceAddressOffset = 8;
const destinationAddressOffset = 24;
const fragmentHeaderBytes = 8;
/** Fragment offset (13 bits, in 8-byte units) and the M flag; the 2 reserved bits are ignored. */
const fragmentOffsetAndMoreMask = 0xfff9;
/**
 * A chain longer than this is hostile or broken: the bound keeps a crafted chain from costing
 * more than a few reads (each header is at least 8 bytes, so the packet length bounds it too).
 */
export const maxIpv6ExtensionHeaders = 16;

/** Compares sixteen bytes with fd00:ec2::254; almost all traffic differs at the first byte. */
export function isImdsIpv6At(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) {
    if (bytes[offset + i] !== imdsIpv6Bytes[i]) return false;
  }
  return true;
}

/**
 * Decodes the IPv6 header at `ip` and walks its extension headers to TCP. `capturedEnd` is where
 * the captured bytes end and `wireEnd` where the frame ends on the wire (offsets into `bytes`).
 */
export function decodeIpv6(
  bytes: Uint8Array,
  ip: number,
  capturedEnd: number,
  wireEnd: number,
  snaplenCut: boolean,
  out: IpLayerResult,
): DecodeRejection | undefined {
  if (ip + ipv6HeaderBytes > capturedEnd) return headerPastCapturedBytes(snaplenCut);
  if (bytes[ip]! >> 4 !== 6) return "framesMalformed";

  const sourceIsImds = isImdsIpv6At(bytes, ip + sourceAddressOffset);
  const destinationIsImds = isImdsIpv6At(bytes, ip + destinationAddressOffset);
  if (!sourceIsImds && !destinationIsImds) return "framesNotImds";

  const payloadLength = readUint16(bytes, ip + 4);
  // 0 means a jumbogram (length in a hop-by-hop option): never valid on a link with IMDS.
  if (payloadLength === 0) return "framesMalformed";
  const packetEnd = Math.min(ip + ipv6HeaderBytes + payloadLength, wireEnd);

  let nextHeader = bytes[ip + 6]!;
  let offset = ip + ipv6HeaderBytes;
  for (let headersWalked = 0; nextHeader !== IpProtocol.tcp; headersWalked++) {
    if (headersWalked === maxIpv6ExtensionHeaders) return "framesMalformed";
    // Every extension header starts with next-header and a length byte.
    if (offset + 2 > packetEnd) return "framesMalformed";
    if (offset + 2 > capturedEnd) return "framesTruncatedHeaders";
    let headerBytes: number;
    switch (nextHeader) {
      case IpProtocol.hopByHopOptions:
      case IpProtocol.routing:
      case IpProtocol.destinationOptions:
      case IpProtocol.mobility:
      case IpProtocol.hostIdentity:
      case IpProtocol.shim6:
      case IpProtocol.experimental253:
      case IpProtocol.experimental254:
        headerBytes = (bytes[offset + 1]! + 1) * 8;
        break;
      case IpProtocol.fragment:
        headerBytes = fragmentHeaderBytes;
        break;
      case IpProtocol.authenticationHeader:
        headerBytes = (bytes[offset + 1]! + 2) * 4;
        break;
      default:
        // ESP (encrypted: nothing after it is readable), no-next-header, UDP, ICMPv6, ...
        return "framesNotTcp";
    }
    if (offset + headerBytes > packetEnd) return "framesMalformed";
    if (offset + headerBytes > capturedEnd) return "framesTruncatedHeaders";
    // An atomic fragment (offset 0, M=0, RFC 6946) is a whole packet and is decoded.
    if (nextHeader === IpProtocol.fragment && (readUint16(bytes, offset + 2) & fragmentOffsetAndMoreMask) !== 0) {
      return "ipFragmentsSkipped";
    }
    nextHeader = bytes[offset]!;
    offset += headerBytes;
  }

  out.transportOffset = offset;
  out.packetEnd = packetEnd;
  out.sourceAddressOffset = ip + sourceAddressOffset;
  out.destinationAddressOffset = ip + destinationAddressOffset;
  out.sourceIsImds = sourceIsImds;
  out.destinationIsImds = destinationIsImds;
  return undefined;
}
