/**
 * The Instance Metadata Service endpoints. A call is an IMDS call by its destination address and
 * port, never by the Host header (which may be a name or anything the client chose).
 */
export const imdsEndpoints = {
  ipv4Address: "169.254.169.254",
  ipv6Address: "fd00:ec2::254",
  port: 80,
} as const;

/** The IPv4 endpoint as four bytes, for matching without building strings. */
export const imdsIpv4Bytes = [169, 254, 169, 254] as const;

/** fd00:ec2::254 as sixteen bytes. */
export const imdsIpv6Bytes = [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54] as const;

/** libpcap filter that keeps only IMDS traffic, both directions (tcpdump, live capture). */
export const imdsCaptureFilter =
  "(host 169.254.169.254 or host fd00:ec2::254) and tcp port 80";

export function isImdsEndpoint(address: string, port: number): boolean {
  return port === imdsEndpoints.port && (address === imdsEndpoints.ipv4Address || address === imdsEndpoints.ipv6Address);
}
