/**
 * Small, bounded, non-blocking reads of procfs files, and the mapping of errno codes to
 * attribution failures. Everything here takes full paths: callers join them onto an injectable
 * proc root, so tests point the same code at a fake tree in a temp dir.
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { open, readlink } from "node:fs/promises";
import { attributionFailure, type AttributionFailure } from "./types.js";

/** Largest read of any one small procfs file (stat, status, cgroup): they are a few KiB at most. */
export const maxSmallProcFileBytes = 64 * 1024;

/** errno code of a failed fs call ("ENOENT", "EACCES", ...), or undefined for other throws. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return undefined;
}

/**
 * What a failed read of a process's own file means. ENOENT and ESRCH: the process is gone
 * (procfs answers ESRCH for some files of a process that exits mid-read). EACCES/EPERM: hidepid
 * or ptrace access rules. Anything else is unexpected and carries its message.
 */
export function failureFromProcessError(error: unknown, what: string): AttributionFailure {
  const code = errnoCode(error) ?? "";
  switch (code) {
    case "ENOENT":
    case "ESRCH":
      return attributionFailure("process-exited", `${what}: ${code}`);
    case "EACCES":
    case "EPERM":
      return attributionFailure("permission-denied", `${what}: ${code}`);
    default:
      return attributionFailure("error", `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Reads at most `maxBytes` of a file as text. procfs files report size 0, so this reads in a
 * loop until end of file or the bound, never trusting stat().
 */
export async function readBoundedText(path: string, maxBytes: number, encoding: BufferEncoding = "utf8"): Promise<string> {
  const buffer = await readBoundedBytes(path, maxBytes);
  return buffer.toString(encoding);
}

/** Read size: procfs generates text per read() call, so a huge buffer only costs memory. */
const readChunkBytes = 64 * 1024;
/**
 * The first read's size: stat, status, cmdline and cgroup fit (a fresh 64 KiB buffer per small
 * file was a fifth of the CPU of a busy capture, in the garbage collector).
 */
const firstReadBytes = 4 * 1024;

/**
 * The buffers of one bounded read, shared by the asynchronous and the synchronous reader: where
 * the next read() goes, and the bytes read once it returns 0 or the bound is reached.
 */
class BoundedReadBuffers {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private filled = 0;
  private chunk: Buffer;

  constructor(private readonly maxBytes: number) {
    this.chunk = Buffer.allocUnsafe(Math.min(firstReadBytes, maxBytes));
  }

  /** Where the next read() writes; null once `maxBytes` are read. */
  nextRead(): { readonly buffer: Buffer; readonly offset: number; readonly length: number } | null {
    if (this.total >= this.maxBytes) return null;
    return { buffer: this.chunk, offset: this.filled, length: Math.min(this.chunk.length - this.filled, this.maxBytes - this.total) };
  }

  /** Counts what a read() returned; false at end of file. */
  add(bytesRead: number): boolean {
    if (bytesRead === 0) return false;
    this.filled += bytesRead;
    this.total += bytesRead;
    if (this.filled === this.chunk.length) {
      this.chunks.push(this.chunk);
      this.chunk = Buffer.allocUnsafe(Math.min(readChunkBytes, Math.max(1, this.maxBytes - this.total)));
      this.filled = 0;
    }
    return true;
  }

  bytes(): Buffer {
    this.chunks.push(this.chunk.subarray(0, this.filled));
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
  }
}

export async function readBoundedBytes(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buffers = new BoundedReadBuffers(maxBytes);
    for (let target = buffers.nextRead(); target !== null; target = buffers.nextRead()) {
      const { bytesRead } = await handle.read(target.buffer, target.offset, target.length, null);
      if (!buffers.add(bytesRead)) break;
    }
    return buffers.bytes();
  } finally {
    await handle.close();
  }
}

/**
 * The flags of the synchronous reads. O_NONBLOCK: a FIFO where a file should be (the proc root
 * is injectable) opens at once and reads EAGAIN or end of file instead of stalling the event
 * loop; procfs ignores it. O_NOFOLLOW: none of these files is a link in procfs.
 */
const syncOpenFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/**
 * `readBoundedText` done synchronously, for the procfs files of a process that the kernel
 * prints from its own structures, with no I/O and no lock held for long: stat, status, cgroup
 * (cgroup_mutex, taken briefly). Each asynchronous read is an open, two reads and a close,
 * every one a round trip through libuv's thread pool and a promise: 4-7 times the CPU of the
 * synchronous read (bench/procfs-read.bench-run.ts), for every new caller. Never for a file
 * that can wait: cmdline (read from the process's memory under its mmap lock, argv possibly
 * paged in from swap), files on disk (passwd) and runtime files (runtime-files.ts) stay
 * asynchronous. Throws as `readBoundedText` does (ENOENT, EACCES, ...).
 */
export function readProcfsTextSync(path: string, maxBytes: number): string {
  const descriptor = openSync(path, syncOpenFlags);
  try {
    const buffers = new BoundedReadBuffers(maxBytes);
    for (let target = buffers.nextRead(); target !== null; target = buffers.nextRead()) {
      if (!buffers.add(readSync(descriptor, target.buffer, target.offset, target.length, null))) break;
    }
    return buffers.bytes().toString("utf8");
  } finally {
    closeSync(descriptor);
  }
}

/** readlink that answers null instead of throwing (EACCES, ENOENT, EINVAL for a non-link). */
export async function readlinkOrNull(path: string): Promise<string | null> {
  try {
    return await readlink(path);
  } catch {
    return null;
  }
}

/** Parses "net:[4026531993]" or "socket:[123]" with the expected kind; null if it is not one. */
export function parseBracketInode(linkTarget: string, kind: string): number | null {
  if (!linkTarget.startsWith(kind) || linkTarget.charCodeAt(kind.length) !== 0x3a /* : */) return null;
  const open = kind.length + 1;
  if (linkTarget.charCodeAt(open) !== 0x5b /* [ */ || !linkTarget.endsWith("]")) return null;
  const digits = linkTarget.slice(open + 1, -1);
  if (!/^\d{1,20}$/.test(digits)) return null;
  const inode = Number(digits);
  return Number.isSafeInteger(inode) ? inode : null;
}

/** Numeric directory names of a proc root (the pids), ascending, at most `maxPids`. */
export function pidsFromDirectoryNames(names: readonly string[], maxPids: number): number[] {
  const pids: number[] = [];
  for (const name of names) {
    if (/^[1-9]\d{0,9}$/.test(name)) pids.push(Number(name));
  }
  pids.sort((a, b) => a - b);
  return pids.length > maxPids ? pids.slice(0, maxPids) : pids;
}

/** Runs `visit` over every item with at most `concurrency` in flight. */
export async function forEachWithConcurrency<T>(items: readonly T[], concurrency: number, visit: (item: T, index: number) => Promise<void>): Promise<void> {
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const index = nextIndex++;
      await visit(items[index]!, index);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(concurrency, items.length); i++) workers.push(worker());
  await Promise.all(workers);
}
