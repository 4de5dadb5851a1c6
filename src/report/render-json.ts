import type { ImdsReport } from "./types.js";

/** The JSON report: the report object itself, pretty-printed, one trailing newline. */
export function renderJson(report: ImdsReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
