import type { CaptureTruncatedError } from "../errors.js";
import { captureLimits } from "./limits.js";
import type { RecordParser } from "./record-parser.js";

/** Smallest carry buffer allocated: most records that straddle two chunks fit in it. */
const minCarryBytes = 64 * 1024;

/**
 * Feeds a stream of chunks to a `RecordParser` without ever joining chunks: records that lie
 * inside a chunk are parsed in place, and only the one record that straddles a chunk boundary is
 * copied, into a reused carry buffer that holds at most one record (bounded by the parser's
 * length checks). Cost is linear in the input however it is split, down to 1-byte chunks.
 */
export class ChunkedRecordReader {
  /** Stream offset just past the last byte pushed: the bytes read so far. */
  bytesPushed = 0;
  private carry = new Uint8Array(0);
  private carryView = new DataView(this.carry.buffer);
  private carryLength = 0;
  /** Stream offset of carry[0]. */
  private carryOffset = 0;
  /** Views of the last chunk pushed, kept for the next push of the same (reused) buffer. */
  private lastBytes: Uint8Array = new Uint8Array(0);
  private lastView = new DataView(this.lastBytes.buffer);

  constructor(readonly parser: RecordParser) {}

  /** Parses every record the chunk completes. The chunk may be reused by the caller afterwards. */
  push(chunk: Uint8Array): void {
    const length = chunk.byteLength;
    const chunkOffset = this.bytesPushed;
    this.bytesPushed += length;
    // A plain Uint8Array view (not a Buffer subclass) so frames carry plain views; the same
    // reused read buffer keeps its views (no two objects per chunk).
    let bytes = this.lastBytes;
    let view = this.lastView;
    if (bytes.buffer !== chunk.buffer || bytes.byteOffset !== chunk.byteOffset || bytes.length !== length) {
      bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, length);
      view = new DataView(bytes.buffer, bytes.byteOffset, length);
      this.lastBytes = bytes;
      this.lastView = view;
    }
    let position = 0;

    while (this.carryLength > 0) {
      const needed = this.parser.pendingLength;
      this.reserveCarry(needed);
      const take = Math.min(needed - this.carryLength, length - position);
      this.carry.set(bytes.subarray(position, position + take), this.carryLength);
      this.carryLength += take;
      position += take;
      if (this.carryLength < needed) return; // the chunk ran out first
      const consumed = this.parser.parse(this.carry, this.carryView, 0, this.carryLength, this.carryOffset);
      if (consumed === this.carryLength) {
        this.carryLength = 0;
      } else if (consumed !== 0 || this.parser.pendingLength <= this.carryLength) {
        // The carry only ever holds one record or one record's header: a parser that neither
        // consumes it nor asks for more would loop forever.
        throw new Error(`record parser made no progress at stream offset ${this.carryOffset}`);
      }
    }
    if (position === length) return;

    const stop = this.parser.parse(bytes, view, position, length, chunkOffset);
    if (stop < length) {
      this.reserveCarry(Math.max(this.parser.pendingLength, length - stop));
      this.carry.set(bytes.subarray(stop, length), 0);
      this.carryLength = length - stop;
      this.carryOffset = chunkOffset + stop;
    }
  }

  /** The input has ended: what the parser makes of any incomplete record left over. */
  finish(): CaptureTruncatedError | null {
    return this.parser.endOfInput(this.carryLength, this.carryOffset);
  }

  private reserveCarry(needed: number): void {
    if (needed <= this.carry.length) return;
    // Doubling keeps copies amortised; the parsers' limits bound `needed`, and so the carry.
    const capacity = Math.max(needed, minCarryBytes, Math.min(this.carry.length * 2, captureLimits.maxBlockBytes));
    const grown = new Uint8Array(capacity);
    grown.set(this.carry.subarray(0, this.carryLength));
    this.carry = grown;
    this.carryView = new DataView(grown.buffer);
  }
}
