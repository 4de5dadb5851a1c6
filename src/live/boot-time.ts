import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bootWindowToleranceSeconds } from "../summary.js";

/** The host's boot time from the `btime` line of /proc/stat (seconds since the epoch), or null. */
export function parseBootTimeSeconds(procStat: string): number | null {
  const match = /^btime\s+(\d{1,12})\s*$/m.exec(procStat);
  return match === null ? null : Number(match[1]);
}

/** What a live summary says about the boot: when it was, and whether the capture watched it. */
export interface BootObservation {
  readonly bootTime: string | null;
  readonly windowIncludesBoot: boolean | null;
}

/**
 * Reads `<procRoot>/stat` once; never throws (an unreadable file gives nulls). A capture that
 * started at most `bootWindowToleranceSeconds` after the boot watched the boot-time callers.
 */
export function observeBoot(captureStartMs: number, procRoot = "/proc"): BootObservation {
  let bootSeconds: number | null = null;
  try {
    bootSeconds = parseBootTimeSeconds(readFileSync(join(procRoot, "stat"), "latin1"));
  } catch {
    bootSeconds = null;
  }
  if (bootSeconds === null) return { bootTime: null, windowIncludesBoot: null };
  const bootMs = bootSeconds * 1000;
  return {
    bootTime: new Date(bootMs).toISOString(),
    windowIncludesBoot: captureStartMs >= bootMs && captureStartMs - bootMs <= bootWindowToleranceSeconds * 1000,
  };
}
