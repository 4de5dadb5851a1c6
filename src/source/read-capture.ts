import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { Readable, pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import { CaptureFormatError, CaptureTruncatedError, ImdsAnalyzerError, InputError } from "../errors.js";
import type { CapturePosition } from "../errors.js";
import { ChunkedRecordReader } from "./chunked-record-reader.js";
import { allocateReadBuffer } from "./read-buffer.js";
import { PcapParser } from "./pcap.js";
import { PcapngParser } from "./pcapng.js";
import type { RecordParser } from "./record-parser.js";
import { describeMagic, sniffBytes, sniffFormat } from "./sniff.js";
import type { CaptureFormat, CaptureReadOptions, CaptureReadResult, FrameConsumer } from "./types.js";

/**
 * Read size for capture files. Measured on files in the page cache (bench/README.md): 64-128 KiB
 * reads run at ~8 GB/s, while 192 KiB and larger ones drop to ~2 GB/s (the destination buffer
 * no longer stays in the CPU cache while the kernel copies into it). 128 KiB also keeps the
 * number of reads, and so the per-read overhead, small.
 */
export const readChunkBytes = 128 * 1024;
/** Reading yields to the event loop (output, signals, timers) at least this often. */
const yieldEveryBytes = 64 * 1024 * 1024;
/** Output chunk size of the gzip decompressor, for the same reason. */
const gunzipChunkBytes = 256 * 1024;

/**
 * Reads a pcap or pcapng capture (optionally gzip-compressed) from a stream of chunks and calls
 * `consumer.onFrame` for every frame, in file order. Memory stays bounded whatever the file size:
 * only a record that straddles two chunks is copied. After each chunk the consumer's `afterBatch`
 * is awaited when it returns a promise, so a slow output slows the reading.
 *
 * Throws CaptureFormatError (not a capture, corrupt lengths: the file cannot be read on) or
 * InputError (the input failed); errors thrown by the consumer pass through unchanged. A file that
 * ends inside a record is not an error: the result's `truncated` says where it ended.
 */
export async function readCapture(
  input: AsyncIterable<Uint8Array>,
  consumer: FrameConsumer,
  options: CaptureReadOptions,
): Promise<CaptureReadResult> {
  const source = new InputChunkSource(input, options.path);
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
  compressed: InputChunkSource,
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
    framesSnaplenCut: parser.framesSnaplenCut,
    unknownBlocksSkipped: parser.unknownBlocksSkipped,
    truncated,
  };
}

/**
 * A capture file, read with synchronous positioned `read(2)` calls of `readChunkBytes`. A read
 * from the page cache takes microseconds, less than the round trip of an asynchronous read
 * through libuv's thread pool, and synchronous reads can fill one reused buffer, which is what
 * lets `readCapture` go through a multi-gigabyte file without allocating per chunk. (Reading
 * ahead on a second thread was measured too: handing each chunk over cost more than it saved.)
 * Iterating it (gzip input, or any generic consumer) yields fresh buffers instead, since those
 * consumers keep chunks after asking for the next one.
 */
export class CaptureFile implements AsyncIterable<Uint8Array> {
  private descriptor: number | null;
  /** File offset of the next read. */
  private position = 0;

  constructor(
    readonly path: string,
    descriptor: number,
  ) {
    this.descriptor = descriptor;
  }

