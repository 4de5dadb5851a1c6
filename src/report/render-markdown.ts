import { plural, truncateText } from "./format.js";
import { hostLabel } from "./host-identity.js";
import {
  enforcementIntro,
  fixCallsText,
  fixesCutText,
  fixPlacementLines,
  fixProgramText,
  unknownCauseLabel,
  unknownHostsByCause,
  verdictCounts,
  healthRows,
  processLines,
  reasonLabel,
  sdkText,
  statusesText,
  userAgentsText,
  verdictLabel,
  verdictSummary,
  windowText,
  pathCountsText,
  pathsSummary,
} from "./render-common.js";
import type { CallerReport, FixReport, ImdsReport } from "./types.js";

export interface MarkdownOptions {
  /** Callers listed in detail (IMDSv1 callers first); the JSON report has them all. */
  readonly maxCallers?: number;
  /** Hosts listed in the fleet table. */
  readonly maxHosts?: number;
}

/** Control characters (and Unicode line separators) never reach the output as such. */
const controlCharacters = /[\u0000-\u001f\u007f\u2028\u2029]/g;

/**
 * Markdown escaping for prose that quotes input (User-Agents, command lines and paths are
 * chosen by whoever runs code on the host): control characters become spaces, the characters
 * that start emphasis, code, links, headings or table cells are backslash-escaped, and HTML's
 * `<`, `>` and `&` become entities, so nothing renders as a link, an image, HTML or a table break.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(controlCharacters, " ")
    .replace(/[\\`*_[\]|~#]/g, (character) => `\\${character}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

/**
 * Input text as a code span: shown literally (no Markdown, no HTML inside), fenced with more
 * backticks than the text holds. In a table cell `|` is escaped so the cell cannot be split (GFM
 * removes the backslash there, even inside code).
 */
