import type { CaptureTruncatedError } from "../errors.js";
import type { Frame } from "./frame.js";

export type CaptureFormat = "pcap" | "pcapng";

/**
 * What a capture reader calls. `onFrame` is synchronous and hot: see `Frame` for the
 * reuse contract. `afterBatch` runs after each chunk of input has been turned into frames; when
 * it returns a promise the reader waits for it before reading on, which is how output
 * backpressure (a slow --events file, a paused stdout pipe) reaches the input.
 */
export interface FrameConsumer {
  onFrame(frame: Frame): void;
  afterBatch?: (() => Promise<void> | undefined) | undefined;
}

export interface CaptureReadOptions {
  /** Name used in messages and events (`source`): the path as given, or `-`. */
  readonly path: string;
  /** Called with the count of input bytes consumed so far (compressed bytes for .gz). */
  readonly onProgress?: (bytesConsumed: number) => void;
  /** Warnings (unknown blocks, odd headers) go here; the Diagnostics instance of the run. */
  readonly warn?: (code: string, message: string) => void;
}

export interface CaptureReadResult {
  readonly format: CaptureFormat;
  readonly compressed: boolean;
  readonly frames: number;
  /** Bytes of capture data (after decompression) read. */
  readonly bytes: number;
  /** Link types seen (one per pcap file; per interface for pcapng). */
  readonly linkTypes: readonly number[];
  /** pcapng blocks of types this reader does not use, skipped. */
  readonly unknownBlocksSkipped: number;
  /** Set when the file ends inside a record: everything before it was read. */
  readonly truncated: CaptureTruncatedError | null;
}
