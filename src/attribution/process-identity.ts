/**
 * Who a pid is, read from /proc while the process is alive: start time, comm, exe, argv
 * (redacted), uid and user, parent chain, and the cgroup file the enrichers read (enrichment.ts).
 *
 * A pid names a process only together with its start time: pids are reused. So the first read
 * is /proc/PID/stat (start time), every other file is read after it, and stat is read again at
 * the end: if the start time changed (or the process vanished) in between, the files may mix
 * two processes and the result is a failure rather than a blend. If the caller already knows
 * the start time (eBPF reads it at connect time), a different one means "pid-reused".
 */
import { readlinkSync } from "node:fs";
import { join } from "node:path";
import {
  clockTicksPerSecond,
  parseBootTimeSeconds,
  parseCmdline,
  parseProcStat,
  parseStatusEffectiveUid,
  startTimeIso,
  type ProcStat,
} from "./procfs-process-files.js";
import { failureFromProcessError, maxSmallProcFileBytes, readBoundedText, readProcfsTextSync } from "./procfs-read.js";
import { RecencyMap } from "./recency-map.js";
import { redactArgv } from "./redact.js";
import { attributionFailure, type AttributionFailure, type ParentProcess, type ProcessIdentity } from "./types.js";
import { lookupUserName } from "./user-names.js";

export type { AttributionFailure, ParentProcess, ProcessIdentity } from "./types.js";
// One import site for the attributor: identity and the redaction it also applies to kernel argv.
export { redactArgv } from "./redact.js";

export interface ReadProcessIdentityOptions {
  /** Where procfs is mounted; tests point this at a fake tree. Default "/proc". */
  readonly procRoot?: string;
  /** Directory holding the passwd file used for uid -> user. Default "/etc". */
  readonly etcRoot?: string;
  /** Start time (stat field 22) the caller saw for this pid; a different one is "pid-reused". */
  readonly expectedStartTimeTicks?: number;
  /**
   * false: leave the process's own cmdline unread (`cmdline` is then []), for a caller that has
   * argv already (the kernel read it at connect time): it is the one file of the process still
   * read through the thread pool, 70-90 µs of CPU (bench/procfs-read.bench-run.ts) of the
   * 240-280 µs a whole identity costs. The parents' are always read.
   */
  readonly readCmdline?: boolean;
}

/** Most ancestors listed: deep enough for any real tree, bounded against a loop in a fake one. */
export const maxParentDepth = 32;
/**
 * Raw cmdline bytes read. argv can be up to 2 MiB; the redacted result is bounded to 4 KiB and
 * redaction never shrinks text below a third, so 64 KiB of input covers every byte that can show.
 */
export const maxCmdlineReadBytes = 64 * 1024;

export async function readProcessIdentity(
  pid: number,
  options: ReadProcessIdentityOptions = {},
): Promise<ProcessIdentity | AttributionFailure> {
  const procRoot = options.procRoot ?? "/proc";
  const etcRoot = options.etcRoot ?? "/etc";
  if (!Number.isSafeInteger(pid) || pid <= 0) return attributionFailure("error", `invalid pid ${pid}`);
  const processDir = join(procRoot, String(pid));

  const first = readStat(processDir);
  if (!isProcStat(first)) return first;
  if (options.expectedStartTimeTicks !== undefined && first.startTimeTicks !== options.expectedStartTimeTicks) {
    return attributionFailure(
      "pid-reused",
      `pid ${pid} started at tick ${first.startTimeTicks}, expected ${options.expectedStartTimeTicks}`,
    );
  }

  // cmdline is the one file that can wait (procfs-read.ts, readProcfsTextSync): its read runs
  // in the thread pool while the others are read synchronously.
  const pendingCmdline = options.readCmdline === false ? Promise.resolve([]) : readRedactedCmdline(processDir);
  const statusText = readSmallFile(processDir, "status");
  const exe = readExe(processDir);
  const cgroup = readSmallFile(processDir, "cgroup");
  const [cmdline, bootTimeSeconds, parents] = await Promise.all([pendingCmdline, readBootTimeSeconds(procRoot), readParents(procRoot, first)]);
  if (typeof statusText !== "string") return statusText;
  const uid = parseStatusEffectiveUid(statusText);
  if (uid === null) return attributionFailure("error", `no Uid line in ${join(processDir, "status")}`);
  const user = await lookupUserName(uid, etcRoot);

  const last = readStat(processDir);
  if (!isProcStat(last)) return last;
  if (last.startTimeTicks !== first.startTimeTicks) {
    return attributionFailure("pid-reused", `pid ${pid} was reused while it was being read`);
  }

  return {
    pid,
    startTimeTicks: first.startTimeTicks,
    startTime: startTimeIso(bootTimeSeconds, first.startTimeTicks),
    comm: first.comm,
    exe: exe.exe,
    exeDenied: exe.denied,
    cmdline: cmdline ?? [],
    uid,
    user,
    parents,
    cgroupFile: typeof cgroup === "string" ? cgroup : null,
  };
}

function isProcStat(value: ProcStat | AttributionFailure): value is ProcStat {
  return !("status" in value);
}

