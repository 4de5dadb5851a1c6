import { truncateText } from "./format.js";
import { hostLabel } from "./host-identity.js";
import {
  enforcementIntro,
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
import type { CallerReport, ImdsReport } from "./types.js";

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

/** The report as Markdown: the verdict first, then the commands, the window, hosts, callers. */
export function renderMarkdown(report: ImdsReport, options: MarkdownOptions = {}): string {
  const maxCallers = options.maxCallers ?? 200;
  const maxHosts = options.maxHosts ?? 1000;
  const fleet = report.hosts.length > 1;
  const out: string[] = [];
  const e = escapeMarkdown;
  const labels = new Map(report.hosts.map((host) => [host.host, hostLabel(host)]));
  const labelOf = (host: string): string => labels.get(host) ?? host;

  out.push(`# IMDSv2 readiness: ${verdictLabel(report.verdict)}`, "");
  out.push(`**${verdictLabel(report.verdict)}**: ${verdictSummary(report.verdict)}`, "");
  const only = report.hosts.length === 1 ? report.hosts[0] : undefined;
  out.push(only === undefined ? `Fleet of ${report.hosts.length} hosts.` : `Host: ${codeSpan(hostLabel(only))}`, "");
  for (const reason of report.verdictReasons) out.push(`- ${e(reason)}`);
  out.push("");

  out.push("## Enforce IMDSv2", "", enforcementIntro(report.verdict, report.enforcement, fleet), "", "```sh");
  // Commands hold only fixed text and strictly checked instance ids: safe inside a code block.
  out.push(...report.enforcement.commands, "```", "");

  out.push("## Window and capture health", "", "| | |", "|---|---|");
  for (const [name, value] of healthRows(report, report.capture)) out.push(`| ${name} | ${e(value)} |`);
  out.push("");

  if (fleet) {
    out.push("## Hosts", "", "| Host | Verdict | IMDSv1 | IMDSv2 | Token requests | Callers using IMDSv1 | Window | Packets dropped |");
    out.push("|---|---|---:|---:|---:|---:|---|---:|");
    for (const host of report.hosts.slice(0, maxHosts)) {
      out.push(
        `| ${codeSpan(hostLabel(host), true)} | ${verdictLabel(host.verdict)} | ${host.totals.v1} | ${host.totals.v2} | ${host.totals.tokenRequests} | ` +
          `${host.v1Callers} | ${e(windowText(host.window))} | ${host.capture.framesDropped ?? "unknown"} |`,
      );
    }
    if (report.hosts.length > maxHosts) out.push("", `(${report.hosts.length - maxHosts} more hosts in the JSON report)`);
    out.push("");
    for (const host of report.hosts.filter((candidate) => candidate.verdict !== "READY").slice(0, maxHosts)) {
      out.push(`### ${codeSpan(hostLabel(host))}: ${verdictLabel(host.verdict)}`, "");
      for (const reason of host.verdictReasons) out.push(`- ${e(reason)}`);
      out.push("");
    }
  }

  const listed = report.callers.slice(0, maxCallers);
  out.push("## Callers", "");
  if (listed.length === 0) out.push("No IMDS calls observed.", "");
  else {
    out.push(
      `| Caller${fleet ? " | Host" : ""} | Why IMDSv1 | IMDSv1 | IMDSv2 | Token requests | Statuses | First seen | Last seen | User-Agent | Paths |`,
      `|---${fleet ? "|---" : ""}|---|---:|---:|---:|---|---|---|---|---|`,
    );
    for (const caller of listed) {
      out.push(
        `| ${codeSpan(truncateText(caller.caller.label, 120), true)}${fleet ? ` | ${codeSpan(labelOf(caller.host), true)}` : ""} | ${reasonLabel(caller.reason)} | ` +
          `${caller.v1} | ${caller.v2} | ${caller.tokenRequests} | ${e(statusesText(caller.statuses))} | ${e(caller.firstSeen)} | ` +
          `${e(caller.lastSeen)} | ${codeSpan(truncateText(userAgentsText(caller), 120), true)} | ${pathsCell(caller)} |`,
      );
    }
    if (report.callers.length > maxCallers) out.push("", `(${report.callers.length - maxCallers} more callers in the JSON report)`);
    out.push("");
  }

  const v1Callers = listed.filter((caller) => caller.v1 > 0);
  if (v1Callers.length > 0) {
    out.push("## What each IMDSv1 caller must change", "");
    v1Callers.forEach((caller, index) => out.push(...callerDetails(caller, index + 1, fleet ? labelOf(caller.host) : null), ""));
  }

  if (report.malformedLines.length > 0) {
    out.push("## Malformed event lines (skipped)", "");
    for (const line of report.malformedLines) out.push(`- ${codeSpan(line.path)} line ${line.line}: ${codeSpan(line.problem)}`);
    if (report.capture.malformedLines > report.malformedLines.length) {
      out.push(`- ...and ${report.capture.malformedLines - report.malformedLines.length} more`);
    }
    out.push("");
  }
  return out.join("\n");
}

function pathsCell(caller: CallerReport): string {
  const { paths, more } = pathsSummary(caller);
  const cells = paths.map((path) => `${codeSpan(truncateText(path.path, 80), true)}${path.category === null ? "" : ` **${path.category}**`}`);
  if (more > 0) cells.push(`+${more} more`);
  return cells.join(", ") || "-";
}

/** `host`: the caller's host label in a fleet report, null for a single host. */
function callerDetails(caller: CallerReport, number: number, host: string | null): string[] {
  const e = escapeMarkdown;
  const lines = [`### ${number}. ${codeSpan(truncateText(caller.caller.label, 160))}: ${reasonLabel(caller.reason)}`, ""];
  if (host !== null) lines.push(`- **Host**: ${codeSpan(host)}`);
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
