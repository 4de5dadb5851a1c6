import type { CaptureTruncatedError } from "../errors.js";
import type { CaptureFormat } from "./types.js";

/**
 * A synchronous parser for one capture format. The `ChunkedRecordReader` hands it input in
 * whatever pieces the stream delivers; the parser consumes whole records only and says how many
 * bytes it needs to make progress on the one it stopped at.
 */
export interface RecordParser {
  readonly format: CaptureFormat;
  /**
   * Parses every complete record in `bytes[start, end)` and returns the index of the first byte
   * it did not consume (the start of an incomplete record, or `end`). `view` is a DataView over
   * the same memory as `bytes`, with the same indexing; `baseOffset` is the stream offset of
   * `bytes[0]`. Throws CaptureFormatError when the input is not a valid capture.
   */
  parse(bytes: Uint8Array, view: DataView, start: number, end: number, baseOffset: number): number;
  /**
   * After `parse` stopped before `end`: the number of bytes, from the start of the incomplete
   * record, that it needs to see next time: the whole record when its header was complete, else
   * just enough to read the header (which then says how long the record is).
   */
  readonly pendingLength: number;
  /**
   * The input ended with `leftoverBytes` bytes of an incomplete record starting at stream offset
   * `leftoverOffset` (0 bytes: it ended cleanly). Returns the truncation to report, or null;
   * throws CaptureFormatError when the file ended before anything usable (inside a file header).
   */
  endOfInput(leftoverBytes: number, leftoverOffset: number): CaptureTruncatedError | null;
  readonly frames: number;
  readonly unknownBlocksSkipped: number;
  /** Distinct link types in the order first seen. */
  readonly linkTypes: readonly number[];
}
