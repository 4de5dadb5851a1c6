/**
 * Reading the files container runtimes write (OCI bundles, Docker's and containers/storage's
 * JSON, kubelet log links), under the rule that no such file can stall or break the capture:
 * every read is bounded in size and time, opens nothing but a regular file, never follows a
 * symlink in the last component of a path we build, and never throws. What goes wrong is a
 * named problem the caller counts; a missing file is no problem (most lookups miss by design).
 */
import { constants } from "node:fs";
import { open, opendir, readlink } from "node:fs/promises";
import { errnoCode } from "./procfs-read.js";

/** Why a runtime file gave nothing. "missing" is normal and not counted. */
export type RuntimeFileProblem = "missing" | "symlink" | "not-a-file" | "too-large" | "unreadable" | "timeout" | "malformed";

export type RuntimeFileResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: RuntimeFileProblem };

/**
 * Largest runtime file read: an OCI config.json is 3-20 KiB, Docker's config.v2.json a few KiB,
 * containers/storage's containers.json about 600 bytes per container (4 MiB: ~7,000 containers).
 */
export const maxRuntimeFileBytes = 4 * 1024 * 1024;
/** Longest wait for one file: a hung file system costs a lookup, never the capture. */
export const runtimeFileDeadlineMs = 2000;
/** Longest name kept (Kubernetes names are at most 253 characters; image references 4 KiB at most by convention). */
export const maxNameChars = 4096;

// O_NONBLOCK: opening a FIFO planted where a file should be returns at once instead of waiting
// for a writer (the fstat check then refuses it); it changes nothing for regular files.
const openFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK; // libuv adds O_CLOEXEC itself

/** Reads a whole regular file of at most `maxBytes`, within `deadlineMs`. */
export function readRuntimeFile(path: string, maxBytes = maxRuntimeFileBytes, deadlineMs = runtimeFileDeadlineMs): Promise<RuntimeFileResult<Buffer>> {
  return withDeadline(readWhole(path, maxBytes), deadlineMs);
}

/** Reads a file holding one JSON value (object or array), as `readRuntimeFile` does. */
export async function readRuntimeJson(path: string, maxBytes = maxRuntimeFileBytes, deadlineMs = runtimeFileDeadlineMs): Promise<RuntimeFileResult<unknown>> {
  const read = await readRuntimeFile(path, maxBytes, deadlineMs);
  if (!read.ok) return read;
  try {
    const value: unknown = JSON.parse(read.value.toString("utf8"));
    return typeof value === "object" && value !== null ? { ok: true, value } : { ok: false, problem: "malformed" };
  } catch {
    return { ok: false, problem: "malformed" };
  }
}

/** A directory's entry names (at most `maxEntries`, in the order the file system gives them). */
export function listRuntimeDirectory(path: string, maxEntries: number, deadlineMs = runtimeFileDeadlineMs): Promise<RuntimeFileResult<string[]>> {
  const list = async (): Promise<RuntimeFileResult<string[]>> => {
    try {
      const directory = await opendir(path, { bufferSize: 256 });
      const names: string[] = [];
      try {
        for await (const entry of directory) {
          names.push(entry.name);
          if (names.length >= maxEntries) break;
        }
      } finally {
        await directory.close().catch(() => undefined);
      }
      return { ok: true, value: names };
    } catch (error) {
      return { ok: false, problem: problemOf(error) };
    }
  };
  return withDeadline(list(), deadlineMs);
}

/** A symlink's target (the link itself is not followed). */
export function readRuntimeLink(path: string, deadlineMs = runtimeFileDeadlineMs): Promise<RuntimeFileResult<string>> {
  const read = async (): Promise<RuntimeFileResult<string>> => {
    try {
      return { ok: true, value: await readlink(path) };
    } catch (error) {
      return { ok: false, problem: problemOf(error) };
    }
  };
  return withDeadline(read(), deadlineMs);
}

/** Read size: runtime files are a few KiB; containers.json grows with the container count. */
const readChunkBytes = 64 * 1024;

async function readWhole(path: string, maxBytes: number): Promise<RuntimeFileResult<Buffer>> {
  let handle;
  try {
    handle = await open(path, openFlags);
  } catch (error) {
    return { ok: false, problem: problemOf(error) };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, problem: "not-a-file" };
    if (stats.size > maxBytes) return { ok: false, problem: "too-large" };
    // Read to end of file, not to fstat's size: a file that grew meanwhile is refused, not cut.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(readChunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) return { ok: false, problem: "too-large" };
    }
    return { ok: true, value: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total) };
  } catch (error) {
    return { ok: false, problem: problemOf(error) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function problemOf(error: unknown): RuntimeFileProblem {
  switch (errnoCode(error) ?? "") {
    case "ENOENT":
    case "ENOTDIR":
    case "ESRCH":
      return "missing";
    case "ELOOP":
      return "symlink";
    case "EISDIR":
    case "ENXIO":
      return "not-a-file";
    default:
      return "unreadable";
  }
}

function withDeadline<T>(work: Promise<RuntimeFileResult<T>>, deadlineMs: number): Promise<RuntimeFileResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<RuntimeFileResult<T>>((resolve) => {
    timer = setTimeout(() => { resolve({ ok: false, problem: "timeout" }); }, deadlineMs);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => { clearTimeout(timer); });
}

/** A string field of parsed JSON, bounded; null when absent, empty, of another type or too long. */
export function nameField(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 && value.length <= maxNameChars ? value : null;
}

/** An object field of parsed JSON (not an array); null otherwise. */
export function objectField(value: unknown): Readonly<Record<string, unknown>> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Readonly<Record<string, unknown>>) : null;
}
