/**
 * Small, bounded, non-blocking reads of procfs files, and the mapping of errno codes to
 * attribution failures. Everything here takes full paths: callers join them onto an injectable
 * proc root, so tests point the same code at a fake tree in a temp dir.
 */
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

export async function readBoundedBytes(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    let chunk = Buffer.allocUnsafe(Math.min(firstReadBytes, maxBytes));
    let filled = 0;
    while (total < maxBytes) {
      const { bytesRead } = await handle.read(chunk, filled, Math.min(chunk.length - filled, maxBytes - total), null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      total += bytesRead;
      if (filled === chunk.length) {
        chunks.push(chunk);
        chunk = Buffer.allocUnsafe(Math.min(readChunkBytes, Math.max(1, maxBytes - total)));
        filled = 0;
      }
    }
    chunks.push(chunk.subarray(0, filled));
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    await handle.close();
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
