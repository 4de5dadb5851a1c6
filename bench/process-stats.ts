/**
 * What the benches read of the analyzer's process in /proc: CPU time and status fields.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export const clockTicksPerSecond = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** utime + stime of a process (all threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm) ": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** A "kB" field of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...), in KiB; NaN when absent. */
export function statusKiB(pid: number, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
}
