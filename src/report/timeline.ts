/** Buckets per caller timeline: enough for a readable strip, small enough for 50,000 callers. */
export const timelineBucketCount = 48;
/** Width of a bucket before the first widening. */
const initialBucketMs = 1000;
/** Doubling 64 times covers any time a Date can hold; shifts and widenings together stay below this. */
const maxAttempts = 130;

/** A caller's calls over time, as the report holds them (empty buckets at both ends removed). */
export interface TimelineSnapshot {
  /** ISO-8601 start of the first bucket. */
  readonly start: string;
  readonly bucketSeconds: number;
  readonly v1: readonly number[];
  /** IMDSv2 calls and token requests. */
  readonly v2: readonly number[];
}

/**
 * A fixed-size histogram of v1 and v2 calls. A call outside the buckets moves them (when the
 * span still fits) or doubles their width (buckets stay aligned to multiples of the width since
 * the epoch): memory stays constant however long the window, and the result is the same in
 * whatever order the calls arrive (files of a host may be given in any order).
 */
export class CallTimeline {
  private bucketMs = initialBucketMs;
  /** Start of bucket 0, a multiple of `bucketMs`; NaN until the first call. */
  private anchorMs = Number.NaN;
  private readonly v1: Float64Array;
  private readonly v2: Float64Array;

  /** `bucketCount`: the per-caller default, or more for the fleet's chart. */
  constructor(private readonly bucketCount = timelineBucketCount) {
    this.v1 = new Float64Array(bucketCount);
    this.v2 = new Float64Array(bucketCount);
  }

  add(timeMs: number, isV1: boolean): void {
    this.addCount(timeMs, isV1, 1);
  }

  private addCount(timeMs: number, isV1: boolean, count: number): void {
    if (!Number.isFinite(timeMs)) return;
    if (Number.isNaN(this.anchorMs)) this.anchorMs = Math.floor(timeMs / this.bucketMs) * this.bucketMs;
    // Bounded even if float rounding at absurd times kept a shift from covering the call.
    for (let attempts = 0; !this.covers(timeMs) && attempts < maxAttempts; attempts++) {
      if (!this.shiftToCover(timeMs)) this.widen();
    }
    if (!this.covers(timeMs)) return;
    const index = Math.floor((timeMs - this.anchorMs) / this.bucketMs);
    (isV1 ? this.v1 : this.v2)[index]! += count;
  }

  /** Adds another timeline's counts, each bucket's at its start time (the other is unchanged). */
  absorb(other: CallTimeline): void {
    if (Number.isNaN(other.anchorMs)) return;
    for (let index = 0; index < other.bucketCount; index++) {
      const v1 = other.v1[index]!;
      const v2 = other.v2[index]!;
      if (v1 === 0 && v2 === 0) continue;
      const timeMs = other.anchorMs + index * other.bucketMs;
      if (v1 > 0) this.addCount(timeMs, true, v1);
      if (v2 > 0) this.addCount(timeMs, false, v2);
    }
  }

  private covers(timeMs: number): boolean {
    return timeMs >= this.anchorMs && timeMs < this.anchorMs + this.bucketCount * this.bucketMs;
  }

  /**
   * Moves the buckets (same width) so that `timeMs` fits with every counted call, when the span
   * allows. Only widening when the span needs it makes the final width depend on the earliest
   * and latest call alone, so the buckets are the same whatever the order of the calls.
   */
  private shiftToCover(timeMs: number): boolean {
    let first = -1;
    let last = -1;
    for (let index = 0; index < this.bucketCount; index++) {
      if (this.v1[index] === 0 && this.v2[index] === 0) continue;
      if (first < 0) first = index;
      last = index;
    }
    const target = Math.floor((timeMs - this.anchorMs) / this.bucketMs);
    const low = first < 0 ? target : Math.min(first, target);
    const high = first < 0 ? target : Math.max(last, target);
    if (high - low >= this.bucketCount) return false;
    // The new bucket 0: as far left as needed for `timeMs`, or as far right as needed.
    const shift = target < 0 ? low : high - (this.bucketCount - 1);
    for (const counts of [this.v1, this.v2]) {
      if (shift > 0) counts.copyWithin(0, shift);
      else counts.copyWithin(-shift, 0, this.bucketCount + shift);
      if (shift > 0) counts.fill(0, this.bucketCount - shift);
      else counts.fill(0, 0, -shift);
    }
    this.anchorMs += shift * this.bucketMs;
    return true;
  }

  private widen(): void {
    const widerMs = this.bucketMs * 2;
    const widerAnchorMs = Math.floor(this.anchorMs / widerMs) * widerMs;
    // Each old bucket moves to an index no greater than its own, so one ascending pass suffices.
    for (const counts of [this.v1, this.v2]) {
      for (let index = 0; index < this.bucketCount; index++) {
        const count = counts[index]!;
        if (count === 0) continue;
        counts[index] = 0;
        const target = Math.floor((this.anchorMs + index * this.bucketMs - widerAnchorMs) / widerMs);
        counts[target]! += count;
      }
    }
    this.bucketMs = widerMs;
    this.anchorMs = widerAnchorMs;
  }

  snapshot(): TimelineSnapshot | null {
    let first = -1;
    let last = -1;
    for (let index = 0; index < this.bucketCount; index++) {
      if (this.v1[index] === 0 && this.v2[index] === 0) continue;
      if (first < 0) first = index;
      last = index;
    }
    if (first < 0) return null;
    return {
      start: isoTime(this.anchorMs + first * this.bucketMs),
      bucketSeconds: this.bucketMs / 1000,
      v1: Array.from(this.v1.subarray(first, last + 1)),
      v2: Array.from(this.v2.subarray(first, last + 1)),
    };
  }
}

/** Largest time a Date can hold (ECMAScript: 8.64e15 ms either side of the epoch). */
const maxDateMs = 8.64e15;

/** ISO-8601 text of a time, clamped to what a Date can hold (hostile times must not throw). */
export function isoTime(timeMs: number): string {
  return new Date(Math.min(maxDateMs, Math.max(-maxDateMs, timeMs))).toISOString();
}
