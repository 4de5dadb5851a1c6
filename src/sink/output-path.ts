/**
 * Opens output files safely. imds-analyzer usually runs as root and its outputs are often given
 * as paths in /tmp, where any user can create names: the classic attack pre-creates
 * /tmp/events.ndjson as a symbolic link to /etc/shadow (or a hard link to it, or a file of the
 * attacker's own that they can read), and a root process that opens the path clobbers or leaks
 * the target. The kernel's fs.protected_symlinks / protected_regular / protected_hardlinks
 * sysctls stop some of this, but they are off on some hosts (and in some containers).
 *
 * The rule, applied to every file the CLI writes (events, rotated events, summary, report,
 * --write-pcap):
 * - A symbolic link found anywhere on the path inside a world-writable or sticky directory
 *   (/tmp, /var/tmp, /dev/shm) is refused: anyone could have made it point anywhere. Symbolic
 *   links elsewhere (directories only root or the user can write) are followed as before, so
 *   /dev/stdout and a link the administrator made in /var/log keep working.
 * - An existing file in such a directory must belong to this user and have no other hard link.
 * - The last component is opened with O_NOFOLLOW when it was not a link (a link swapped in
 *   after the check fails the open), and a file that did not exist in such a directory is
 *   created with O_EXCL (a file another user slipped in after the check fails the open).
 * - Files are created with mode 0600, and an existing regular file of ours is set to 0600 too:
 *   outputs name hosts and processes, and --write-pcap files hold credentials.
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readlinkSync, rmSync, statSync, writeFile } from "node:fs";
import type { Stats } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { OutputError, UnsafeOutputPathError } from "../errors.js";

/** Mode of every output file the CLI creates. */
export const outputFileMode = 0o600;
/** Mode of a directory the CLI creates for its outputs (the service's log directory). */
const directoryMode = 0o700;
/** The kernel's own limit on symbolic links followed in one path lookup (ELOOP beyond it). */
const maxSymlinksFollowed = 40;
const otherWriteBit = 0o002;
const stickyBit = 0o1000;

export interface OutputOpenOptions {
  /** What the file is, for messages: "the events file", "the report". */
  readonly what: string;
  /** Append to an existing file (events) instead of replacing its contents. */
  readonly append?: boolean;
  /** Mode to create (or set on an existing file of ours) when not outputFileMode (0600). */
  readonly mode?: number;
}

/** Where a path leads, as far as it exists. */
export interface OutputPathInspection {
  /** The real directory the file is (or would be) in, symbolic links resolved. */
  readonly directory: string;
  /** lstat of the file itself (after following allowed links), or null when it does not exist. */
  readonly file: Stats | null;
  /** Whether that directory is world-writable or sticky (anyone may create names in it). */
  readonly sharedDirectory: boolean;
  /** Whether the last component of the path as given is a symbolic link (followed: allowed). */
  readonly lastComponentIsLink: boolean;
}

/** A directory where other users can create names: world-writable, or sticky. */
export function isSharedDirectoryMode(mode: number): boolean {
  return (mode & otherWriteBit) !== 0 || (mode & stickyBit) !== 0;
}

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? String(error);
}

/**
 * Walks the path one component at a time as the kernel would, lstat-ing each and expanding
 * symbolic links itself, so that every link on the way is judged by the directory it lives in.
 * Throws UnsafeOutputPathError for a link in a shared directory. Components that do not exist
 * end the walk (the open that follows reports ENOENT where it matters).
 */
