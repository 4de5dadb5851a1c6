import { UsageError } from "../errors.js";

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "10m", "90s", "1h30m", "500ms", "2d" -> milliseconds; a bare number means seconds. */
export function parseDurationMs(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(trimmed); match !== null; match = pattern.exec(trimmed)) {
    total += Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
    consumed = pattern.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length || total <= 0) {
    throw new UsageError(`invalid duration "${text}" (examples: 90s, 10m, 1h30m, 2d)`);
  }
  return Math.round(total);
}

/** setTimeout's longest delay, about 24.8 days: Node runs a callback with a longer one at once. */
export const longestTimerMs = 2 ** 31 - 1;

/**
 * Calls `callback` once `ms` milliseconds have passed, however long that is: a delay beyond
 * setTimeout's limit is waited out in chunks (a plain `--duration 30d` timer ended the capture at
 * once). Returns the function that cancels it.
 */
export function afterDuration(ms: number, callback: () => void): () => void {
  let remaining = ms;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const chunk = Math.min(remaining, longestTimerMs);
    remaining -= chunk;
    timer = setTimeout(remaining > 0 ? arm : callback, chunk);
  };
  arm();
  return () => { clearTimeout(timer); };
}
