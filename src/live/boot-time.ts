import { bootWindowToleranceSeconds } from "../summary.js";

/** What a live summary says about the boot: when it was, and whether the capture watched it. */
export interface BootObservation {
  readonly bootTime: string | null;
  readonly windowIncludesBoot: boolean | null;
}

/**
 * `bootSeconds` is /proc/stat's btime (readBootTimeSeconds in attribution/process-identity.ts,
 * null when unreadable). A capture that started at most `bootWindowToleranceSeconds` after the
 * boot watched the boot-time callers.
 */
export function observeBoot(captureStartMs: number, bootSeconds: number | null): BootObservation {
  if (bootSeconds === null) return { bootTime: null, windowIncludesBoot: null };
  const bootMs = bootSeconds * 1000;
  return {
    bootTime: new Date(bootMs).toISOString(),
    windowIncludesBoot: captureStartMs >= bootMs && captureStartMs - bootMs <= bootWindowToleranceSeconds * 1000,
  };
}