function readStat(processDir: string): ProcStat | AttributionFailure {
  const path = join(processDir, "stat");
  const text = readSmallFile(processDir, "stat");
  if (typeof text !== "string") return text;
  return parseProcStat(text) ?? attributionFailure("error", `cannot parse ${path}`);
}

/** stat, status or cgroup of a process, read synchronously (readProcfsTextSync says why); never throws. */
function readSmallFile(processDir: string, name: "stat" | "status" | "cgroup"): string | AttributionFailure {
  const path = join(processDir, name);
  try {
    return readProcfsTextSync(path, maxSmallProcFileBytes);
  } catch (error) {
    return failureFromProcessError(error, path);
  }
}

/**
 * /proc/PID/exe: absent for kernel threads and zombies (ENOENT), unreadable for another user's
 * process without CAP_SYS_PTRACE (EACCES). Neither is a reason to drop the rest: null, with
 * `denied` telling the second apart (the attribution is then partial, not complete).
 */
function readExe(processDir: string): { exe: string | null; denied: boolean } {
  try {
    // Synchronous: the kernel answers from the process's exe_file, never from disk.
    return { exe: readlinkSync(join(processDir, "exe")), denied: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    return { exe: null, denied: code === "EACCES" || code === "EPERM" };
  }
}

/** Redacted argv; null when unreadable (the final stat check tells whether the process left). */
async function readRedactedCmdline(processDir: string): Promise<string[] | null> {
  try {
    return redactArgv(parseCmdline(await readBoundedText(join(processDir, "cmdline"), maxCmdlineReadBytes)));
  } catch {
    return null;
  }
}

/**
 * Ancestors via stat's ppid, up to pid 1. A parent that exited (its child was reparented after
 * our stat read) or whose pid now belongs to a younger process ends the chain: a parent cannot
 * start after its child.
 */
async function readParents(procRoot: string, child: ProcStat): Promise<ParentProcess[]> {
  const parents: ParentProcess[] = [];
  /** Cache keys of the entries read here (index i: the chain from parents[i] up). */
  const readKeys: string[] = [];
  let ppid = child.ppid;
  let childStartTicks = child.startTimeTicks;
  while (ppid > 0 && parents.length < maxParentDepth) {
    const parentDir = join(procRoot, String(ppid));
    const stat = readStat(parentDir);
    if (!isProcStat(stat) || stat.startTimeTicks > childStartTicks) break;
    const key = `${procRoot}|${ppid}:${stat.startTimeTicks}`;
    const known = recentAncestorChains.get(key);
    if (known !== undefined && Date.now() - known.readAtMs <= ancestorChainReuseMs) {
      parents.push(...known.chain.slice(0, maxParentDepth - parents.length));
      break;
    }
    parents.push({ pid: ppid, comm: stat.comm, cmdline: (await readRedactedCmdline(parentDir)) ?? [] });
    readKeys.push(key);
    if (ppid === 1) break;
    childStartTicks = stat.startTimeTicks;
    ppid = stat.ppid;
  }
  const readAtMs = Date.now();
  readKeys.forEach((key, index) => { recentAncestorChains.set(key, { chain: parents.slice(index), readAtMs }); });
  return parents;
}

/**
 * Ancestor chains read in the last moment, by proc root, pid and start time: the one-shot
 * callers of one script or service share their parents, and reading every ancestor's stat and
 * command line again for each caller made a call from a new process cost many times one from
 * a process already known (issue 13). The parent's own stat is always read (it proves the pid
 * is still that process); what lies above it is reused for `ancestorChainReuseMs`.
 */
const recentAncestorChains = new RecencyMap<string, { readonly chain: readonly ParentProcess[]; readonly readAtMs: number }>(1024);
const ancestorChainReuseMs = 1000;

const bootTimeByProcRoot = new Map<string, number>();

/** btime from /proc/stat; constant for a boot, so cached per proc root once read. */
export async function readBootTimeSeconds(procRoot: string): Promise<number | null> {
  const cached = bootTimeByProcRoot.get(procRoot);
  if (cached !== undefined) return cached;
  try {
    const bootTimeSeconds = parseBootTimeSeconds(await readBoundedText(join(procRoot, "stat"), 1024 * 1024));
    if (bootTimeSeconds !== null) bootTimeByProcRoot.set(procRoot, bootTimeSeconds);
    return bootTimeSeconds;
  } catch {
    return null; // no /proc/stat under this root: start times stay relative (ticks only)
  }
}

/**
 * Now, in the clock of stat's start time (USER_HZ ticks since boot), from /proc/uptime; null
 * when it cannot be read (a fake tree without it). A process whose start time is below this
 * value was already running when it was read: it cannot have taken a pid freed later.
 */
export async function readUptimeTicks(procRoot: string): Promise<number | null> {
  let text: string;
  try {
    text = await readBoundedText(join(procRoot, "uptime"), 1024);
  } catch {
    return null;
  }
  const match = /^(\d+)\.(\d{2})\s/.exec(text);
  if (match === null) return null;
  return Number(match[1]) * clockTicksPerSecond + Number(match[2]) * (clockTicksPerSecond / 100);
}
