import type { CaptureFrame } from "../../src/wire-format/pcap-file.mjs";

/** Deterministic bytes: a recognisable pattern per frame, so a mix-up shows. */
export function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/**
 * Frames of awkward lengths (0, 1, not multiples of 4, a jumbo frame) and timestamps that test
 * the nanosecond digits; all Ethernet.
 */
export function sampleFrames(linkType = 1): CaptureFrame[] {
  return [
    { linkType, timestampSeconds: 1_700_000_000, timestampNanos: 123_456_789, bytes: pattern(60, 1) },
    { linkType, timestampSeconds: 1_700_000_000, timestampNanos: 999_999_999, bytes: pattern(61, 2), originalLength: 1514 },
    { linkType, timestampSeconds: 1_700_000_001, timestampNanos: 0, bytes: pattern(0, 3) },
    { linkType, timestampSeconds: 1_700_000_002, timestampNanos: 1000, bytes: pattern(1, 4), originalLength: 5 },
    { linkType, timestampSeconds: 0, timestampNanos: 1, bytes: pattern(9000, 5) },
    { linkType, timestampSeconds: 4_294_967_295, timestampNanos: 500_000_000, bytes: pattern(3, 6) },
  ];
}

/** A smaller set for tests that read a file thousands of times (split/truncate at every byte). */
export function smallFrames(linkType = 1): CaptureFrame[] {
  return [
    { linkType, timestampSeconds: 1_700_000_000, timestampNanos: 123_456_789, bytes: pattern(14, 1) },
    { linkType, timestampSeconds: 1_700_000_000, timestampNanos: 999_999_999, bytes: pattern(5, 2), originalLength: 70 },
    { linkType, timestampSeconds: 1_700_000_001, timestampNanos: 0, bytes: pattern(0, 3) },
    { linkType, timestampSeconds: 1_700_000_002, timestampNanos: 1000, bytes: pattern(23, 4) },
  ];
}

/** What a reader should report for `frame` at a given precision (truncating the nanoseconds). */
export function expectedNanos(nanos: number, digits: number): number {
  const unit = 10 ** (9 - digits);
  return Math.floor(nanos / unit) * unit;
}
