/**
 * Parsers for the per-process procfs files identity needs: stat, status (Uid), cmdline, and
 * /proc/stat's btime. Pure functions over text, so they are table-tested without any tree.
 */

/** USER_HZ: the unit of /proc/PID/stat times. Fixed at 100 on every Linux architecture AWS runs. */
export const clockTicksPerSecond = 100;

export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  /** One letter: R, S, D, Z, T, t, X, I, ... */
  readonly state: string;
  readonly ppid: number;
  /** Field 22, in clock ticks after boot. */
  readonly startTimeTicks: number;
}

/** Index of starttime (field 22) among the fields after "comm)", where field 3 (state) is 0. */
const startTimeIndexAfterComm = 22 - 3;

/**
 * Parses /proc/PID/stat. comm sits in parentheses and may itself contain spaces and ")" (a
 * process can name itself "a) (b"), so it ends at the LAST ")" of the line: nothing after comm
 * can contain one. Returns null for anything malformed.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open <= 0 || close < open) return null;
  const pid = parsePositiveInteger(text.slice(0, open).trim());
  if (pid === null) return null;
  const fields = text.slice(close + 1).trim().split(" ");
  const state = fields[0];
  const ppid = parseNonNegativeInteger(fields[1]);
  const startTimeTicks = parseNonNegativeInteger(fields[startTimeIndexAfterComm]);
  if (state === undefined || state.length !== 1 || ppid === null || startTimeTicks === null) return null;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTimeTicks };
}

/** Effective uid from /proc/PID/status ("Uid:\treal\teffective\tsaved\tfs"); null if absent. */
export function parseStatusEffectiveUid(text: string): number | null {
  const match = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return match === null ? null : parseNonNegativeInteger(match[1]);
}

/**
 * Splits /proc/PID/cmdline on NUL. The kernel ends it with one NUL (dropped here); a process
 * that rewrote its argv area (setproctitle) may have no NUL at all and gives one string.
 */
export function parseCmdline(text: string): string[] {
  if (text.length === 0) return [];
  const argv = text.split("\0");
  if (argv[argv.length - 1] === "") argv.pop();
  return argv;
}

/** "btime SECONDS" from /proc/stat; null if absent. */
export function parseBootTimeSeconds(text: string): number | null {
  const match = /^btime (\d+)$/m.exec(text);
  return match === null ? null : parseNonNegativeInteger(match[1]);
}

/** ISO time of a process start; null when boot time is unknown. */
export function startTimeIso(bootTimeSeconds: number | null, startTimeTicks: number): string | null {
  if (bootTimeSeconds === null) return null;
  const millis = bootTimeSeconds * 1000 + (startTimeTicks * 1000) / clockTicksPerSecond;
  return new Date(Math.round(millis)).toISOString();
}

function parseNonNegativeInteger(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return null;
  return Number(text);
}

function parsePositiveInteger(text: string): number | null {
  const value = parseNonNegativeInteger(text);
  return value === null || value === 0 ? null : value;
}
