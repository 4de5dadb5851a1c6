/**
 * Size limits of the capture readers. A record or block beyond them is treated as corruption: a
 * reader cannot trust a length field that large, and honouring it would let one bad file make us
 * buffer gigabytes. They also bound the one buffer a reader keeps (the partial record carried
 * from one input chunk to the next).
 */
export const captureLimits = {
  /**
   * A frame this long is always accepted, whatever snaplen the file header claims: headers often
   * say 65535 while loopback/GSO frames are larger, and many files say 262144.
   */
  minCaptureLengthLimitBytes: 256 * 1024,
  /** No frame is accepted above this, whatever the header says (Wireshark's limit for pcapng). */
  maxCaptureLengthBytes: 16 * 1024 * 1024,
  /** Any pcapng block (a packet plus its options, or a secrets/name block) above this is corrupt. */
  maxBlockBytes: 16 * 1024 * 1024 + 64 * 1024,
  /** Interfaces in one pcapng section; each costs a small object, so hostile input is bounded. */
  maxInterfacesPerSection: 65_536,
  /** Distinct unknown pcapng block types that get their own warning (the rest are only counted). */
  maxUnknownBlockTypesWarned: 16,
} as const;

/**
 * The largest captured length accepted for an interface or file whose header says `snaplen`:
 * snaplen if it is large, else the floor, and never above the hard cap.
 */
export function captureLengthLimit(snaplen: number): number {
  return Math.min(Math.max(snaplen, captureLimits.minCaptureLengthLimitBytes), captureLimits.maxCaptureLengthBytes);
}
