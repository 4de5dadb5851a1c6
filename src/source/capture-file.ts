import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { InputError } from "../errors.js";
import { toInputError } from "./input-error.js";

/**
 * A capture file, read with synchronous positioned `read(2)` calls. A read from the page cache
 * takes microseconds, less than the round trip of an asynchronous read through libuv's thread
 * pool, and synchronous reads can fill one reused buffer, which is what lets `readCapture` go
 * through a multi-gigabyte file without allocating per chunk. (Reading ahead on a second thread
 * was measured too: handing each chunk over cost more than it saved.)
 */
export class CaptureFile {
  private descriptor: number | null;
  /** File offset of the next read. */
  private position = 0;

  private constructor(
    readonly path: string,
    descriptor: number,
  ) {
    this.descriptor = descriptor;
  }

  /**
   * Opens `path` for reading. Fails at once, with an InputError naming the path, when the file
   * cannot be opened or is a directory (rather than on the first read).
   */
  static open(path: string): CaptureFile {
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

  /** Fills `buffer` from the current position; null at the end of the file (or once closed). */
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

  /** Idempotent. */
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
