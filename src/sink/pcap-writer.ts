import { createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import type { Frame } from "../source/frame.js";
import { OutputError } from "../errors.js";
import { pcapFileHeader, pcapRecordHeaderBytes, writePcapRecordHeader } from "../wire-format/pcap-file.mjs";
import { openOutputFile } from "./output-path.js";

/**
 * Saves frames to a classic pcap file (nanosecond timestamps, little-endian) as they are seen. The file holds IMDS traffic, which
 * includes tokens and credentials in responses, so it is created with mode 0600. Writes are
 * batched; when the disk cannot keep up, frames are dropped and counted rather than buffered
 * without bound (the live capture must never grow memory because of a slow disk).
 */
export class PcapWriter {
  private readonly stream: WriteStream;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waitingForDrain = false;
  private failure: OutputError | null = null;
  framesWritten = 0;
  framesDropped = 0;
  private static readonly flushBytes = 256 * 1024;
  private static readonly maxBufferedBytes = 16 * 1024 * 1024;

  constructor(
    readonly path: string,
    linkType: number,
    snaplenBytes = 262_144,
    /** The file already opened with `PcapWriter.openFile` (live capture opens it before anything else). */
    descriptor: number = PcapWriter.openFile(path),
  ) {
    this.stream = createWriteStream(path, { fd: descriptor });
    this.stream.on("error", (error: NodeJS.ErrnoException) => {
      this.failure ??= new OutputError(path, `cannot write the capture: ${error.code ?? error.message}`, { cause: error });
    });
    this.stream.on("drain", () => {
      this.waitingForDrain = false;
    });
    this.enqueue(Buffer.from(pcapFileHeader({ linkType, snaplen: snaplenBytes, timestampPrecision: "nanoseconds" })));
  }

  /**
   * Checks and opens PATH (output-path.ts: mode 0600, no symlink traps); throws OutputError at
   * once, so a refused or unwritable path fails before a capture starts.
   */
  static openFile(path: string): number {
    return openOutputFile(path, { what: "the capture file" });
  }

  write(frame: Frame): void {
    if (this.failure) return;
    if (this.waitingForDrain && this.stream.writableLength + this.pendingBytes > PcapWriter.maxBufferedBytes) {
      this.framesDropped++;
      return;
    }
    const length = frame.capturedLength;
    const record = Buffer.allocUnsafe(pcapRecordHeaderBytes + length);
    writePcapRecordHeader(record, 0, frame.timestampSeconds, frame.timestampNanos, length, frame.originalLength);
    record.set(frame.data.subarray(frame.start, frame.end), pcapRecordHeaderBytes);
    this.enqueue(record);
    this.framesWritten++;
  }

  private enqueue(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= PcapWriter.flushBytes) this.flush();
  }

  /** Hands batched records to the file; live capture calls it on a timer too. */
  flush(): void {
    if (this.pending.length === 0 || this.failure) return;
    const ready = this.stream.write(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
    if (!ready) this.waitingForDrain = true;
  }

  async close(): Promise<void> {
    this.flush();
    await new Promise<void>((resolve) => {
      this.stream.end(() => { resolve(); });
      this.stream.once("error", () => { resolve(); });
    });
    if (this.failure) throw this.failure;
  }
}
