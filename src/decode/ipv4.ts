import { imdsIpv4Bytes } from "../imds/endpoints.js";
import { readUint16 } from "./bytes.js";
import { IpProtocol, type IpLayerResult } from "./ip-layer.js";
import { headerPastCapturedBytes, type DecodeRejection } from "./rejection.js";

const ipv4MinimumHeaderBytes = 20;
const sourceAddressOffset = 12;
const destinationAddressOffset = 16;
/** More-fragments flag and 13-bit fragment offset; DF (0x4000) alone is not a fragment. */
const fragmentMask = 0x3fff;

/** Compares four bytes with 169.254.169.254 without building a string. */
export function isImdsIpv4At(bytes: Uint8Array, offset: number): boolean {
  return (
    bytes[offset] === imdsIpv4Bytes[0] &&
    bytes[offset + 1] === imdsIpv4Bytes[1] &&
    bytes[offset + 2] === imdsIpv4Bytes[2] &&
    bytes[offset + 3] === imdsIpv4Bytes[3]
  );
}

/**
 * Decodes the IPv4 header at `ip`. `capturedEnd` is where the captured bytes end and `wireEnd`
 * where the frame ends on the wire (offsets into `bytes`; they differ when snaplen cut it).
 * Checks run cheapest-rejection-first: once the fixed header is captured, a packet that is not
 * to or from IMDS is dropped before anything else is looked at.
 */
export function decodeIpv4(
  bytes: Uint8Array,
  ip: number,
  capturedEnd: number,
  wireEnd: number,
  snaplenCut: boolean,
  out: IpLayerResult,
): DecodeRejection | undefined {
  if (ip + ipv4MinimumHeaderBytes > capturedEnd) return headerPastCapturedBytes(snaplenCut);
  const versionAndHeaderLength = bytes[ip]!;
  if (versionAndHeaderLength >> 4 !== 4) return "framesMalformed";

  const sourceIsImds = isImdsIpv4At(bytes, ip + sourceAddressOffset);
  const destinationIsImds = isImdsIpv4At(bytes, ip + destinationAddressOffset);
  if (!sourceIsImds && !destinationIsImds) return "framesNotImds";

  const headerBytes = (versionAndHeaderLength & 0x0f) * 4;
  if (headerBytes < ipv4MinimumHeaderBytes) return "framesMalformed";
  const totalLength = readUint16(bytes, ip + 2);
  let packetEnd: number;
  if (totalLength === 0) {
    // Segmentation offload: Linux hands captures of not-yet-segmented TSO packets to libpcap
    // with total length 0 (Wireshark's "TSO support"); the frame's length is the packet's.
    packetEnd = wireEnd;
  } else {
    if (totalLength < headerBytes) return "framesMalformed";
    // Trust the smaller: a length beyond the frame cannot be right, padding after it is not data.
    packetEnd = Math.min(ip + totalLength, wireEnd);
  }
  if (ip + headerBytes > packetEnd) return "framesMalformed";

  if ((readUint16(bytes, ip + 6) & fragmentMask) !== 0) return "ipFragmentsSkipped";
  if (ip + headerBytes > capturedEnd) return "framesTruncatedHeaders";
  if (bytes[ip + 9] !== IpProtocol.tcp) return "framesNotTcp";

  out.transportOffset = ip + headerBytes;
  out.packetEnd = packetEnd;
  out.sourceAddressOffset = ip + sourceAddressOffset;
  out.destinationAddressOffset = ip + destinationAddressOffset;
  out.sourceIsImds = sourceIsImds;
  out.destinationIsImds = destinationIsImds;
  return undefined;
}
