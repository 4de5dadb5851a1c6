/**
 * The dashboard's chart: the fleet's IMDSv1 calls over time (every call the report counted,
 * hosts beyond the host limit too), as inline SVG bars, IMDSv2 calls and token requests
 * behind them in grey. Axis labels give the first and last bucket's time and the peak.
 */
import { formatDuration } from "../format.js";
import { isoTime } from "../timeline.js";
import type { TimelineSnapshot } from "../timeline.js";

const width = 1200;
const height = 150;
const left = 56;
const right = 12;
const top = 12;
const bottom = 30;

function label(timeMs: number): string {
  return isoTime(timeMs).replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

export function fleetChartSvg(timeline: TimelineSnapshot | null, escape: (text: string) => string): string {
  if (timeline === null) return '<p class="muted">No calls observed.</p>';
  const buckets = timeline.v1.length;
  const startMs = Date.parse(timeline.start);
  const bucketMs = timeline.bucketSeconds * 1000;
  const peak = Math.max(1, ...timeline.v1, ...timeline.v2);
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const barWidth = plotWidth / buckets;
  const y = (count: number): number => top + plotHeight - (count / peak) * plotHeight;
  const bars: string[] = [];
  for (let index = 0; index < buckets; index++) {
    const v1 = timeline.v1[index] ?? 0;
    const v2 = timeline.v2[index] ?? 0;
    if (v1 === 0 && v2 === 0) continue;
    const x = left + index * barWidth;
    const title = `<title>${escape(label(startMs + index * bucketMs))}: IMDSv1 ${v1}, IMDSv2 and token requests ${v2}</title>`;
    const barPixels = Math.max(1, barWidth - 1).toFixed(1);
    if (v2 > 0) bars.push(`<rect class="v2" x="${x.toFixed(1)}" y="${y(v2).toFixed(1)}" width="${barPixels}" height="${Math.max(1, top + plotHeight - y(v2)).toFixed(1)}">${title}</rect>`);
    if (v1 > 0) bars.push(`<rect class="v1" x="${x.toFixed(1)}" y="${y(v1).toFixed(1)}" width="${barPixels}" height="${Math.max(1, top + plotHeight - y(v1)).toFixed(1)}">${title}</rect>`);
  }
  const endMs = startMs + buckets * bucketMs;
  const axis =
    `<line class="axis" x1="${left}" y1="${top + plotHeight}" x2="${width - right}" y2="${top + plotHeight}"/>` +
    `<line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}"/>` +
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${peak}</text>` +
    `<text x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>` +
    `<text x="${left}" y="${height - 8}">${escape(label(startMs))}</text>` +
    `<text x="${width - right}" y="${height - 8}" text-anchor="end">${escape(label(endMs))}</text>` +
    `<text x="${left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">one bar = ${escape(formatDuration(timeline.bucketSeconds))}</text>`;
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="IMDSv1 calls over time across the fleet">` +
    `${axis}${bars.join("")}</svg>`
  );
}
