/** Text helpers shared by the verdict reasons and the renderers. */

/** "0.412 s", "42 s", "12 min 3 s", "26 h 3 min", "3 d 2 h": two units at most. */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${trimNumber(seconds, 3)} s`;
  const whole = Math.round(seconds);
  const units = [
    { name: "d", seconds: 86_400 },
    { name: "h", seconds: 3600 },
    { name: "min", seconds: 60 },
    { name: "s", seconds: 1 },
  ] as const;
  for (let index = 0; index < units.length; index++) {
    const unit = units[index]!;
    if (whole < unit.seconds) continue;
    const count = Math.floor(whole / unit.seconds);
    const next = units[index + 1];
    const rest = next === undefined ? 0 : Math.floor((whole - count * unit.seconds) / next.seconds);
    return next === undefined || rest === 0 ? `${count} ${unit.name}` : `${count} ${unit.name} ${rest} ${next.name}`;
  }
  return `${whole} s`;
}

/** A number with at most `digits` decimals and no trailing zeros: 0.41200 -> "0.412". */
export function trimNumber(value: number, digits: number): string {
  return String(Number(value.toFixed(digits)));
}

/** 0.9734 -> "97.3%"; 1 -> "100%". */
export function formatShare(share: number): string {
  return `${trimNumber(share * 100, 1)}%`;
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** Cuts text for one-line display; the full text stays in the JSON report. */
export function truncateText(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 3)}...`;
}

/** Seconds between two times, to the millisecond. */
export function secondsBetween(startMs: number, endMs: number): number {
  return Math.round(endMs - startMs) / 1000;
}
