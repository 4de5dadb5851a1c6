import { truncateText } from "./format.js";
import { hostLabel } from "./host-identity.js";
import { dashboardScript, dashboardScriptHash } from "./html/dashboard-script.js";
import { fleetChartSvg } from "./html/fleet-chart.js";
import {
  enforcementIntro,
  fixCallsText,
  fixesCutText,
  fixPlacementLines,
  fixProgramText,
  healthRows,
  processLines,
  reasonLabel,
  sdkText,
  statusesText,
  unknownCauseLabel,
  unknownHostsByCause,
  userAgentsText,
  verdictCounts,
  verdictLabel,
  verdictSummary,
  windowText,
  pathCountsText,
} from "./render-common.js";
import { isoTime } from "./timeline.js";
import type { CallerReport, FixReport, HostReport, ImdsReport, Verdict } from "./types.js";

export interface HtmlOptions {
  /** Callers listed (IMDSv1 callers first); the JSON report has them all. */
  readonly maxCallers?: number;
  readonly maxHosts?: number;
}

const controlCharacters = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * Escapes text for HTML element content and quoted attribute values. Everything that comes
 * from the input goes through it: User-Agents, command lines, paths and host names are chosen
 * by whoever runs code on the host.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(controlCharacters, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const verdictClass: Record<Verdict, string> = { READY: "ready", NOT_READY: "not-ready", UNKNOWN: "unknown" };

const styles = `
:root{--red:#c62828;--green:#2e7d32;--amber:#f9a825;--ink:#1d1d1f;--muted:#5f6368;--line:#e3e3e8;--panel:#f6f7f9}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1440px;padding:1rem 1.5rem 3rem;color:var(--ink);background:#fff}
h1{margin:0;font-size:24px}h2{margin:2rem 0 .6rem;font-size:19px;border-bottom:1px solid var(--line);padding-bottom:.25rem}h3{font-size:15px;margin:1rem 0 .4rem}
.verdict{border-radius:10px;padding:.9rem 1.2rem;border:2px solid;display:grid;grid-template-columns:minmax(280px,1fr) 2.2fr;gap:1.2rem;align-items:center}
.verdict p{margin:.3rem 0 0}
.verdict.ready{background:#e8f5e9;border-color:var(--green)}.verdict.not-ready{background:#ffebee;border-color:var(--red)}.verdict.unknown{background:#fff8e1;border-color:var(--amber)}
.verdict .summary{font-weight:600}
.cards{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:.6rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.5rem .7rem}
.card .n{display:block;font-size:24px;font-weight:700;font-variant-numeric:tabular-nums}.card .t{color:var(--muted);font-size:12px}
.card.not-ready .n{color:var(--red)}.card.unknown .n{color:#b07800}.card.ready .n{color:var(--green)}
.chart-panel{border:1px solid var(--line);border-radius:10px;padding:.6rem .8rem .2rem;background:var(--panel);margin-top:.8rem}
details.reasons{margin:.6rem 0 0}details.reasons summary{font-weight:600}
.chart-panel h2{margin:0 0 .3rem;border:0;font-size:15px}
svg.chart{width:100%;height:auto;display:block}svg.chart text{font-size:11px;fill:var(--muted)}svg.chart .axis{stroke:#b9bcc2}
svg.chart rect.v1{fill:var(--red)}svg.chart rect.v2{fill:#c9ccd1}
.legend{color:var(--muted);font-size:12px;margin:.1rem 0 .3rem}.legend span{display:inline-block;width:10px;height:10px;margin:0 .25rem 0 .7rem;vertical-align:middle;border-radius:2px}
ul.reasons{margin:.3rem 0 0;padding-left:1.2rem}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-weight:600;font-size:12px;white-space:nowrap}
.badge.ready{background:var(--green);color:#fff}.badge.not-ready{background:var(--red);color:#fff}.badge.unknown{background:var(--amber);color:#000}
.filter{display:flex;gap:.8rem;align-items:center;margin:.4rem 0 .6rem}
.filter input{flex:0 1 520px;font:inherit;padding:.45rem .7rem;border:1px solid #b9bcc2;border-radius:6px}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:var(--panel);font-weight:600;white-space:nowrap}th[data-sort]{cursor:pointer;user-select:none}th[data-sort]::after{content:" \\2195";color:#9aa0a6}
th[aria-sort=ascending]::after{content:" \\2191";color:var(--ink)}th[aria-sort=descending]::after{content:" \\2193";color:var(--ink)}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr[hidden]{display:none}
table.kv th{width:14rem;background:none}
details>summary{cursor:pointer}details[open]>summary{margin-bottom:.3rem}
.drill{background:var(--panel);border-radius:6px;padding:.5rem .7rem;margin:.2rem 0}
.drill dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:0}.drill dt{font-weight:600}.drill dd{margin:0;word-break:break-word}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--panel);padding:.6rem .8rem;border-radius:6px;overflow-x:auto}
.label{word-break:break-all}code.program{color:var(--muted);font-size:12px}.muted{color:var(--muted)}.flag{color:var(--red);font-weight:600}
svg.timeline{display:block}
@media (max-width:1000px){.verdict{grid-template-columns:1fr}.cards{grid-template-columns:repeat(3,minmax(0,1fr))}}
`;

/** Share of the page for host rows (each with its drill-down): past it, hosts are counted, not listed. */
const hostSectionBudgetBytes = 1_600_000;
/** Share of the page for fix rows (each with its drill-down). */
const fixSectionBudgetBytes = 800_000;
/** Callers shown with full details in the whole page (2-4 KB each); the rest one line each. */
const maxDetailedCallers = 100;
/** Of those, the ones with a timeline strip (up to 15 KB each: a bar per bucket). */
const maxCallerTimelines = 40;
/** IMDSv1 callers listed in one host's drill-down. */
const maxCallersPerHostRow = 5;

/**
 * The report as one self-contained HTML dashboard: verdict counts and the fleet's IMDSv1 calls
 * over time first, then the fix list as a table to sort and filter by typing (host, namespace,
 * image, reason), drill-down to each fix's advice and to hosts and their callers. Inline CSS,
 * SVG and one inline script allowed by its hash (a Content-Security-Policy forbids any other
 * script, style source, image, font, frame or connection); every input string escaped.
 */
export function renderHtml(report: ImdsReport, options: HtmlOptions = {}): string {
  const maxCallers = options.maxCallers ?? 500;
  const maxHosts = options.maxHosts ?? 2000;
  const fleet = report.hosts.length > 1;
  const h = escapeHtml;
  const out: string[] = [];
  out.push(
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '${dashboardScriptHash}'; base-uri 'none'; form-action 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>IMDSv2 readiness: ${verdictLabel(report.verdict)}</title>`,
    `<style>${styles}</style></head><body>`,
  );

  const only = report.hosts.length === 1 ? report.hosts[0] : undefined;
  out.push(`<header class="verdict ${verdictClass[report.verdict]}"><div class="headline">`);
  out.push(`<h1>IMDSv2 readiness: ${verdictLabel(report.verdict)}</h1>`, `<p class="summary">${h(verdictSummary(report.verdict))}</p>`);
  out.push(only === undefined ? `<p>Fleet of ${report.hosts.length.toLocaleString("en-US")} hosts.</p>` : `<p>Host: <code>${h(hostLabel(only))}</code></p>`);
  out.push(`</div><div class="cards">${cards(report)}</div></header>`);
  out.push('<section class="chart-panel"><h2>IMDSv1 calls over time, all hosts</h2>', fleetChartSvg(report.timeline, h));
  out.push('<p class="legend"><span style="background:#c62828"></span>IMDSv1<span style="background:#c9ccd1"></span>IMDSv2 and token requests</p></section>');
  // A fleet's reasons list hosts (the fix list and the host table say it better): folded.
  out.push(`<details class="reasons"${fleet ? "" : " open"}><summary>Why ${verdictLabel(report.verdict)}</summary><ul>${report.verdictReasons.map((reason) => `<li>${h(truncateText(reason, 2000))}</li>`).join("")}</ul></details>`);

  out.push(...fixSection(report));

  out.push("<h2>Enforce IMDSv2</h2>", `<p>${h(enforcementIntro(report.verdict, report.enforcement, fleet))}</p>`);
  out.push(`<pre><code>${report.enforcement.commands.map(h).join("\n")}</code></pre>`);

  if (fleet) out.push(...verdictSummarySection(report));
  out.push(...hostSection(report, maxHosts, maxCallers));

  out.push('<h2>Window and capture health</h2><table class="kv">');
  for (const [name, value] of healthRows(report, report.capture)) out.push(`<tr><th>${h(name)}</th><td>${h(value)}</td></tr>`);
  out.push("</table>");

  if (report.malformedLines.length > 0) {
    out.push("<h2>Malformed event lines (skipped)</h2><ul>");
    for (const line of report.malformedLines) out.push(`<li><code>${h(truncateText(line.path, 200))}</code> line ${line.line}: ${h(truncateText(line.problem, 200))}</li>`);
    const more = report.capture.malformedLines - report.malformedLines.length;
    out.push(`${more > 0 ? `<li>...and ${more} more</li>` : ""}</ul>`);
  }
  out.push(`<footer><p class="muted">${h(report.schema)}: every host, caller and fix is in the JSON report.</p></footer>`);
  out.push(`<script>${dashboardScript}</script></body></html>`, "");
  return out.join("\n");
}

/** "2026-11-02 13:35 UTC": a table cell's time (the full time is the cell's sort value). */
function shortTime(time: string): string {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(time);
  return match === null ? time : `${match[1]!} ${match[2]!} UTC`;
}

function cards(report: ImdsReport): string {
  const card = (count: number, text: string, className = ""): string =>
    `<div class="card ${className}"><span class="n">${count.toLocaleString("en-US")}</span><span class="t">${escapeHtml(text)}</span></div>`;
  const credentialHosts = new Set(report.callers.filter((caller) => caller.credentialPaths).map((caller) => caller.host)).size;
  const counts = verdictCounts(report.hosts).map(([verdict, count]) => card(count, `${verdictLabel(verdict)} hosts`, verdictClass[verdict]));
  return [
    ...counts,
    card(report.fixes.length + report.fixesNotListed.fixes, "fixes to make"),
    card(report.totals.v1, "IMDSv1 calls"),
    card(credentialHosts, "hosts fetching credentials with IMDSv1"),
  ].join("");
}

/** Lower-cased text a filter word is looked for in (escaped when written into the attribute). */
function searchText(parts: readonly (string | null | undefined)[]): string {
  return parts.filter((part) => part !== null && part !== undefined && part !== "").join(" ").toLowerCase();
}

function fixSection(report: ImdsReport): string[] {
  const h = escapeHtml;
  const total = report.fixes.length + report.fixesNotListed.fixes;
  const out = [`<h2 id="fixes">Fixes (${total})</h2>`];
  out.push(
    '<div class="filter"><input id="filter" type="search" placeholder="Filter by host, namespace, image, reason..." aria-label="Filter fixes and hosts" autocomplete="off">' +
      '<span id="filter-status" class="muted" role="status"></span></div>',
  );
  if (total === 0) out.push(`<p>${report.totals.v1 > 0 ? "IMDSv1 calls were seen, but only from callers beyond the caller limits (not grouped)." : "No IMDSv1 caller: nothing to change."}</p>`);
  out.push(
    '<table id="fix-table" class="sortable"><thead><tr><th data-sort="number">#</th><th data-sort="text">Fix (click for advice)</th><th data-sort="text">Why</th>' +
      '<th data-sort="number">Hosts</th><th data-sort="number">IMDSv1</th><th data-sort="number" title="hosts where credentials were fetched with IMDSv1">Credentials via v1</th><th data-sort="text">Last seen</th></tr></thead><tbody>',
  );
  let bytes = 0;
  let listed = 0;
  for (const [index, fix] of report.fixes.entries()) {
    const placement = fix.placement;
    const search = searchText([
      fix.id, fix.title, fix.reason, fix.fallbackCause, reasonLabel(fix.reason), fix.program.name, fix.program.identifiedBy, fix.sdk?.name,
      ...placement.workloads, ...placement.images, ...placement.ecsTasks,
    ]);
    const why = `${reasonLabel(fix.reason)}${fix.fallbackCause === null ? "" : ` (${fix.fallbackCause})`}`;
    const row =
      `<tr data-fix="${h(fix.id)}" data-search="${h(search)}"><td class="n" data-value="${index + 1}">${index + 1}</td>` +
        `<td class="label" data-value="${h(fix.title.toLowerCase())}"><details><summary><strong>${h(fix.problem)}</strong><br><code class="program">${h(truncateText(fix.title.slice(0, Math.max(0, fix.title.length - fix.problem.length - 2)), 240))}</code></summary>${fixDrillDown(fix)}</details></td>` +
        `<td>${h(why)}</td><td class="n" data-value="${fix.hostCount}">${fix.hostCount}</td><td class="n" data-value="${fix.v1}">${fix.v1}</td>` +
        `<td class="n" data-value="${fix.credentialHostCount}">${fix.credentialPaths ? `<span class="flag">${fix.credentialHostCount}</span>` : "0"}</td><td data-value="${h(fix.lastSeen)}">${h(shortTime(fix.lastSeen))}</td></tr>`;
    bytes += row.length;
    if (bytes > fixSectionBudgetBytes) break;
    out.push(row);
    listed++;
  }
  out.push("</tbody></table>");
  if (report.fixes.length > listed) out.push(`<p class="muted">${report.fixes.length - listed} more fixes (the fewest hosts) in the JSON report and the CSV.</p>`);
  const cut = fixesCutText(report);
  if (cut !== null) out.push(`<p class="muted">${h(cut)}</p>`);
  return out;
}

function fixDrillDown(fix: FixReport): string {
  const h = escapeHtml;
  const rows: [string, string][] = [
    ["Advice", h(fix.advice)],
    ["Program", `<code>${h(fix.program.name)}</code> (${h(fixProgramText(fix))})`],
    ...fixPlacementLines(fix).map(([name, value]): [string, string] => [name, `<code>${h(value)}</code>`]),
    ["Hosts", `${fix.hostCount}: ${fix.exampleHosts.map((host) => `<code>${h(host)}</code>`).join(", ")}${fix.hostCount > fix.exampleHosts.length ? ", ..." : ""}`],
    ["Calls", h(fixCallsText(fix))],
    ["Seen", h(`${fix.firstSeen} to ${fix.lastSeen}`)],
    ["Fix id", `<code>${h(fix.id)}</code>`],
  ];
  return `<div class="drill"><dl>${rows.map(([name, value]) => `<dt>${h(name)}</dt><dd>${value}</dd>`).join("")}</dl></div>`;
}

function verdictSummarySection(report: ImdsReport): string[] {
  const h = escapeHtml;
  const out = ['<h2>Hosts by verdict</h2><table class="kv">'];
  for (const [verdict, count] of verdictCounts(report.hosts)) out.push(`<tr><th>${badge(verdict)}</th><td class="n">${count}</td></tr>`);
  out.push("</table>");
  const causes = unknownHostsByCause(report.hosts);
  if (causes.length > 0) {
    out.push('<h3>UNKNOWN hosts by cause</h3><table><thead><tr><th>Cause</th><th>Hosts</th><th>Examples</th></tr></thead><tbody>');
    for (const group of causes) {
      out.push(`<tr><td>${h(unknownCauseLabel(group.cause))}</td><td class="n">${group.hostCount}</td><td>${group.examples.map((host) => `<code>${h(host)}</code>`).join(", ")}</td></tr>`);
    }
    out.push("</tbody></table>");
  }
  return out;
}

/** Hosts worst first, each with its verdict reasons and IMDSv1 callers one click away. */
function hostSection(report: ImdsReport, maxHosts: number, maxCallers: number): string[] {
  const h = escapeHtml;
  const out = ["<h2>Hosts</h2>"];
  const fixNumbers = new Map(report.fixes.map((fix, index) => [fix.id, index + 1]));
  const callersByHost = new Map<string, CallerReport[]>();
  for (const caller of report.callers.slice(0, maxCallers * 20)) {
    const list = callersByHost.get(caller.host);
    if (list === undefined) callersByHost.set(caller.host, [caller]);
    else list.push(caller);
  }
  const windows = hostWindows(report.hosts);
  const details = { left: report.hosts.length === 1 ? maxCallers : maxDetailedCallers, timelines: report.hosts.length === 1 ? maxCallers : maxCallerTimelines };
  out.push(
    '<table id="host-table" class="sortable"><thead><tr><th data-sort="text">Host (click for callers)</th><th data-sort="number">Verdict</th><th data-sort="number">IMDSv1</th>' +
      '<th data-sort="number">IMDSv2</th><th data-sort="number">Token requests</th><th>Fixes (#)</th><th data-sort="text">Window</th></tr></thead><tbody>',
  );
  let bytes = 0;
  let listed = 0;
  for (const host of report.hosts.slice(0, maxHosts)) {
    const fixIds = host.fixes.filter((id) => fixNumbers.has(id));
    const label = hostLabel(host);
    const search = searchText([label, host.instanceId, host.hostname, verdictLabel(host.verdict), ...host.unknownCauses.map(unknownCauseLabel)]);
    const callers = (callersByHost.get(host.host) ?? []).filter((caller) => caller.v1 > 0 || report.hosts.length === 1);
    const row =
      `<tr data-search="${h(search)}" data-fixes="${h(fixIds.join(" "))}"><td class="label" data-value="${h(label.toLowerCase())}"><details${report.hosts.length === 1 ? " open" : ""}><summary><code>${h(label)}</code></summary>` +
      `${hostDrillDown(host, callers, windows.get(host.host) ?? null, details, report.hosts.length === 1 ? maxCallers : maxCallersPerHostRow)}</details></td>` +
      `<td data-value="${verdictRank[host.verdict]}">${badge(host.verdict)}</td><td class="n" data-value="${host.totals.v1}">${host.totals.v1}</td>` +
      `<td class="n" data-value="${host.totals.v2}">${host.totals.v2}</td><td class="n" data-value="${host.totals.tokenRequests}">${host.totals.tokenRequests}</td>` +
      `<td>${fixIds.map((id) => `<span class="fixref">${fixNumbers.get(id) ?? ""}</span>`).join(" ") || "-"}</td><td>${h(windowText(host.window))}</td></tr>`;
    bytes += row.length;
    if (bytes > hostSectionBudgetBytes) break;
    out.push(row);
    listed++;
  }
  out.push("</tbody></table>");
  if (report.hosts.length > listed) {
    out.push(`<p class="muted">${report.hosts.length - listed} more hosts (the best verdicts) in the JSON report; the filter searches the ${listed} listed here.</p>`);
  }
  if (report.callers.length > 0 && report.hosts.length === 1 && report.callers.length > maxCallers) {
    out.push(`<p class="muted">${report.callers.length - maxCallers} more callers in the JSON report.</p>`);
  }
  return out;
}

const verdictRank: Record<Verdict, number> = { NOT_READY: 0, UNKNOWN: 1, READY: 2 };

/**
 * A host's verdict reasons and its IMDSv1 callers (all callers for a single host): the first
 * callers of the page with their full details and timeline, the rest one line each.
 */
function hostDrillDown(host: HostReport, callers: readonly CallerReport[], window: Span | null, details: { left: number; timelines: number }, limit: number): string {
  const h = escapeHtml;
  const parts = [`<div class="drill"><ul class="reasons">${host.verdictReasons.slice(0, 4).map((reason) => `<li>${h(truncateText(reason, 300))}</li>`).join("")}</ul>`];
  const shown = callers.slice(0, limit);
  if (shown.length > 0) {
    parts.push(`<h3>${host.v1Callers > 0 ? "Callers using IMDSv1" : "Callers"}</h3>`);
    const lines: string[] = [];
    for (const caller of shown) {
      if (details.left > 0) {
        details.left--;
        const timeline = details.timelines > 0 ? timelineSvg(caller, window) : "";
        if (timeline !== "") details.timelines--;
        parts.push(callerDetails(caller, timeline));
      } else {
        lines.push(`<li><code class="label">${h(truncateText(caller.caller.label, 120))}</code>: ${h(reasonLabel(caller.reason))}, IMDSv1 ${caller.v1}</li>`);
      }
    }
    if (lines.length > 0) parts.push(`<ul>${lines.join("")}</ul>`);
    if (callers.length > shown.length) parts.push(`<p class="muted">${callers.length - shown.length} more callers of this host in the JSON report.</p>`);
  }
  parts.push("</div>");
  return parts.join("");
}

/** A caller's details: advice, calls, client, process and paths, with its timeline strip. */
function callerDetails(caller: CallerReport, timeline: string): string {
  const h = escapeHtml;
  const rows: [string, string][] = [];
  rows.push(["Advice", h(caller.advice)]);
  rows.push([
    "Calls",
    h(`IMDSv1 ${caller.v1}, IMDSv2 ${caller.v2}, token requests ${caller.tokenRequests}; IMDSv1 statuses ${statusesText(caller.v1Statuses)}; token request statuses ${statusesText(caller.tokenRequestStatuses)}`),
  ]);
  rows.push(["Seen", h(`${caller.firstSeen} to ${caller.lastSeen}`)]);
  rows.push(["Client", h(sdkText(caller))]);
  rows.push(["User-Agent", `<code>${h(userAgentsText(caller))}</code>`]);
  rows.push(["Address", `<code>${h(caller.clientIps.join(", "))}</code>`]);
  for (const [name, value] of processLines(caller)) rows.push([name, `<code>${h(value)}</code>`]);
  const paths = caller.paths.slice(0, 8).map((path) => {
    const flag = path.category === null ? "" : ` <span class="flag">${h(path.category)}</span>`;
    return `<li><code>${h(truncateText(path.path, 200))}</code> (${pathCountsText(path)})${flag}</li>`;
  });
  if (caller.paths.length > 8 || caller.otherPathCalls > 0) paths.push(`<li>${caller.paths.length - Math.min(8, caller.paths.length)} more paths, ${caller.otherPathCalls} calls to further paths</li>`);
  const credentials = caller.credentialPaths ? ' <span class="flag">credentials requested with IMDSv1</span>' : "";
  rows.push([`Paths${credentials}`, `<ul>${paths.join("")}</ul>`]);
  if (timeline !== "") rows.push(["Timeline", timeline]);
  return (
    `<details class="caller"><summary><code class="label">${h(truncateText(caller.caller.label, 200))}</code>: ${h(reasonLabel(caller.reason))}, IMDSv1 ${caller.v1}</summary><dl>` +
    rows.map(([name, value]) => `<dt>${name}</dt><dd>${value}</dd>`).join("") +
    "</dl></details>"
  );
}

interface Span {
  readonly startMs: number;
  readonly endMs: number;
}

function hostWindows(hosts: readonly HostReport[]): Map<string, Span> {
  const windows = new Map<string, Span>();
  for (const host of hosts) {
    if (host.window.start === null || host.window.end === null) continue;
    const startMs = Date.parse(host.window.start);
    const endMs = Date.parse(host.window.end);
    if (!Number.isNaN(startMs) && !Number.isNaN(endMs)) windows.set(host.host, { startMs, endMs });
  }
  return windows;
}

const timelineWidth = 240;
const timelineHeight = 30;

/** An inline SVG strip: IMDSv1 calls above the middle line (red), IMDSv2 below (green). */
function timelineSvg(caller: CallerReport, window: Span | null): string {
  const timeline = caller.timeline;
  if (timeline === null || window === null) return "";
  const timelineStartMs = Date.parse(timeline.start);
  const bucketMs = timeline.bucketSeconds * 1000;
  // The host window is never shorter than the buckets shown: widen it to them when it is.
  const startMs = Math.min(window.startMs, timelineStartMs);
  const endMs = Math.max(window.endMs, timelineStartMs + timeline.v1.length * bucketMs);
  const spanMs = Math.max(endMs - startMs, 1);
  const half = timelineHeight / 2 - 1;
  const peak = Math.max(1, ...timeline.v1, ...timeline.v2);
  const bars: string[] = [];
  for (let index = 0; index < timeline.v1.length; index++) {
    const bucketStartMs = timelineStartMs + index * bucketMs;
    const x = ((bucketStartMs - startMs) / spanMs) * timelineWidth;
    const width = Math.max(1.5, (bucketMs / spanMs) * timelineWidth);
    const v1 = timeline.v1[index] ?? 0;
    const v2 = timeline.v2[index] ?? 0;
    const title = `<title>${escapeHtml(isoTime(bucketStartMs))}: IMDSv1 ${v1}, IMDSv2 ${v2}</title>`;
    if (v1 > 0) {
      const height = Math.max(1, (v1 / peak) * half);
      bars.push(`<rect x="${x.toFixed(1)}" y="${(half + 1 - height).toFixed(1)}" width="${width.toFixed(1)}" height="${height.toFixed(1)}" fill="#c62828">${title}</rect>`);
    }
    if (v2 > 0) {
      const height = Math.max(1, (v2 / peak) * half);
      bars.push(`<rect x="${x.toFixed(1)}" y="${(half + 2).toFixed(1)}" width="${width.toFixed(1)}" height="${height.toFixed(1)}" fill="#2e7d32">${title}</rect>`);
    }
  }
  return (
    `<svg class="timeline" width="${timelineWidth}" height="${timelineHeight}" viewBox="0 0 ${timelineWidth} ${timelineHeight}" role="img" aria-label="IMDSv1 and IMDSv2 calls over time">` +
    `<rect width="${timelineWidth}" height="${timelineHeight}" fill="#fafafa" stroke="#ddd"/><line x1="0" y1="${half + 1.5}" x2="${timelineWidth}" y2="${half + 1.5}" stroke="#ccc"/>` +
    bars.join("") +
    "</svg>"
  );
}

function badge(verdict: Verdict): string {
  return `<span class="badge ${verdictClass[verdict]}">${verdictLabel(verdict)}</span>`;
}