export function codeSpan(text: string, inTable = false): string {
  const withoutControls = text.replace(controlCharacters, " ");
  const clean = inTable ? withoutControls.replace(/\|/g, "\\|") : withoutControls;
  if (clean.length === 0) return "` `";
  let longestRun = 0;
  for (const run of clean.match(/`+/g) ?? []) longestRun = Math.max(longestRun, run.length);
  const fence = "`".repeat(longestRun + 1);
  const padded = clean.startsWith("`") || clean.endsWith("`") || (clean.startsWith(" ") && clean.endsWith(" ")) ? ` ${clean} ` : clean;
  return `${fence}${padded}${fence}`;
}

/** Under this whatever the fleet: sections stop adding rows when their share is spent. */
export const markdownBudgetBytes = 300 * 1024;

/**
 * Lines added until a byte budget is spent; what did not fit is counted so the section can say
 * what was cut and where the rest is.
 */
class BudgetedLines {
  readonly lines: string[] = [];
  private bytes = 0;
  cut = 0;

  constructor(private readonly budgetBytes: number) {}

  /** Adds the lines if they fit, else counts one item cut; returns whether they were added. */
  add(...lines: string[]): boolean {
    const size = lines.reduce((sum, line) => sum + Buffer.byteLength(line, "utf8") + 1, 0);
    if (this.cut > 0 || this.bytes + size > this.budgetBytes) {
      this.cut++;
      return false;
    }
    this.bytes += size;
    this.lines.push(...lines);
    return true;
  }
}

/** Each section's share of markdownBudgetBytes (the rest: headings, health, commands, notes). */
const sectionBudgets = { fixTable: 70 * 1024, fixDetails: 60 * 1024, hosts: 70 * 1024, callers: 40 * 1024, callerDetails: 30 * 1024, malformed: 12 * 1024 } as const;

/**
 * The report as Markdown: the verdict, then the fix list (what must change, over every host),
 * the commands, the summaries, a short per-host table and, for a single host, its callers.
 * Stays under markdownBudgetBytes whatever the fleet size: every section with a row per fix,
 * host or caller stops when its share is spent and says how many rows are in the JSON report.
 */
export function renderMarkdown(report: ImdsReport, options: MarkdownOptions = {}): string {
  const maxCallers = options.maxCallers ?? 200;
  const maxHosts = options.maxHosts ?? 1000;
  const fleet = report.hosts.length > 1;
  const out: string[] = [];
  const e = escapeMarkdown;

  out.push(`# IMDSv2 readiness: ${verdictLabel(report.verdict)}`, "");
  out.push(`**${verdictLabel(report.verdict)}**: ${verdictSummary(report.verdict)}`, "");
  const only = report.hosts.length === 1 ? report.hosts[0] : undefined;
  if (only !== undefined) out.push(`Host: ${codeSpan(hostLabel(only))}`, "");
  else {
    const counts = verdictCounts(report.hosts).map(([verdict, count]) => `${count} ${verdictLabel(verdict)}`);
    out.push(`Fleet of ${report.hosts.length} hosts: ${counts.join(", ")}.`, "");
  }
  for (const reason of report.verdictReasons) out.push(`- ${e(truncateText(reason, 2000))}`);
  out.push("");

  out.push(...fixSection(report));

  out.push("## Enforce IMDSv2", "", enforcementIntro(report.verdict, report.enforcement, fleet), "", "```sh");
  // Commands hold only fixed text and strictly checked instance ids: safe inside a code block.
  out.push(...report.enforcement.commands, "```", "");

  if (fleet) out.push(...fleetSummary(report));

  out.push("## Window and capture health", "", "| | |", "|---|---|");
  for (const [name, value] of healthRows(report, report.capture)) out.push(`| ${name} | ${e(truncateText(value, 2000))} |`);
  out.push("");

  if (fleet) out.push(...hostSection(report, maxHosts));
  else out.push(...callerSection(report, maxCallers));

  if (report.malformedLines.length > 0) {
    out.push("## Malformed event lines (skipped)", "");
    const lines = new BudgetedLines(sectionBudgets.malformed);
    for (const line of report.malformedLines) lines.add(`- ${codeSpan(truncateText(line.path, 200))} line ${line.line}: ${codeSpan(truncateText(line.problem, 200))}`);
    out.push(...lines.lines);
    const more = report.capture.malformedLines - (report.malformedLines.length - lines.cut);
    if (more > 0) out.push(`- ...and ${more} more`);
    out.push("");
  }
  return out.join("\n");
}

/** The fix list: a table of every fix (most hosts blocked first), then each fix's advice once. */
function fixSection(report: ImdsReport): string[] {
  const e = escapeMarkdown;
  const fixes = report.fixes;
  const out: string[] = [];
  const total = fixes.length + report.fixesNotListed.fixes;
  out.push(`## Fixes (${total})`, "");
  if (total === 0) {
    out.push(report.totals.v1 > 0 ? "IMDSv1 calls were seen, but only from callers beyond the caller limits (not grouped)." : "No IMDSv1 caller: nothing to change.", "");
    const cut = fixesCutText(report);
    if (cut !== null && report.totals.v1 > 0) out.push(e(cut), "");
    return out;
  }
  out.push("Each fix is one program using IMDSv1 for one reason, on every host where it runs; most hosts blocked first.", "");
  const table = new BudgetedLines(sectionBudgets.fixTable);
  table.add("| # | Fix | Why | Hosts | IMDSv1 calls | Credentials via IMDSv1 | First seen | Last seen | Example hosts |", "|---:|---|---|---:|---:|---|---|---|---|");
  fixes.forEach((fix, index) => {
    const examples = fix.exampleHosts.slice(0, 3).map((host) => codeSpan(truncateText(host, 60), true));
    if (fix.hostCount > 3) examples.push(`+${fix.hostCount - 3}`);
    table.add(
      `| ${index + 1} | ${codeSpan(truncateText(fix.title, 200), true)} | ${reasonLabel(fix.reason)}${fix.fallbackCause === null ? "" : ` (${fix.fallbackCause})`} | ${fix.hostCount} | ${fix.v1} | ` +
        `${fix.credentialPaths ? `yes, ${plural(fix.credentialHostCount, "host")}` : "no"} | ${e(fix.firstSeen)} | ${e(fix.lastSeen)} | ${examples.join(", ")} |`,
    );
  });
  out.push(...table.lines);
  const cutText = fixesCutText(report);
  if (table.cut > 0 || cutText !== null) {
    out.push("");
    if (table.cut > 0) out.push(`(${table.cut} more fixes in the JSON report, \`fixes\`.)`);
    if (cutText !== null) out.push(e(cutText));
  }
  out.push("");

  const details = new BudgetedLines(sectionBudgets.fixDetails);
  fixes.forEach((fix, index) => {
    details.add(...fixDetails(fix, index + 1), "");
  });
  out.push(...details.lines);
  if (details.cut > 0) out.push(`(The advice for ${details.cut} more fixes is in the JSON report, \`fixes[].advice\`.)`, "");
  return out;
}

function fixDetails(fix: FixReport, number: number): string[] {
  const e = escapeMarkdown;
  const lines = [`### ${number}. ${codeSpan(truncateText(fix.title, 240))}`, ""];
  lines.push(`- **Advice**: ${e(truncateText(fix.advice, 1500))}`);
  lines.push(`- **Program**: ${codeSpan(truncateText(fix.program.name, 300))}: ${e(truncateText(fixProgramText(fix), 400))}`);
  for (const [name, value] of fixPlacementLines(fix)) lines.push(`- **${name}**: ${codeSpan(truncateText(value, 600))}`);
  const examples = fix.exampleHosts.map((host) => codeSpan(truncateText(host, 100)));
  lines.push(`- **Hosts**: ${fix.hostCount}${fix.hostCount > examples.length ? `, e.g. ${examples.join(", ")}` : `: ${examples.join(", ")}`}`);
  lines.push(`- **Calls**: ${e(fixCallsText(fix))}`);
  lines.push(`- **Seen**: ${e(fix.firstSeen)} to ${e(fix.lastSeen)}; fix id \`${fix.id}\``);
  return lines;
}

/** Verdict counts and the UNKNOWN hosts grouped by cause. */
function fleetSummary(report: ImdsReport): string[] {
  const out = ["## Hosts by verdict", "", "| Verdict | Hosts |", "|---|---:|"];
  for (const [verdict, count] of verdictCounts(report.hosts)) out.push(`| ${verdictLabel(verdict)} | ${count} |`);
  out.push("");
  const causes = unknownHostsByCause(report.hosts, 3);
  if (causes.length > 0) {
    out.push("### UNKNOWN hosts by cause", "", "| Cause | Hosts | Examples |", "|---|---:|---|");
    for (const group of causes) {
      out.push(`| ${unknownCauseLabel(group.cause)} | ${group.hostCount} | ${group.examples.map((host) => codeSpan(truncateText(host, 60), true)).join(", ")} |`);
    }
    out.push("");
  }
  return out;
}

/** One short row per host, worst first; the verdict reasons of each host are in the JSON report. */
function hostSection(report: ImdsReport, maxHosts: number): string[] {
  const e = escapeMarkdown;
  const out = ["## Hosts", ""];
  const fixNumbers = new Map(report.fixes.map((fix, index) => [fix.id, index + 1]));
  const rows = new BudgetedLines(sectionBudgets.hosts);
  rows.add("| Host | Verdict | IMDSv1 | IMDSv2 | Token requests | Fixes (#) | Why not READY | Window |", "|---|---|---:|---:|---:|---|---|---|");
  for (const host of report.hosts.slice(0, maxHosts)) {
    const numbers = host.fixes.map((id) => fixNumbers.get(id)).filter((number) => number !== undefined);
    const fixesCell = numbers.length === 0 ? "-" : numbers.slice(0, 8).join(", ") + (numbers.length > 8 ? ` +${numbers.length - 8}` : "");
    const why = host.verdict === "UNKNOWN" ? host.unknownCauses.map(unknownCauseLabel).join("; ") : host.verdict === "NOT_READY" ? plural(host.v1Callers, "IMDSv1 caller") : "";
    rows.add(
      `| ${codeSpan(truncateText(hostLabel(host), 100), true)} | ${verdictLabel(host.verdict)} | ${host.totals.v1} | ${host.totals.v2} | ${host.totals.tokenRequests} | ` +
        `${fixesCell} | ${e(why)} | ${e(windowText(host.window))} |`,
    );
  }
  out.push(...rows.lines);
  const notShown = report.hosts.length - Math.min(report.hosts.length, maxHosts) + rows.cut;
  if (notShown > 0) out.push("", `(${notShown} more hosts, with every host's verdict reasons, in the JSON report, \`hosts\`.)`);
  out.push("");
  return out;
}

/** A single host's callers: a table, then what each IMDSv1 caller must change. */
function callerSection(report: ImdsReport, maxCallers: number): string[] {
  const e = escapeMarkdown;
  const out = ["## Callers", ""];
  const listed = report.callers.slice(0, maxCallers);
  if (listed.length === 0) {
    // Requests seen only in part name no caller (their headers were not seen): say so, not "none".
    const inPart = report.totals.tokenRequests + report.totals.v2 + report.capture.unclassifiedRequests.total;
    return [...out, inPart > 0 ? "No caller could be named: the IMDS requests seen were seen only in part (see the capture health)." : "No IMDS calls observed.", ""];
  }
  const rows = new BudgetedLines(sectionBudgets.callers);
  rows.add("| Caller | Why IMDSv1 | IMDSv1 | IMDSv2 | Token requests | Statuses | First seen | Last seen | User-Agent | Paths |", "|---|---|---:|---:|---:|---|---|---|---|---|");
  for (const caller of listed) {
    rows.add(
      `| ${codeSpan(truncateText(caller.caller.label, 120), true)} | ${reasonLabel(caller.reason)} | ` +
        `${caller.v1} | ${caller.v2} | ${caller.tokenRequests} | ${e(statusesText(caller.statuses))} | ${e(caller.firstSeen)} | ` +
        `${e(caller.lastSeen)} | ${codeSpan(truncateText(userAgentsText(caller), 120), true)} | ${pathsCell(caller)} |`,
    );
  }
  out.push(...rows.lines);
  const notShown = report.callers.length - listed.length + rows.cut;
  if (notShown > 0) out.push("", `(${notShown} more callers in the JSON report)`);
  out.push("");
  const v1Callers = listed.filter((caller) => caller.v1 > 0);
  if (v1Callers.length > 0) {
    out.push("## What each IMDSv1 caller must change", "");
    const details = new BudgetedLines(sectionBudgets.callerDetails);
    v1Callers.forEach((caller, index) => details.add(...callerDetails(caller, index + 1), ""));
    out.push(...details.lines);
    if (details.cut > 0) out.push(`(${details.cut} more callers' details in the JSON report)`, "");
  }
  return out;
}

function pathsCell(caller: CallerReport): string {
  const { paths, more } = pathsSummary(caller);
  const cells = paths.map((path) => `${codeSpan(truncateText(path.path, 80), true)}${path.category === null ? "" : ` **${path.category}**`}`);
  if (more > 0) cells.push(`+${more} more`);
  return cells.join(", ") || "-";
}

function callerDetails(caller: CallerReport, number: number): string[] {
  const e = escapeMarkdown;
  const lines = [`### ${number}. ${codeSpan(truncateText(caller.caller.label, 160))}: ${reasonLabel(caller.reason)}`, ""];
  lines.push(`- **Advice**: ${e(caller.advice)}`);
  lines.push(
    `- **Calls**: IMDSv1 ${caller.v1}, IMDSv2 ${caller.v2}, token requests ${caller.tokenRequests}; ` +
      `IMDSv1 statuses ${e(statusesText(caller.v1Statuses))}; token request statuses ${e(statusesText(caller.tokenRequestStatuses))}`,
  );
  lines.push(`- **Seen**: ${e(caller.firstSeen)} to ${e(caller.lastSeen)}`);
  lines.push(`- **Client**: ${e(sdkText(caller))}; User-Agent: ${codeSpan(userAgentsText(caller))}; address ${codeSpan(caller.clientIps.join(", "))}`);
  for (const [name, value] of processLines(caller)) lines.push(`- **${name}**: ${codeSpan(value)}`);
  const paths = caller.paths.map((path) => {
    const flag = path.category === null ? "" : ` **${path.category}**`;
    return `${codeSpan(path.path)} (${pathCountsText(path)})${flag}`;
  });
  if (caller.otherPathCalls > 0) paths.push(`${caller.otherPathCalls} calls to further paths`);
  lines.push(`- **Paths**${caller.credentialPaths ? " (credentials requested with IMDSv1)" : ""}: ${paths.join("; ")}`);
  return lines;
}
