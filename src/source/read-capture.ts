import { CaptureFormatError, CaptureTruncatedError } from "../errors.js";
import type { CapturePosition } from "../errors.js";
import type { CaptureInput } from "./capture-input.js";
import { ChunkedRecordReader } from "./chunked-record-reader.js";
import { peek } from "./chunk-source.js";
import type { ChunkSource } from "./chunk-source.js";
import { FileChunkSource } from "./file-chunk-source.js";
import { CompressedDataError, GunzipChunkSource } from "./gunzip-chunk-source.js";
import { PcapParser } from "./pcap.js";
import { PcapngParser } from "./pcapng.js";
import type { RecordParser } from "./record-parser.js";
import { describeMagic, sniffBytes, sniffFormat } from "./sniff.js";
import { StreamChunkSource } from "./stream-chunk-source.js";
import type { CaptureFormat, CaptureReadOptions, CaptureReadResult, FrameConsumer } from "./types.js";

/**
 * Reads a pcap or pcapng capture (optionally gzip-compressed) and calls `consumer.onFrame` for
 * every frame, in file order. Memory stays bounded whatever the file size: only a record that
 * straddles two chunks is copied. After each chunk the consumer's `afterBatch` is awaited when it
 * returns a promise, so a slow output slows the reading.
 *
 * This file only tells the formats apart and drives the record parsers; the bytes come from a
 * `ChunkSource`: a file (file-chunk-source.ts), a stream (stream-chunk-source.ts), or gzip over
 * either (gunzip-chunk-source.ts).
 *
 * Throws CaptureFormatError (not a capture, corrupt lengths: the file cannot be read on) or
 * InputError (the input failed); errors thrown by the consumer pass through unchanged. A file that
 * ends inside a record is not an error: the result's `truncated` says where it ended.
 */
export async function readCapture(
  input: CaptureInput,
  consumer: FrameConsumer,
  options: CaptureReadOptions,
): Promise<CaptureReadResult> {
  const source = input.kind === "file" ? new FileChunkSource(input.file) : new StreamChunkSource(input.chunks, options.path);
  try {
    const head = await peek(source);
    if (head.length === 0) throw new CaptureFormatError(startOf(options.path), "empty file");
    const format = sniffFormat(head);
    if (format === "gzip") return await readGzipCapture(source, consumer, options);
    if (head.length < sniffBytes) throw tooShort(head, options.path, "");
    if (format === null) throw notACapture(head, options.path, "");
    source.reuseChunks();
    return await readRecords(format, source, consumer, options, false);
  } finally {
    await source.close();
  }
}

async function readGzipCapture(
  compressed: ChunkSource,
  consumer: FrameConsumer,
  options: CaptureReadOptions,
): Promise<CaptureReadResult> {
  const source = new GunzipChunkSource(compressed);
  try {
    let head: Uint8Array;
    try {
      head = await peek(source);
    } catch (error) {
      if (error instanceof CompressedDataError) {
        throw new CaptureFormatError(startOf(options.path), `gzip data is corrupt (${error.message})`, { cause: error });
      }
      throw error;
    }
    if (head.length === 0) {
      const problem = source.endedEarly ? "gzip data ends before any capture data" : "empty file (after gzip decompression)";
      throw new CaptureFormatError(startOf(options.path), problem);
    }
    const format = sniffFormat(head);
    if (format === "gzip") throw new CaptureFormatError(startOf(options.path), "gzip inside gzip is not supported");
    if (head.length < sniffBytes) throw tooShort(head, options.path, " after gzip decompression");
    if (format === null) throw notACapture(head, options.path, " after gzip decompression");
    return await readRecords(format, source, consumer, options, true);
  } finally {
    await source.close();
  }
}

async function readRecords(
  format: CaptureFormat,
  source: ChunkSource,
  consumer: FrameConsumer,
  options: CaptureReadOptions,
  compressed: boolean,
): Promise<CaptureReadResult> {
  const parser: RecordParser =
    format === "pcap" ? new PcapParser(consumer, options.path) : new PcapngParser(consumer, options.path, options.warn);
  const reader = new ChunkedRecordReader(parser);
  const position = (): CapturePosition => ({
    path: options.path,
    byteOffset: reader.bytesPushed,
    frameNumber: parser.frames + 1,
  });
  while (true) {
    let chunk: Uint8Array | null | undefined;
    try {
      // Synchronously when the source can (a capture file): no promise per chunk.
      chunk = source.nextNow();
      if (chunk === undefined) chunk = await source.next();
    } catch (error) {
      if (error instanceof CompressedDataError) {
        throw new CaptureFormatError(position(), `gzip data is corrupt (${error.message})`, { cause: error });
      }
      throw error;
    }
    if (chunk === null) break;
    reader.push(chunk);
    options.onProgress?.(source.inputBytes);
    const pending = consumer.afterBatch?.();
    if (pending) await pending;
  }
  let truncated = reader.finish();
  if (truncated === null && source.endedEarly) {
    truncated = new CaptureTruncatedError(
      position(),
      0,
      `gzip data ends early (unexpected end of file) after ${reader.bytesPushed} bytes of capture data`,
    );
  }
  return {
    format,
    compressed,
    frames: parser.frames,
    bytes: reader.bytesPushed,
    linkTypes: [...parser.linkTypes],
    unknownBlocksSkipped: parser.unknownBlocksSkipped,
    truncated,
  };
}

function startOf(path: string): CapturePosition {
  return { path, byteOffset: 0, frameNumber: 1 };
}

function tooShort(head: Uint8Array, path: string, where: string): CaptureFormatError {
  return new CaptureFormatError(startOf(path), `file too short to be a capture${where} (${head.length} bytes)`);
}

function notACapture(head: Uint8Array, path: string, where: string): CaptureFormatError {
  return new CaptureFormatError(
    startOf(path),
    `not a pcap or pcapng file${where} (${describeMagic(head)}; expected pcap a1b2c3d4 or a1b23c4d in either byte order, pcapng 0a0d0d0a, or gzip 1f8b)`,
  );
}
