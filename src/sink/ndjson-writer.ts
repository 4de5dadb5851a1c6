import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { OutputError } from "../errors.js";
import { openOutputFile } from "./output-path.js";

/**
 * Writes one JSON object per line, respecting backpressure. Lines are batched into ~64 KiB
 * writes (one `write()` per event costs more than building the JSON); when the stream's buffer
 * is full, `drained()` hands the caller a promise so the capture reader pauses instead of this
 * writer buffering without bound. Measured on this project's machines the `ndjson` package was
 * about half as fast as this for the same job, so it is not used for writing.
 */
export class NdjsonWriter {
  private batch = "";
  private waitingForDrain: Promise<void> | undefined;
  private failure: OutputError | null = null;
  private static readonly batchBytes = 64 * 1024;

  constructor(
    private readonly stream: Writable,
    /** Name for messages: the file path, or "stdout". */
    readonly name: string,
    /** Whether close() ends the stream (files yes, process.stdout no). */
    private readonly ownsStream: boolean,
    /** Write every line at once (live capture: events must appear as they happen). */
    private readonly immediate = false,
  ) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      this.failure ??= new OutputError(name, `cannot write: ${error.code ?? error.message}`, { cause: error });
    });
  }

  /**
   * Opens FILE for writing, mode 0600 (events can name hosts and processes), refusing a path
   * another user could have set as a trap (output-path.ts); throws OutputError at once.
   */
  static toFile(path: string, options: { immediate?: boolean; append?: boolean } = {}): NdjsonWriter {
    const descriptor = openOutputFile(path, { what: "the events file", ...(options.append ? { append: true } : {}) });
    const stream = createWriteStream(path, { fd: descriptor });
    return new NdjsonWriter(stream, path, true, options.immediate ?? false);
  }

  static toStdout(options: { immediate?: boolean } = {}): NdjsonWriter {
    return new NdjsonWriter(process.stdout, "stdout", false, options.immediate ?? false);
  }

  write(record: object): void {
    this.batch += JSON.stringify(record) + "\n";
    if (this.immediate || this.batch.length >= NdjsonWriter.batchBytes) this.flushBatch();
  }

  /** Undefined when writing can go on now; else a promise that settles when it can. */
  drained(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    return this.waitingForDrain;
  }

  /** Writes what is batched and waits until the stream took it (and ends it when owned). */
  async close(): Promise<void> {
    this.flushBatch();
    if (this.waitingForDrain) await this.waitingForDrain;
    if (this.ownsStream) {
      await new Promise<void>((resolve) => {
        this.stream.end(() => { resolve(); });
        this.stream.once("error", () => { resolve(); });
      });
    }
    if (this.failure) throw this.failure;
  }

  private flushBatch(): void {
    if (this.batch.length === 0 || this.failure) return;
    const ready = this.stream.write(this.batch);
    this.batch = "";
    if (!ready && !this.waitingForDrain) {
      this.waitingForDrain = new Promise<void>((resolve) => {
        const done = (): void => {
          this.waitingForDrain = undefined;
          this.stream.off("drain", done);
          this.stream.off("error", done);
          this.stream.off("close", done);
          resolve();
        };
        this.stream.on("drain", done);
        this.stream.on("error", done);
        this.stream.on("close", done);
      });
    }
  }
}
