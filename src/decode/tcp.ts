import { imdsEndpoints } from "../imds/endpoints.js";
import { readUint16, readUint32 } from "./bytes.js";
import type { IpLayerResult } from "./ip-layer.js";
import type { DecodeRejection } from "./rejection.js";
import type { TcpSegment } from "./segment.js";

const tcpMinimumHeaderBytes = 20;

/**
 * Decodes the TCP header the IP layer located and, if one side is the IMDS endpoint's port,
 * fills every field of `out` except the address strings. `out` is left untouched on rejection.
 * Checksums are not verified: with checksum offload, captured checksums are often wrong.
 */
export function decodeTcp(
  bytes: Uint8Array,
  capturedEnd: number,
  ip: IpLayerResult,
  out: TcpSegment,
): DecodeRejection | undefined {
  const tcp = ip.transportOffset;
  if (tcp + tcpMinimumHeaderBytes > ip.packetEnd) return "framesMalformed";
  if (tcp + tcpMinimumHeaderBytes > capturedEnd) return "framesTruncatedHeaders";

  const sourcePort = readUint16(bytes, tcp);
  const destinationPort = readUint16(bytes, tcp + 2);
  let toServer: boolean;
  if (ip.destinationIsImds && destinationPort === imdsEndpoints.port) toServer = true;
  else if (ip.sourceIsImds && sourcePort === imdsEndpoints.port) toServer = false;
  else return "framesNotImds";

  const headerBytes = (bytes[tcp + 12]! >> 4) * 4;
  if (headerBytes < tcpMinimumHeaderBytes) return "framesMalformed";
  const payloadStart = tcp + headerBytes;
  if (payloadStart > ip.packetEnd) return "framesMalformed";
  if (payloadStart > capturedEnd) return "framesTruncatedHeaders";
  const payloadEnd = Math.min(ip.packetEnd, capturedEnd);

  out.sourcePort = sourcePort;
  out.destinationPort = destinationPort;
  out.toServer = toServer;
  out.sequence = readUint32(bytes, tcp + 4);
  out.acknowledgement = readUint32(bytes, tcp + 8);
  out.flags = bytes[tcp + 13]!;
  out.payload = bytes.subarray(payloadStart, payloadEnd);
  out.missingPayloadBytes = ip.packetEnd - payloadEnd;
  return undefined;
}
