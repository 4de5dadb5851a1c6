/**
 * A TCP segment to or from an IMDS endpoint, as the decoder hands it to the reassembler.
 * Like `Frame`, one object is reused for every segment and `payload` is a view into the frame:
 * both are valid only during the call that receives them.
 */
export interface TcpSegment {
  ipVersion: 4 | 6;
  /** Text form of the addresses ("169.254.169.254", "fd00:ec2::254"), RFC 5952 for IPv6. */
  sourceAddress: string;
  destinationAddress: string;
  sourcePort: number;
  destinationPort: number;
  /** True when the destination is the IMDS endpoint (client -> server direction). */
  toServer: boolean;
  /** Sequence and acknowledgement numbers, unsigned 32-bit. */
  sequence: number;
  acknowledgement: number;
  /** TCP flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20). */
  flags: number;
  /** The captured part of the TCP payload. */
  payload: Uint8Array;
  /**
   * Payload bytes the IP header says exist but the capture does not hold (snaplen cut). The
   * reassembler turns them into a gap instead of pretending the stream is whole.
   */
  missingPayloadBytes: number;
}

export const TcpFlag = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
} as const;

export function createTcpSegment(): TcpSegment {
  return {
    ipVersion: 4,
    sourceAddress: "",
    destinationAddress: "",
    sourcePort: 0,
    destinationPort: 0,
    toServer: true,
    sequence: 0,
    acknowledgement: 0,
    flags: 0,
    payload: new Uint8Array(0),
    missingPayloadBytes: 0,
  };
}