export function inspectOutputPath(path: string): OutputPathInspection {
  const absolute = isAbsolute(path) ? path : join(process.cwd(), path);
  const given = splitComponents(absolute);
  // Each component remembers whether it is the last one of the path as given (links expand
  // into components of their own, which are not).
  let pending = given.map((name, index) => ({ name, isLastGiven: index === given.length - 1 }));
  let directory = "/";
  let linksFollowed = 0;
  let lastComponentIsLink = false;
  let file: Stats | null = null;
  while (pending.length > 0) {
    const { name, isLastGiven } = pending.shift()!;
    if (name === "..") {
      directory = dirname(directory);
      file = null;
      continue;
    }
    const candidate = join(directory, name);
    let stats: Stats;
    try {
      stats = lstatSync(candidate);
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") {
        file = null;
        break;
      }
      throw new OutputError(path, `cannot check the path (${candidate}: ${code})`, { cause: error });
    }
    if (stats.isSymbolicLink()) {
      if (isLastGiven) lastComponentIsLink = true;
      if (isSharedDirectoryMode(statSync(directory).mode)) {
        throw new UnsafeOutputPathError(
          path,
          `refusing to write through the symbolic link ${candidate} in the world-writable directory ${directory} (another user could point it at any file); give the real path`,
        );
      }
      if (++linksFollowed > maxSymlinksFollowed) throw new OutputError(path, "cannot check the path (ELOOP: too many symbolic links)");
      const target = readlinkSync(candidate);
      if (isAbsolute(target)) directory = "/";
      // The components of the target replace the link; the original ones left come after.
      pending = [...splitComponents(target).map((part) => ({ name: part, isLastGiven: false })), ...pending];
      file = null;
      continue;
    }
    if (pending.length === 0) {
      file = stats;
      break;
    }
    directory = candidate;
  }
  let sharedDirectory = false;
  try {
    sharedDirectory = isSharedDirectoryMode(statSync(directory).mode);
  } catch {
    // an unreachable directory: the open reports it
  }
  return { directory, file, sharedDirectory, lastComponentIsLink };
}

function splitComponents(path: string): string[] {
  return path.split("/").filter((component) => component.length > 0 && component !== ".");
}

/**
 * Opens PATH for writing (truncating, or appending with `append`), mode 0600, after the checks
 * in this module's comment. Returns the file descriptor; the caller closes it. Throws
 * UnsafeOutputPathError for a refused path, OutputError when the open fails.
 */
export function openOutputFile(path: string, options: OutputOpenOptions): number {
  return openCheckedOutputFile(path, options, false).descriptor;
}

/** An output file opened ahead of the run that writes it (see reserveOutputFile). */
export interface ReservedOutputFile {
  /** The file is wanted after all: empties it (if it held anything) and hands over its descriptor. */
  commit(): number;
  /** The run will not happen: closes the descriptor, and removes the file if this opened it into being. */
  abandon(): void;
}

/**
 * Opens PATH by the same rules as openOutputFile, but leaves its contents alone until `commit`:
 * a run that checks its output path first and fails at a later start step (a live capture whose
 * device will not open) then neither leaks the descriptor nor leaves an empty file, nor empties
 * a file that was there before.
 */
export function reserveOutputFile(path: string, options: Omit<OutputOpenOptions, "append">): ReservedOutputFile {
  const { descriptor, created } = openCheckedOutputFile(path, options, true);
  let open = true;
  return {
    commit(): number {
      if (!open) throw new OutputError(path, `${options.what} was already handed over or abandoned`);
      open = false;
      try {
        // Only a regular file has contents to drop (not /dev/stdout, a FIFO).
        if (fstatSync(descriptor).isFile()) ftruncateSync(descriptor, 0);
      } catch (error) {
        closeSync(descriptor);
        throw new OutputError(path, `cannot empty ${options.what}: ${errnoCode(error)}`, { cause: error });
      }
      return descriptor;
    },
    abandon(): void {
      if (!open) return;
      open = false;
      closeSync(descriptor);
      // Removed by name only when this open created it: nobody else had a file there.
      if (created) rmSync(path, { force: true });
    },
  };
}

function openCheckedOutputFile(path: string, options: OutputOpenOptions, keepContents: boolean): { descriptor: number; created: boolean } {
  const mode = options.mode ?? outputFileMode;
  const found = inspectOutputPath(path);
  const userId = process.geteuid?.() ?? -1;
  if (found.file !== null && found.sharedDirectory) {
    if (found.file.uid !== userId) {
      throw new UnsafeOutputPathError(path, `refusing to write ${options.what}: the file belongs to uid ${found.file.uid} and is in the world-writable directory ${found.directory}`);
    }
    if (found.file.isFile() && found.file.nlink > 1) {
      throw new UnsafeOutputPathError(path, `refusing to write ${options.what}: the file has ${found.file.nlink - 1} other hard link(s) and is in the world-writable directory ${found.directory}`);
    }
  }
  let flags = constants.O_WRONLY | constants.O_CREAT | (options.append ? constants.O_APPEND : keepContents ? 0 : constants.O_TRUNC);
  if (!found.lastComponentIsLink) flags |= constants.O_NOFOLLOW;
  // Exclusive where it matters for safety, and where the caller must know it created the file.
  if (found.file === null && (found.sharedDirectory || keepContents)) flags |= constants.O_EXCL;
  let descriptor: number;
  try {
    descriptor = openSync(path, flags, mode);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ELOOP" && !found.lastComponentIsLink) {
      throw new UnsafeOutputPathError(path, `refusing to write ${options.what}: the path became a symbolic link while it was being opened`);
    }
    if (code === "EEXIST" && found.file === null) {
      throw new UnsafeOutputPathError(path, `refusing to write ${options.what}: another process created the file in ${found.directory} while it was being opened`);
    }
    throw new OutputError(path, `cannot open ${options.what}: ${code}`, { cause: error });
  }
  try {
    const opened = fstatSync(descriptor);
    // A file of ours that existed with looser permissions gets 0600 too (not devices or FIFOs).
    if (opened.isFile() && opened.uid === userId && (opened.mode & 0o777) !== mode) fchmodSync(descriptor, mode);
  } catch (error) {
    closeSync(descriptor);
    throw new OutputError(path, `cannot set mode ${mode.toString(8).padStart(4, "0")} on ${options.what}: ${errnoCode(error)}`, { cause: error });
  }
  return { descriptor, created: found.file === null };
}

