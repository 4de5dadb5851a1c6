import type { HttpBodySink } from "./types.js";

/**
 * Collects one message body up to `maxBytes`, for the rare response whose content matters (the
 * HTTP parsers otherwise skip bodies unread). The buffer starts small (an instance id is 19
 * bytes) and doubles up to `maxBytes`; a body longer than the limit, or one that lost bytes, is
 * given up (null).
 */
export class BoundedBodyCollector implements HttpBodySink {
  private buffer: Uint8Array = noBytes;
  private length = 0;
  private overflowed = false;

  /**
   * `onComplete` gets the body (a view valid only during the call: the buffer is wiped right
   * after, since a body may hold data that must not linger), or null when it was incomplete or
   * longer than `maxBytes`.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly onComplete: (body: Uint8Array | null) => void,
  ) {}

  onBodyData(bytes: Uint8Array, start: number, end: number): void {
    if (this.overflowed) return;
    const count = end - start;
    const needed = this.length + count;
    if (needed > this.maxBytes) {
      this.overflowed = true;
      return;
    }
    if (needed > this.buffer.length) this.grow(needed);
    this.buffer.set(bytes.subarray(start, end), this.length);
    this.length += count;
  }

  onBodyEnd(complete: boolean): void {
    const body = complete && !this.overflowed ? this.buffer.subarray(0, this.length) : null;
    try {
      this.onComplete(body);
    } finally {
      this.buffer.fill(0, 0, this.length);
      this.length = 0;
    }
  }

  private grow(needed: number): void {
    let capacity = Math.max(this.buffer.length * 2, initialCapacityBytes);
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.maxBytes));
    grown.set(this.buffer.subarray(0, this.length));
    // The old buffer held body bytes: wipe it rather than leave them for the collector.
    this.buffer.fill(0);
    this.buffer = grown;
  }
}

const noBytes = new Uint8Array(0);
/** Enough for an instance id, the usual body, in one allocation. */
const initialCapacityBytes = 64;
