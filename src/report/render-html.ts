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
import { isoTime } from "./timeline.js";
import type { CallerReport, HostReport, ImdsReport, Verdict } from "./types.js";

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
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:1rem 1.5rem;color:#1d1d1f;background:#fff}
h1{margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.verdict{border-radius:8px;padding:1rem 1.2rem;border:2px solid}
.verdict.ready{background:#e8f5e9;border-color:#2e7d32}.verdict.not-ready{background:#ffebee;border-color:#c62828}
.verdict.unknown{background:#fff8e1;border-color:#f9a825}
.badge{display:inline-block;border-radius:4px;padding:0 .4rem;font-weight:600;font-size:12px;white-space:nowrap}
.badge.ready{background:#2e7d32;color:#fff}.badge.not-ready{background:#c62828;color:#fff}.badge.unknown{background:#f9a825;color:#000}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.3rem .45rem;vertical-align:top;text-align:left}
th{background:#f5f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f5f5f7;padding:.6rem .8rem;border-radius:6px;overflow-x:auto}
.label{word-break:break-all}.muted{color:#666}.flag{color:#c62828;font-weight:600}
.caller{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}
.caller dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0}.caller dt{font-weight:600}.caller dd{margin:0;word-break:break-all}
svg.timeline{display:block}.legend span{display:inline-block;width:10px;height:10px;margin:0 .25rem 0 .6rem;vertical-align:middle}
`;

/**
 * The report as one self-contained HTML file: inline CSS and SVG, no script, no external asset
 * or network access (a Content-Security-Policy forbids them too), every input string escaped.
 */
export function renderHtml(report: ImdsReport, options: HtmlOptions = {}): string {
  const maxCallers = options.maxCallers ?? 500;
  const maxHosts = options.maxHosts ?? 1000;
  const fleet = report.hosts.length > 1;
  const h = escapeHtml;
  const windows = hostWindows(report.hosts);
  const labels = new Map(report.hosts.map((host) => [host.host, hostLabel(host)]));
  const labelOf = (host: string): string => labels.get(host) ?? host;
  const out: string[] = [];
  out.push(
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>IMDSv2 readiness: ${verdictLabel(report.verdict)}</title>`,
    `<style>${styles}</style></head><body>`,
  );

  out.push(`<header class="verdict ${verdictClass[report.verdict]}">`);
  out.push(`<h1>IMDSv2 readiness: ${verdictLabel(report.verdict)}</h1>`, `<p><strong>${h(verdictSummary(report.verdict))}</strong></p>`);
  const only = report.hosts.length === 1 ? report.hosts[0] : undefined;
  out.push(only === undefined ? `<p>Fleet of ${report.hosts.length} hosts.</p>` : `<p>Host: <code>${h(hostLabel(only))}</code></p>`);
  out.push(`<ul>${report.verdictReasons.map((reason) => `<li>${h(reason)}</li>`).join("")}</ul></header>`);

  out.push("<h2>Enforce IMDSv2</h2>", `<p>${h(enforcementIntro(report.verdict, report.enforcement, fleet))}</p>`);
  out.push(`<pre><code>${report.enforcement.commands.map(h).join("\n")}</code></pre>`);

  out.push("<h2>Window and capture health</h2><table>");
  for (const [name, value] of healthRows(report, report.capture)) out.push(`<tr><th>${h(name)}</th><td>${h(value)}</td></tr>`);
  out.push("</table>");

  if (fleet) {
    out.push("<h2>Hosts</h2><table><tr><th>Host</th><th>Verdict</th><th>IMDSv1</th><th>IMDSv2</th><th>Token requests</th>");
    out.push("<th>Callers using IMDSv1</th><th>Window</th><th>Packets dropped</th><th>Reasons</th></tr>");
    for (const host of report.hosts.slice(0, maxHosts)) {
      out.push(
        `<tr><td class="label"><code>${h(hostLabel(host))}</code></td><td>${badge(host.verdict)}</td><td class="n">${host.totals.v1}</td>` +
          `<td class="n">${host.totals.v2}</td><td class="n">${host.totals.tokenRequests}</td><td class="n">${host.v1Callers}</td>` +
          `<td>${h(windowText(host.window))}</td><td class="n">${host.capture.framesDropped ?? "unknown"}</td>` +
          `<td>${host.verdict === "READY" ? "" : `<ul>${host.verdictReasons.map((reason) => `<li>${h(reason)}</li>`).join("")}</ul>`}</td></tr>`,
      );
    }
    out.push("</table>");
    if (report.hosts.length > maxHosts) out.push(`<p class="muted">${report.hosts.length - maxHosts} more hosts in the JSON report.</p>`);
  }

  const listed = report.callers.slice(0, maxCallers);
  out.push("<h2>Callers</h2>");
  if (listed.length === 0) out.push("<p>No IMDS calls observed.</p>");
  else {
    out.push('<p class="legend muted">Timeline over each host\'s window:<span style="background:#c62828"></span>IMDSv1<span style="background:#2e7d32"></span>IMDSv2 and token requests</p>');
    out.push(`<table><tr><th>Caller</th>${fleet ? "<th>Host</th>" : ""}<th>Why IMDSv1</th><th>IMDSv1</th><th>IMDSv2</th><th>Token requests</th>`);
    out.push("<th>Statuses</th><th>First seen</th><th>Last seen</th><th>User-Agent</th><th>Paths</th><th>Timeline</th></tr>");
    for (const caller of listed) {
      out.push(
        `<tr><td class="label"><code>${h(truncateText(caller.caller.label, 200))}</code></td>${fleet ? `<td><code>${h(labelOf(caller.host))}</code></td>` : ""}` +
          `<td>${h(reasonLabel(caller.reason))}</td><td class="n">${caller.v1}</td><td class="n">${caller.v2}</td><td class="n">${caller.tokenRequests}</td>` +
          `<td>${h(statusesText(caller.statuses))}</td><td>${h(caller.firstSeen)}</td><td>${h(caller.lastSeen)}</td>` +
          `<td class="label"><code>${h(truncateText(userAgentsText(caller), 200))}</code></td><td class="label">${pathsCell(caller)}</td><td>${timelineSvg(caller, windows.get(caller.host) ?? null)}</td></tr>`,
      );
    }
    out.push("</table>");
    if (report.callers.length > maxCallers) out.push(`<p class="muted">${report.callers.length - maxCallers} more callers in the JSON report.</p>`);
  }

  const v1Callers = listed.filter((caller) => caller.v1 > 0);
  if (v1Callers.length > 0) {
    out.push("<h2>What each IMDSv1 caller must change</h2>");
    for (const caller of v1Callers) out.push(callerDetails(caller, fleet ? labelOf(caller.host) : null));
  }

  if (report.malformedLines.length > 0) {
    out.push("<h2>Malformed event lines (skipped)</h2><ul>");
    for (const line of report.malformedLines) out.push(`<li><code>${h(line.path)}</code> line ${line.line}: ${h(line.problem)}</li>`);
    const more = report.capture.malformedLines - report.malformedLines.length;
    out.push(`${more > 0 ? `<li>...and ${more} more</li>` : ""}</ul>`);
  }
  out.push(`<footer><p class="muted">${h(report.schema)}</p></footer></body></html>`, "");
  return out.join("\n");
}

function pathsCell(caller: CallerReport): string {
  const { paths, more } = pathsSummary(caller);
  const items = paths.map((path) => {
    const flag = path.category === null ? "" : ` <span class="flag">${escapeHtml(path.category)}</span>`;
    return `<code>${escapeHtml(truncateText(path.path, 120))}</code>${flag}`;
  });
  if (more > 0) items.push(`+${more} more`);
  return items.join("<br>");
}

function badge(verdict: Verdict): string {
  return `<span class="badge ${verdictClass[verdict]}">${verdictLabel(verdict)}</span>`;
}

/** `host`: the caller's host label in a fleet report, null for a single host. */
function callerDetails(caller: CallerReport, host: string | null): string {
  const h = escapeHtml;
  const rows: [string, string][] = [];
  if (host !== null) rows.push(["Host", `<code>${h(host)}</code>`]);
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
  const paths = caller.paths.map((path) => {
    const flag = path.category === null ? "" : ` <span class="flag">${h(path.category)}</span>`;
    return `<li><code>${h(path.path)}</code> (${pathCountsText(path)})${flag}</li>`;
  });
  if (caller.otherPathCalls > 0) paths.push(`<li>${caller.otherPathCalls} calls to further paths</li>`);
  const credentials = caller.credentialPaths ? ' <span class="flag">credentials requested with IMDSv1</span>' : "";
  rows.push([`Paths${credentials}`, `<ul>${paths.join("")}</ul>`]);
  return (
    `<div class="caller"><h3><code class="label">${h(truncateText(caller.caller.label, 200))}</code>: ${h(reasonLabel(caller.reason))}</h3><dl>` +
    rows.map(([name, value]) => `<dt>${name}</dt><dd>${value}</dd>`).join("") +
    "</dl></div>"
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