/**
 * Makes sure DIRECTORY exists as a directory of this user with mode 0700 (the service's log
 * directory), by the same rules as files: a symbolic link on the way in a world-writable or
 * sticky directory is refused, and so is an existing directory there that another user owns
 * (they could swap its contents for links later). Missing directories are created 0700; the
 * final one is opened without following a link and set to 0700 through its descriptor, so a link
 * swapped in after the check is not followed.
 */
export function prepareOutputDirectory(path: string, what: string): void {
  const found = inspectOutputPath(path);
  const userId = process.geteuid?.() ?? -1;
  const refuseForeign = (owner: number): void => {
    if (found.sharedDirectory && owner !== userId) {
      throw new UnsafeOutputPathError(path, `refusing to use ${what}: it belongs to uid ${owner} and is in the world-writable directory ${found.directory}`);
    }
  };
  if (found.file !== null) {
    if (!found.file.isDirectory()) throw new OutputError(path, `cannot use ${what}: it exists and is not a directory`);
    refuseForeign(found.file.uid);
  } else {
    try {
      mkdirSync(path, { recursive: true, mode: directoryMode });
    } catch (error) {
      throw new OutputError(path, `cannot create ${what}: ${errnoCode(error)}`, { cause: error });
    }
    // Another user may have made a link on the way while the parents were being created.
    inspectOutputPath(path);
  }
  let descriptor: number;
  try {
    descriptor = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | (found.lastComponentIsLink ? 0 : constants.O_NOFOLLOW));
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ELOOP" || code === "ENOTDIR") throw new UnsafeOutputPathError(path, `refusing to use ${what}: it was replaced while it was being opened`);
    throw new OutputError(path, `cannot open ${what}: ${code}`, { cause: error });
  }
  try {
    const opened = fstatSync(descriptor);
    // Created by someone else between the check and the mkdir (which accepts an existing one).
    refuseForeign(opened.uid);
    if ((opened.mode & 0o777) !== directoryMode) fchmodSync(descriptor, directoryMode);
  } catch (error) {
    if (error instanceof UnsafeOutputPathError) throw error;
    throw new OutputError(path, `cannot set mode 0700 on ${what}: ${errnoCode(error)}`, { cause: error });
  } finally {
    closeSync(descriptor);
  }
}

const writeToDescriptor = promisify(writeFile);

/** Writes a whole output file (summary, report) through openOutputFile. */
export async function writeOutputFile(path: string, text: string, what: string): Promise<void> {
  const descriptor = openOutputFile(path, { what });
  try {
    await writeToDescriptor(descriptor, text);
  } catch (error) {
    throw new OutputError(path, `cannot write ${what}: ${errnoCode(error)}`, { cause: error });
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Whether this process can create files in DIRECTORY by its permission bits alone, without
 * CAP_DAC_OVERRIDE (what live capture keeps only when an output needs it after start).
 */
export function directoryWritableWithoutOverride(directory: string): boolean {
  let stats: Stats;
  try {
    stats = statSync(directory);
  } catch {
    return false;
  }
  const userId = process.geteuid?.() ?? -1;
  if (stats.uid === userId) return (stats.mode & 0o300) === 0o300;
  const groups = new Set([process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])]);
  if (groups.has(stats.gid)) return (stats.mode & 0o030) === 0o030;
  return (stats.mode & 0o003) === 0o003;
}