  /** Fills `buffer` from the current position; null at the end of the file. */
  readInto(buffer: Uint8Array): Uint8Array | null {
    if (this.descriptor === null) return null;
    let length: number;
    try {
      length = readSync(this.descriptor, buffer, 0, buffer.length, this.position);
    } catch (error) {
      throw toInputError(error, this.path);
    }
    if (length === 0) return null;
    this.position += length;
    return length === buffer.length ? buffer : buffer.subarray(0, length);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      let sinceYieldBytes = 0;
      for (;;) {
        const chunk = this.readInto(allocateReadBuffer(readChunkBytes));
        if (chunk === null) return;
        sinceYieldBytes += chunk.length;
        if (sinceYieldBytes >= yieldEveryBytes) {
          sinceYieldBytes = 0;
          await yieldToEventLoop();
        }
        yield chunk;
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.descriptor === null) return;
    const descriptor = this.descriptor;
    this.descriptor = null;
    try {
      closeSync(descriptor);
    } catch {
      // Nothing was written: a failed close loses nothing.
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Opens a capture file for `readCapture`: "-" is standard input. Fails at once, with an
 * InputError naming the path, when the file cannot be opened (rather than on the first read).
 */
export function openCaptureFile(path: string): CaptureFile | Readable {
  if (path === "-") return standardInput();
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw toInputError(error, path);
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new InputError(path, "is a directory, not a capture file");
  } catch (error) {
    closeSync(fd);
    throw toInputError(error, path);
  }
  return new CaptureFile(path, fd);
}

/** Like `openCaptureFile`, with a replaceable standard input (tests, embedding). */
export function openCaptureInput(path: string, stdin?: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (path === "-" && stdin !== undefined) return stdin;
  return openCaptureFile(path);
}

function standardInput(): Readable {
  if (process.stdin.isTTY) {
    throw new InputError("-", "standard input is a terminal; pipe a capture into it (e.g. `tcpdump -w - ... | imds-analyzer -`)");
  }
  return process.stdin;
}

const errnoProblems: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory, not a capture file",
  ENOTDIR: "a component of the path is not a directory",
  EMFILE: "too many open files",
  EIO: "I/O error",
};

/** Any failure of the input becomes an InputError naming the path (the cause keeps the details). */
function toInputError(error: unknown, path: string): ImdsAnalyzerError {
  if (error instanceof ImdsAnalyzerError) return error;
  const code = errorCode(error);
  const known = code === undefined ? undefined : errnoProblems[code];
  const problem = known ?? `cannot read: ${error instanceof Error ? error.message : String(error)}`;
  return new InputError(path, problem, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
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

/** The first `sniffBytes` bytes (fewer if the stream is shorter), leaving them to be read again. */
async function peek(source: ChunkSource): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < sniffBytes) {
    const chunk = await source.next();
    if (chunk === null) break;
    chunks.push(chunk);
    length += chunk.byteLength;
  }
  source.unread(chunks);
  const head = new Uint8Array(Math.min(length, sniffBytes));
  let filled = 0;
  for (const chunk of chunks) {
    if (filled === head.length) break;
    const part = chunk.subarray(0, head.length - filled);
    head.set(part, filled);
    filled += part.length;
  }
  return head;
}

/** The gzip stream is corrupt (as opposed to cut short, which is a truncation). */
class CompressedDataError extends Error {}

/** A pull-based stream of chunks with push-back (for sniffing) and typed errors. */
abstract class ChunkSource {
  /** Input bytes consumed so far (compressed bytes for gzip). */
  abstract readonly inputBytes: number;
  /** True when compressed data stopped before its end marker. */
  endedEarly = false;
  private readonly pushedBack: Uint8Array[] = [];

  /** The next chunk, or null at the end of the stream. */
  async next(): Promise<Uint8Array | null> {
    const chunk = this.pushedBack.shift();
    return chunk ?? (await this.pull());
  }

  /** The next chunk (or null at the end) when it can be had without waiting; else undefined. */
  nextNow(): Uint8Array | null | undefined {
    return this.pushedBack.shift() ?? this.pullNow();
  }

  protected pullNow(): Uint8Array | null | undefined {
    return undefined;
  }

  unread(chunks: readonly Uint8Array[]): void {
    this.pushedBack.unshift(...chunks);
  }

