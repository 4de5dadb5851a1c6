import { describe, expect, it } from "vitest";
import { PcapngTimestampConverter } from "../../src/source/pcapng-timestamp.js";

function convert(tsresol: number, units: bigint, offsetSeconds = 0): [number, number] {
  const target = { timestampSeconds: -1, timestampNanos: -1 };
  const converter = new PcapngTimestampConverter(tsresol, offsetSeconds);
  converter.apply(Number(units >> 32n), Number(units & 0xffffffffn), target);
  return [target.timestampSeconds, target.timestampNanos];
}

/** The exact answer, by BigInt: seconds and truncated nanoseconds. */
function reference(tsresol: number, units: bigint): [number, number] {
  const exponent = BigInt(tsresol & 0x7f);
  const perSecond = (tsresol & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
  return [Number(units / perSecond), Number(((units % perSecond) * 1_000_000_000n) / perSecond)];
}

/** Deterministic 64-bit values (xorshift), so a failure reproduces. */
function* pseudoRandomUnits(count: number, maxBits: bigint): Generator<bigint> {
  let state = 0x9e3779b97f4a7c15n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < count; i++) {
    state ^= (state << 13n) & mask;
    state ^= state >> 7n;
    state ^= (state << 17n) & mask;
    yield state & ((1n << maxBits) - 1n);
  }
}

describe("PcapngTimestampConverter", () => {
  it("defaults to microseconds", () => {
    const converter = new PcapngTimestampConverter();
    const target = { timestampSeconds: 0, timestampNanos: 0 };
    converter.apply(0x0006_0a5e, 0x1234_5678, target); // 1_700_000_000_123_456 µs, near 2023-11-14
    const units = (0x0006_0a5en << 32n) | 0x1234_5678n;
    expect([target.timestampSeconds, target.timestampNanos]).toEqual(reference(6, units));
    expect(converter.precisionDigits).toBe(6);
  });

  it("converts microseconds and nanoseconds exactly at realistic times", () => {
    expect(convert(6, 1_700_000_000_123_456n)).toEqual([1_700_000_000, 123_456_000]);
    // 1.7e18 ns is far beyond 2^53: doubles would lose the last digits.
    expect(convert(9, 1_700_000_000_123_456_789n)).toEqual([1_700_000_000, 123_456_789]);
    expect(convert(9, 1_700_000_000_999_999_999n)).toEqual([1_700_000_000, 999_999_999]);
    expect(convert(9, 1_700_000_001_000_000_000n)).toEqual([1_700_000_001, 0]);
    expect(convert(6, 1_700_000_000_999_999n)).toEqual([1_700_000_000, 999_999_000]);
  });

  it("converts milliseconds, seconds and 10^-12 (BigInt path)", () => {
    expect(convert(3, 1_700_000_000_123n)).toEqual([1_700_000_000, 123_000_000]);
    expect(convert(0, 1_700_000_000n)).toEqual([1_700_000_000, 0]);
    expect(convert(12, 1_700_000_000_123_456_789_123n & ((1n << 64n) - 1n))).toEqual(
      reference(12, 1_700_000_000_123_456_789_123n & ((1n << 64n) - 1n)),
    );
    expect(convert(12, 5_123_456_789_999n)).toEqual([5, 123_456_789]);
  });

  it("converts binary resolutions, truncating below a nanosecond", () => {
    // 2^-10 s: 1 unit = 976,562.5 ns.
    expect(convert(0x80 | 10, (1_700_000_000n << 10n) | 1n)).toEqual([1_700_000_000, 976_562]);
    expect(convert(0x80 | 10, (1_700_000_000n << 10n) | 1023n)).toEqual([1_700_000_000, 999_023_437]);
    expect(convert(0x80 | 0, 1_700_000_000n)).toEqual([1_700_000_000, 0]);
    expect(convert(0x80 | 1, (1_700_000_000n << 1n) | 1n)).toEqual([1_700_000_000, 500_000_000]);
    expect(convert(0x80 | 32, (1_700_000_000n << 32n) | 0x8000_0000n)).toEqual([1_700_000_000, 500_000_000]);
    expect(convert(0x80 | 40, (1_000n << 40n) | (1n << 39n))).toEqual([1000, 500_000_000]);
  });

  it("matches BigInt arithmetic for every supported resolution over random 64-bit values", () => {
    const resolutions = [0, 1, 3, 6, 7, 9, 10, 12, 0x80, 0x80 | 3, 0x80 | 9, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 32, 0x80 | 33, 0x80 | 60];
    for (const tsresol of resolutions) {
      for (const bits of [40n, 53n, 60n, 64n]) {
        for (const units of pseudoRandomUnits(300, bits)) {
          expect(convert(tsresol, units), `tsresol ${tsresol} units ${units}`).toEqual(reference(tsresol, units));
        }
      }
    }
  });

  it("is exact next to every second boundary in the double-precision fast path", () => {
    for (const tsresol of [6, 9, 3]) {
      const perSecond = 10n ** BigInt(tsresol);
      for (const seconds of [0n, 1n, 1_700_000_000n, 4_000_000_000n, 9_000_000_000n]) {
        for (const delta of [-1n, 0n, 1n]) {
          const units = seconds * perSecond + delta;
          if (units < 0n || units >= 1n << 64n) continue;
          expect(convert(tsresol, units)).toEqual(reference(tsresol, units));
        }
      }
    }
  });

  it("adds if_tsoffset seconds", () => {
    expect(convert(6, 1_500_000n, 1_700_000_000)).toEqual([1_700_000_001, 500_000_000]);
    expect(convert(0x80 | 40, 1n << 40n, 100)).toEqual([101, 0]);
  });

  it("reports the decimal precision a resolution really has", () => {
    const digits = (tsresol: number): number => new PcapngTimestampConverter(tsresol).precisionDigits;
    expect([digits(0), digits(3), digits(6), digits(9), digits(12)]).toEqual([0, 3, 6, 9, 9]);
    // 2^-n resolves ceil(n * log10 2) decimal digits.
    expect([digits(0x80), digits(0x80 | 1), digits(0x80 | 10), digits(0x80 | 20), digits(0x80 | 30), digits(0x80 | 40)]).toEqual([
      0, 1, 4, 7, 9, 9,
    ]);
  });
});
