/**
 * TCP sequence arithmetic modulo 2^32 (RFC 793 / RFC 1982 style, as gopacket's `Sequence.Difference`).
 *
 * The reassembler converts every sequence number to a stream offset (a plain JS number counted
 * from the start of the direction) with `sequenceDifference`, so the wrap at 2^32 is handled in
 * exactly one place and queues compare ordinary numbers.
 */

/**
 * Signed distance from `from` to `to` in sequence space: positive when `to` is after `from`.
 * Correct across the 2^32 wrap as long as the two are less than 2^31 apart.
 */
export function sequenceDifference(from: number, to: number): number {
  return (to - from) | 0;
}

/** `sequence + amount` modulo 2^32 (unsigned). `amount` may exceed 2^32 (up to 2^53). */
export function sequenceAdd(sequence: number, amount: number): number {
  return (sequence + amount) >>> 0; // ToUint32 is exact modulo 2^32 for integers below 2^53
}
