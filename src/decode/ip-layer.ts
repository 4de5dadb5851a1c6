/**
 * What the IPv4 and IPv6 decoders hand to the TCP decoder: offsets into the frame (no copies)
 * and which side is the IMDS endpoint, decided from the address bytes alone.
 */
export interface IpLayerResult {
  /** Offset of the TCP header in the frame. */
  transportOffset: number;
  /**
   * End of the IP packet (frame offset) as its length field says, never past the frame's length
   * on the wire. Bytes after it (Ethernet padding, trailers) are not payload. May exceed the
   * captured bytes when snaplen cut the frame.
   */
  packetEnd: number;
  sourceAddressOffset: number;
  destinationAddressOffset: number;
  sourceIsImds: boolean;
  destinationIsImds: boolean;
}

export function createIpLayerResult(): IpLayerResult {
  return {
    transportOffset: 0,
    packetEnd: 0,
    sourceAddressOffset: 0,
    destinationAddressOffset: 0,
    sourceIsImds: false,
    destinationIsImds: false,
  };
}

export const IpProtocol = {
  hopByHopOptions: 0,
  tcp: 6,
  udp: 17,
  routing: 43,
  fragment: 44,
  encapsulatingSecurityPayload: 50,
  authenticationHeader: 51,
  icmpv6: 58,
  noNextHeader: 59,
  destinationOptions: 60,
  mobility: 135,
  hostIdentity: 139,
  shim6: 140,
  experimental253: 253,
  experimental254: 254,
} as const;
