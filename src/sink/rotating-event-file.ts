import { closeSync, existsSync, fstatSync, ftruncateSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { ImdsAnalyzerError } from "../errors.js";
import { openOutputFile } from "./output-path.js";

export interface RotationOptions {
  /** Rotate when the file would grow past this many bytes; null never rotates by size. */
  readonly maxFileBytes: number | null;
  /** Rotated files kept: FILE.1 (newest) .. FILE.N; older ones are deleted. */
  readonly keepFiles: number;
}

/**
 * Gives [offset, offset + length) of the open file its disk blocks without changing the file's
 * size (fallocate with FALLOC_FL_KEEP_SIZE, native/pcap reserveFileSpace): 0 when done, else the
 * errno.
 */
export type FileSpaceReserver = (descriptor: number, offset: number, length: number) => number;

export interface EventFileOptions {
  /**
   * How often (at most, checked on a write) the path is compared with the open file: when FILE
   * was removed or moved away without a SIGHUP, the path is reopened (created again). 1000 ms
   * by default; 0 checks before every write.
   */
  readonly pathCheckIntervalMs?: number;
  /**
   * Reserves space before lines are written, so that a full disk refuses a whole line and never
   * takes part of one. Without it (or where the file system cannot reserve) a line cut short is
   * cut back after the write.
   */
  readonly reserveSpace?: FileSpaceReserver;
}

const defaultPathCheckIntervalMs = 1000;
/** Space reserved ahead of the lines at a time: one reservation call per ~20-60 events. */
const reserveAheadBytes = 64 * 1024;
const { ENOSPC, EDQUOT } = osConstants.errno;

/**
 * The events file of a long-running capture. Each event is appended as one whole line. With a
 * space reserver (live capture passes the native one) the blocks for the next lines are reserved
 * before they are written, so on a full disk a line is refused whole and no reader ever sees part
 * of one. Without it, or on a file system that cannot reserve, a write that stops part-way (the
 * disk filled up in the middle of a line) is cut back to the last whole line before the write
 * returns: the file never keeps half a JSON line, though a reader looking in the instant between
 * the short write and the cut can see the partial bytes.
 *
 * The file is created with mode 0600. It rotates by size (FILE -> FILE.1 -> FILE.2 ...);
 * `reopen()` (SIGHUP) reopens FILE after an external tool such as logrotate moved it away, and a
 * cheap check (stat of the path against fstat of the open file, at most once a second, on a
 * write) reopens it when it was removed or moved without one.
 *
 * Nothing here throws once the file is open: a write that fails (disk full, file system gone),
 * or a rotation or reopen that cannot create the file, loses that event, counts it and goes on,
 * reporting the problem once per episode and once more when writing works again. A capture
 * service must not die because /var/log filled up.
 */
export class RotatingEventFile {
  /** null: no file is open (a rotation or reopen failed); retried on the next path check. */
  private descriptor: number | null;
  private sizeBytes: number;
  /** Device and inode of the open file, to notice the path now names another file (or none). */
  private openedDevice = 0;
  private openedInode = 0;
  private lastPathCheckMs: number;
  private readonly pathCheckIntervalMs: number;
  eventsWritten = 0;
  eventsNotWritten = 0;
  rotations = 0;
  /** Times the path was reopened because the file was removed or replaced (SIGHUP not counted). */
  reopenedAfterRemoval = 0;
  /** Events lost in the current episode of failures (0 while writing works). */
  private lostInEpisode = 0;
  /** null once reserving proved impossible here (file system without fallocate). */
  private reserveSpace: FileSpaceReserver | null;
  /** The open file has blocks up to this offset: lines ending before it need no reservation. */
  private reservedEnd = 0;

  constructor(
    readonly path: string,
    private readonly rotation: RotationOptions = { maxFileBytes: null, keepFiles: 0 },
    /** Problems and recoveries, for the operator (stderr); each said once per episode. */
    private readonly onWriteError: (message: string) => void = () => undefined,
    options: EventFileOptions = {},
  ) {
    this.reserveSpace = options.reserveSpace ?? null;
    this.descriptor = this.open();
    this.sizeBytes = this.noteOpenedFile(this.descriptor);
    this.pathCheckIntervalMs = options.pathCheckIntervalMs ?? defaultPathCheckIntervalMs;
    this.lastPathCheckMs = Date.now();
  }

  /** Same shape as NdjsonWriter.name, for start-up messages. */
  get name(): string {
    return this.path;
  }

  write(record: object): void {
    const line = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    this.checkPathIfDue();
    if (this.descriptor !== null && this.rotation.maxFileBytes !== null && this.sizeBytes > 0 && this.sizeBytes + line.length > this.rotation.maxFileBytes) {
      this.rotate();
    }
    const descriptor = this.descriptor;
    if (descriptor === null) {
      this.lose("no events file is open");
      return;
    }
    const noSpace = this.reserveFor(descriptor, line.length);
    if (noSpace !== null) {
      this.lose(noSpace);
      return;
    }
    const failure = appendWholeLine(descriptor, line);
    if (failure !== null) {
      this.lose(failure);
      return;
    }
    this.sizeBytes += line.length;
    this.eventsWritten++;
    if (this.lostInEpisode > 0) {
      this.onWriteError(`${this.path}: writing events again (${this.lostInEpisode} event(s) were lost)`);
      this.lostInEpisode = 0;
    }
  }

  /** Reopens the path (SIGHUP): the file may have been moved away by logrotate. Never throws. */
  reopen(): void {
    this.lastPathCheckMs = Date.now();
    let next: number;
    try {
      next = this.open();
    } catch (error) {
      // Keep writing to the old file (if any) rather than nowhere.
      this.onWriteError(`${this.path}: cannot reopen the events file (${describeError(error)}); still writing to the file opened before`);
      return;
    }
    const previous = this.descriptor;
    this.descriptor = next;
    this.sizeBytes = this.noteOpenedFile(next);
    if (previous !== null) closeQuietly(previous);
  }

  close(): void {
    if (this.descriptor !== null) closeSync(this.descriptor);
    this.descriptor = null;
  }

  private lose(reason: string): void {
    this.eventsNotWritten++;
    // Say it once per episode, not once per event.
    if (this.lostInEpisode === 0) this.onWriteError(`${this.path}: an event could not be written (${reason}); events are being lost`);
    this.lostInEpisode++;
  }

  /**
   * Makes sure the next `lineBytes` at the end of the file have disk blocks: null when they do
   * (or when reserving is not possible here, and the write-and-cut-back path takes over), else
   * why not (ENOSPC, EDQUOT): the line is then not written at all.
   */
  private reserveFor(descriptor: number, lineBytes: number): string | null {
    const reserve = this.reserveSpace;
    if (reserve === null || this.sizeBytes + lineBytes <= this.reservedEnd) return null;
    let code = 0;
    // A stretch ahead, so that most lines need no call; on a nearly full disk, this line alone.
    for (const length of [Math.max(lineBytes, reserveAheadBytes), lineBytes]) {
      try {
        code = reserve(descriptor, this.sizeBytes, length);
      } catch {
        code = -1;
      }
      if (code === 0) {
        this.reservedEnd = this.sizeBytes + length;
        return null;
      }
      if (code !== ENOSPC && code !== EDQUOT) {
        this.reserveSpace = null; // EOPNOTSUPP (NFS, FUSE) and the like: cut back instead
        return null;
      }
    }
    return code === EDQUOT ? "EDQUOT" : "ENOSPC";
  }

  /**
   * At most once per interval: is the path still the open file? Removed (ENOENT) or replaced
   * (another inode) -> reopen, so events land where readers look. Also refreshes the size, which
   * an external truncation (logrotate copytruncate) changes.
   */
  private checkPathIfDue(): void {
    const nowMs = Date.now();
    if (nowMs - this.lastPathCheckMs < this.pathCheckIntervalMs) return;
    this.lastPathCheckMs = nowMs;
    if (this.descriptor === null) {
      this.reopenQuietly();
      return;
    }
    let sameFile: boolean;
    try {
      const atPath = statSync(this.path);
      sameFile = atPath.ino === this.openedInode && atPath.dev === this.openedDevice;
    } catch {
      sameFile = false; // removed (or its directory is unreachable): try to create it again
    }
    if (sameFile) {
      try {
        const size = fstatSync(this.descriptor).size;
        // Truncated from outside: blocks past the new end may be gone, reserve them again.
        if (size !== this.sizeBytes) this.reservedEnd = 0;
        this.sizeBytes = size;
      } catch {
        // keep the size we counted
      }
      return;
    }
    if (this.reopenQuietly()) this.reopenedAfterRemoval++;
  }

  /** Reopen after a removal or a failed rotation; a failure keeps the old file (or none). */
  private reopenQuietly(): boolean {
    let next: number;
    try {
      next = this.open();
    } catch {
      return false; // counted as lost events on the writes that follow, with the reason
    }
    if (this.descriptor !== null) closeQuietly(this.descriptor);
    this.descriptor = next;
    this.sizeBytes = this.noteOpenedFile(next);
    return true;
  }

  private rotate(): void {
    if (this.descriptor !== null) closeQuietly(this.descriptor);
    this.descriptor = null;
    try {
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
    } catch (error) {
      this.onWriteError(`${this.path}: rotating the events file failed (${describeError(error)}); appending to it instead`);
    }
    // Whatever happened above, write to whatever FILE now is; if it cannot be opened the
    // events are counted as lost and the open is retried on the next path check.
    if (!this.reopenQuietly()) this.lastPathCheckMs = Date.now();
  }

  /** Every open (start, rotation, reopen) goes through the symlink-safe checks of output-path.ts. */
  private open(): number {
    return openOutputFile(this.path, { what: "the events file", append: true });
  }

  /** Remembers which file is open (nothing of it is reserved yet); returns its size. */
  private noteOpenedFile(descriptor: number): number {
    const stats = fstatSync(descriptor);
    this.openedDevice = stats.dev;
    this.openedInode = stats.ino;
    this.reservedEnd = 0;
    return stats.size;
  }
}

/**
 * Appends `line` to an O_APPEND descriptor whole or not at all: null when written, else why not.
 * A regular file takes a write in one call unless the disk fills in the middle of it; then the
 * part already written is cut off again (the file's end is where that part ended).
 */
function appendWholeLine(descriptor: number, line: Buffer): string | null {
  let written = 0;
  try {
    while (written < line.length) {
      const count = writeSync(descriptor, line, written, line.length - written);
      if (count <= 0) throw Object.assign(new Error("the write made no progress"), { code: "EIO" });
      written += count;
    }
    return null;
  } catch (error) {
    if (written > 0) {
      try {
        ftruncateSync(descriptor, Math.max(0, fstatSync(descriptor).size - written));
      } catch (truncateError) {
        return `${describeError(error)}; cutting off the partial line also failed: ${describeError(truncateError)}`;
      }
    }
    return describeError(error);
  }
}

function describeError(error: unknown): string {
  if (error instanceof ImdsAnalyzerError) return error.message;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code ?? String(error);
}

function closeQuietly(descriptor: number): void {
  try {
    closeSync(descriptor);
  } catch {
    // already gone; nothing to flush (writes are synchronous)
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
