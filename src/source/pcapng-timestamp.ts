import type { Frame } from "./frame.js";

/** Where a converted timestamp goes (the reused `Frame`, in the reader). */
export type TimestampTarget = Pick<Frame, "timestampSeconds" | "timestampNanos">;

/** The if_tsresol value pcapng assumes when an interface has none: 10^-6 s (microseconds). */
export const defaultTsresol = 6;

const twoPow32 = 4_294_967_296;
/** high * 2^32 + low stays an exact double while high is below this (2^53 / 2^32). */
const exactHighLimit = 0x20_0000;
/** 10^9 / 2^9: lets a binary fraction of up to 32 bits be scaled to nanoseconds exactly. */
const fivePow9 = 1_953_125;

const Method = {
  /** 10^-k with k <= 9: plain double arithmetic (the common µs and ns cases). */
  decimal: 0,
  /** 2^-n with n <= 32: the fraction is the low n bits of the low word. */
  binary: 1,
  /** Anything finer (10^-12, 2^-40...): BigInt, once per frame, rare enough not to matter. */
  bigint: 2,
} as const;
type Method = (typeof Method)[keyof typeof Method];

/**
 * Turns pcapng 64-bit timestamps (units of the interface's if_tsresol since the epoch, given as
 * two 32-bit halves) into whole seconds + nanoseconds, exactly: no float rounding even for
 * nanosecond timestamps, which exceed 2^53. Sub-nanosecond units are truncated toward zero.
 */
export class PcapngTimestampConverter {
  /** Decimal digits of sub-second precision the resolution really has (capped at 9). */
  readonly precisionDigits: number;
  private readonly method: Method;
  /** decimal: units per second (10^k); binary: 2^n. */
  private readonly unitsPerSecond: number;
  /** decimal: nanoseconds per unit (10^(9-k)). */
  private readonly nanosPerUnit: number;
  /** binary: the exponent n. */
  private readonly binaryExponent: number;
  private readonly binary: boolean;
  private readonly offsetSeconds: number;

  /**
   * @param tsresol the if_tsresol byte: high bit clear = 10^-value s, set = 2^-(value & 0x7f) s.
   * @param offsetSeconds if_tsoffset: seconds added to every timestamp of the interface.
   */
  constructor(tsresol: number = defaultTsresol, offsetSeconds = 0) {
    this.offsetSeconds = offsetSeconds;
    const exponent = tsresol & 0x7f;
    const binary = (tsresol & 0x80) !== 0;
    this.binaryExponent = exponent;
    if (binary) {
      this.precisionDigits = Math.min(9, Math.ceil(exponent * Math.log10(2)));
      this.method = exponent <= 32 ? Method.binary : Method.bigint;
      this.unitsPerSecond = 2 ** exponent;
      this.nanosPerUnit = 0;
    } else {
      this.precisionDigits = Math.min(9, exponent);
      this.method = exponent <= 9 ? Method.decimal : Method.bigint;
      this.unitsPerSecond = 10 ** Math.min(exponent, 9);
      this.nanosPerUnit = exponent <= 9 ? 10 ** (9 - exponent) : 0;
    }
    this.binary = binary;
  }

  /** Writes the time of the timestamp `high * 2^32 + low` (both unsigned 32-bit) into `target`. */
  apply(high: number, low: number, target: TimestampTarget): void {
    if (this.method === Method.decimal) {
      const divisor = this.unitsPerSecond;
      let seconds: number;
      let remainder: number;
      if (high < exactHighLimit) {
        // Exact: a quotient just below an integer N is at least 1/divisor below it, while the
        // rounding error of the division is under half an ulp of N < 2^53/divisor, so < 1/divisor.
        const units = high * twoPow32 + low;
        seconds = Math.floor(units / divisor);
        remainder = units - seconds * divisor;
      } else {
        // Long division in 16-bit steps: every intermediate stays below 2^46, so exact.
        const quotientHigh = Math.floor(high / divisor);
        remainder = high - quotientHigh * divisor;
        let current = remainder * 65_536 + (low >>> 16);
        const quotientMid = Math.floor(current / divisor);
        remainder = current - quotientMid * divisor;
        current = remainder * 65_536 + (low & 0xffff);
        const quotientLow = Math.floor(current / divisor);
        remainder = current - quotientLow * divisor;
        seconds = quotientHigh * twoPow32 + quotientMid * 65_536 + quotientLow;
      }
      target.timestampSeconds = seconds + this.offsetSeconds;
      target.timestampNanos = remainder * this.nanosPerUnit;
      return;
    }
    if (this.method === Method.binary) {
      const scale = this.unitsPerSecond;
      const fraction = low % scale;
      target.timestampSeconds = high * (twoPow32 / scale) + (low - fraction) / scale + this.offsetSeconds;
      const exponent = this.binaryExponent;
      target.timestampNanos =
        exponent <= 9
          ? Math.floor((fraction * 1e9) / scale)
          : Math.floor((fraction * fivePow9) / 2 ** (exponent - 9));
      return;
    }
    this.applyBigInt(high, low, target);
  }

  private applyBigInt(high: number, low: number, target: TimestampTarget): void {
    const units = (BigInt(high) << 32n) | BigInt(low);
    const exponent = BigInt(this.binaryExponent);
    let seconds: bigint;
    let nanos: bigint;
    if (this.binary) {
      seconds = units >> exponent;
      nanos = ((units & ((1n << exponent) - 1n)) * 1_000_000_000n) >> exponent;
    } else {
      const divisor = 10n ** exponent;
      seconds = units / divisor;
      nanos = (units % divisor) / 10n ** (exponent - 9n);
    }
    target.timestampSeconds = Number(seconds) + this.offsetSeconds;
    target.timestampNanos = Number(nanos);
  }
}
