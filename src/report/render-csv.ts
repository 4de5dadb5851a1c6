/**
 * The fix list as CSV (RFC 4180), one row per fix, most hosts blocked first: for a spreadsheet
 * or a ticket tracker's import. Columns are documented in docs/REPORT.md. Every cell is quoted
 * when it holds a comma, quote or line break; text cells that a spreadsheet would take for a
 * formula (starting with =, +, -, @, tab or carriage return) get a leading apostrophe, and
 * control characters become spaces: event text is chosen by whoever runs code on a host.
 */
import type { FixReport, ImdsReport } from "./types.js";

type Cell = string | number | boolean | null;

export const csvColumns: readonly { readonly name: string; readonly value: (fix: FixReport, rank: number) => Cell }[] = [
  { name: "rank", value: (_fix, rank) => rank },
  { name: "fix_id", value: (fix) => fix.id },
  { name: "title", value: (fix) => fix.title },
  { name: "reason", value: (fix) => fix.reason },
  { name: "fallback_cause", value: (fix) => fix.fallbackCause },
  { name: "program_identified_by", value: (fix) => fix.program.identifiedBy },
  { name: "program", value: (fix) => fix.program.name },
  { name: "program_from", value: (fix) => fix.program.from },
  { name: "program_derived", value: (fix) => fix.program.derived },
  { name: "sdk", value: (fix) => fix.sdk?.name ?? null },
  { name: "sdk_version", value: (fix) => fix.sdk?.version ?? null },
  { name: "host_count", value: (fix) => fix.hostCount },
  { name: "example_hosts", value: (fix) => fix.exampleHosts.join(" ") },
  { name: "caller_count", value: (fix) => fix.callerCount },
  { name: "v1_calls", value: (fix) => fix.v1 },
  { name: "v2_calls", value: (fix) => fix.v2 },
  { name: "token_requests", value: (fix) => fix.tokenRequests },
  { name: "credentials_via_v1", value: (fix) => fix.credentialPaths },
  { name: "credential_host_count", value: (fix) => fix.credentialHostCount },
  { name: "in_container", value: (fix) => fix.inContainer },
  { name: "hop_limit_needed", value: (fix) => fix.hopLimitNeeded },
  { name: "workloads", value: (fix) => fix.placement.workloads.join("; ") },
  { name: "images", value: (fix) => fix.placement.images.join("; ") },
  { name: "ecs_tasks", value: (fix) => fix.placement.ecsTasks.join("; ") },
  { name: "first_seen", value: (fix) => fix.firstSeen },
  { name: "last_seen", value: (fix) => fix.lastSeen },
  { name: "advice", value: (fix) => fix.advice },
];

const controlCharacters = /[\u0000-\u001f\u007f\u2028\u2029]/g;

/** One CSV cell: numbers and booleans as is, null empty, text neutralised and quoted when needed. */
export function csvCell(value: Cell): string {
  if (value === null) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  let text = value.replace(controlCharacters, " ");
  if (/^[=+\-@\t\r]/.test(value)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The fix list as CSV with a header row and CRLF line ends. */
export function renderCsv(report: ImdsReport): string {
  const lines = [csvColumns.map((column) => column.name).join(",")];
  report.fixes.forEach((fix, index) => {
    lines.push(csvColumns.map((column) => csvCell(column.value(fix, index + 1))).join(","));
  });
  return `${lines.join("\r\n")}\r\n`;
}