  protected abstract pull(): Promise<Uint8Array | null>;
  abstract close(): Promise<void>;
}

class InputChunkSource extends ChunkSource {
  inputBytes = 0;
  private iteratorOrNull: AsyncIterator<Uint8Array> | null = null;
  /** Set once chunks are parsed as they come (see `reuseChunks`): the file and its one buffer. */
  private reuse: { readonly file: CaptureFile; readonly buffer: Uint8Array } | null = null;
  private sinceYieldBytes = 0;

  constructor(
    private readonly input: AsyncIterable<Uint8Array>,
    private readonly path: string,
  ) {
    super();
  }

  /**
   * From now on every chunk is consumed before the next is asked for, so a capture file can be
   * read into one reused buffer (not while sniffing, which pushes chunks back, nor for gzip).
   */
  reuseChunks(): void {
    if (this.input instanceof CaptureFile) this.reuse = { file: this.input, buffer: allocateReadBuffer(readChunkBytes) };
  }

  private get iterator(): AsyncIterator<Uint8Array> {
    this.iteratorOrNull ??= this.input[Symbol.asyncIterator]();
    return this.iteratorOrNull;
  }

  protected async pull(): Promise<Uint8Array | null> {
    if (this.reuse !== null) {
      if (this.sinceYieldBytes >= yieldEveryBytes) {
        this.sinceYieldBytes = 0;
        await yieldToEventLoop();
      }
      return this.readNow(this.reuse);
    }
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.iterator.next();
    } catch (error) {
      throw toInputError(error, this.path);
    }
    if (result.done === true) return null;
    this.inputBytes += result.value.byteLength;
    return result.value;
  }

  /** A reused-buffer read, unless it is time to let the event loop run (then: ask `next`). */
  protected override pullNow(): Uint8Array | null | undefined {
    if (this.reuse === null || this.sinceYieldBytes >= yieldEveryBytes) return undefined;
    return this.readNow(this.reuse);
  }

  private readNow(reuse: { readonly file: CaptureFile; readonly buffer: Uint8Array }): Uint8Array | null {
    const chunk = reuse.file.readInto(reuse.buffer);
    if (chunk === null) return null;
    this.inputBytes += chunk.length;
    this.sinceYieldBytes += chunk.length;
    return chunk;
  }

  /** Stops the input early (on an error); for a file this closes it. */
  async close(): Promise<void> {
    if (this.input instanceof CaptureFile) this.input.close();
    if (this.iteratorOrNull === null) return;
    try {
      await this.iteratorOrNull.return?.();
    } catch {
      // The read already failed or finished; the original outcome is what matters.
    }
  }
}

class GunzipChunkSource extends ChunkSource {
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(private readonly compressed: InputChunkSource) {
    super();
    const gunzip = createGunzip({ chunkSize: gunzipChunkBytes });
    // Errors reach us through the gunzip iterator (pipeline destroys it with the source's error).
    pipeline(Readable.from(compressedChunks(compressed), { objectMode: false }), gunzip, ignoreError);
    this.iterator = gunzip[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  }

  get inputBytes(): number {
    return this.compressed.inputBytes;
  }

  protected async pull(): Promise<Uint8Array | null> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.iterator.next();
    } catch (error) {
      if (error instanceof ImdsAnalyzerError) throw error;
      const code = errorCode(error);
      if (code === "Z_BUF_ERROR") {
        this.endedEarly = true; // "unexpected end of file": everything before it was delivered
        return null;
      }
      if (code?.startsWith("Z_") === true) {
        throw new CompressedDataError(error instanceof Error ? error.message : String(error), { cause: error });
      }
      throw error;
    }
    return result.done === true ? null : result.value;
  }

  async close(): Promise<void> {
    try {
      await this.iterator.return?.();
    } catch {
      // See InputChunkSource.close.
    }
  }
}

async function* compressedChunks(source: ChunkSource): AsyncGenerator<Uint8Array> {
  while (true) {
    const chunk = await source.next();
    if (chunk === null) return;
    yield chunk;
  }
}

function ignoreError(): void {
  // pipeline() requires a callback; its error is the one the gunzip iterator throws.
}
