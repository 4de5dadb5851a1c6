import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { fstatSync } from "node:fs";
import { OutputError } from "../errors.js";

export interface RotationOptions {
  /** Rotate when the file would grow past this many bytes; null never rotates by size. */
  readonly maxFileBytes: number | null;
  /** Rotated files kept: FILE.1 (newest) .. FILE.N; older ones are deleted. */
  readonly keepFiles: number;
}

/**
 * The events file of a long-running capture. Each event is appended with one synchronous write
 * of a whole line, so a crash, a rotation or a full disk never leaves half a JSON line behind
 * (live event rates are tiny next to what a synchronous append can take). The file is created
 * with mode 0600. It rotates by size (FILE -> FILE.1 -> FILE.2 ...) and `reopen()` (SIGHUP)
 * reopens FILE after an external tool such as logrotate moved it away.
 *
 * A write that fails (disk full, file system gone) loses that event, counts it and goes on:
 * a capture service must not die because /var/log filled up.
 */
export class RotatingEventFile {
  private descriptor: number;
  private sizeBytes: number;
  eventsWritten = 0;
  eventsNotWritten = 0;
  rotations = 0;
  private lastError: string | null = null;

  constructor(
    readonly path: string,
    private readonly rotation: RotationOptions = { maxFileBytes: null, keepFiles: 0 },
    private readonly onWriteError: (message: string) => void = () => undefined,
  ) {
    this.descriptor = this.open();
    this.sizeBytes = fstatSync(this.descriptor).size;
  }

  /** Same shape as NdjsonWriter.name, for start-up messages. */
  get name(): string {
    return this.path;
  }

  write(record: object): void {
    const line = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    if (this.rotation.maxFileBytes !== null && this.sizeBytes > 0 && this.sizeBytes + line.length > this.rotation.maxFileBytes) {
      this.rotate();
    }
    try {
      let offset = 0;
      while (offset < line.length) offset += writeSync(this.descriptor, line, offset, line.length - offset);
      this.sizeBytes += line.length;
      this.eventsWritten++;
      this.lastError = null;
    } catch (error) {
      this.eventsNotWritten++;
      const message = `${this.path}: an event could not be written (${(error as NodeJS.ErrnoException).code ?? String(error)}); events are being lost`;
      // Say it once per episode, not once per event.
      if (this.lastError === null) this.onWriteError(message);
      this.lastError = message;
    }
  }

  /** Reopens the path (SIGHUP): the file may have been moved away by logrotate. */
  reopen(): void {
    const previous = this.descriptor;
    this.descriptor = this.open();
    this.sizeBytes = fstatSync(this.descriptor).size;
    closeSync(previous);
  }

  close(): void {
    closeSync(this.descriptor);
  }

  private rotate(): void {
    closeSync(this.descriptor);
    const keep = this.rotation.keepFiles;
    if (keep <= 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${keep}`, { force: true });
      for (let index = keep - 1; index >= 1; index--) {
        if (existsSync(`${this.path}.${index}`)) renameSync(`${this.path}.${index}`, `${this.path}.${index + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.rotations++;
    this.descriptor = this.open();
    this.sizeBytes = 0;
  }

  private open(): number {
    try {
      return openSync(this.path, "a", 0o600);
    } catch (error) {
      throw new OutputError(this.path, `cannot open the events file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }
}

/** "100M", "512k", "2G", "1048576" -> bytes. */
export function parseSizeBytes(text: string): number | null {
  const match = /^(\d+)([kmg]?)i?b?$/i.exec(text.trim());
  if (!match) return null;
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  const bytes = Number(match[1]) * unit;
  return bytes > 0 ? bytes : null;
}
