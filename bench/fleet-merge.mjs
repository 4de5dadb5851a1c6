// @ts-check
// The fleet report of `imds-analyzer report`, at scale: N events (default 100,000,000) from H
// hosts (default 10,000) of the deterministic fleet of bench/fleet-events.mjs (live events with
// process and container names, per-host noise in command lines, Kubernetes and ECS callers)
// folded into one ReportBuilder, then built and rendered in every format. Events are handed
// over one object changed in place, one run of every host after another, so every host exists
// early and the rest of the run shows whether memory grows with the event count.
// Prints JSON: events, seconds, events per second, heap after a full GC at each tenth of the
// events, peak RSS, load average before and after, the time to build and render, each
// rendering's size, the fix list's head. Run with --expose-gc:
//   node --expose-gc bench/fleet-merge.mjs [EVENTS] [HOSTS]
// `npm run bench` runs it (BENCH_MERGE_EVENTS, 0 skips it; BENCH_MERGE_HOSTS).
import { loadavg } from "node:os";
import { eventsPerHostRun, generateFleet } from "./fleet-events.mjs";
import { ReportBuilder, renderCsv, renderHtml, renderJson, renderMarkdown } from "../dist/report/index.js";

const target = Number(process.argv[2] ?? "100000000");
const hosts = Number(process.argv[3] ?? "10000");
const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
if (gc === undefined) throw new Error("run with node --expose-gc");

const loadBefore = loadavg().map((load) => Number(load.toFixed(2)));
const runs = Math.max(1, Math.ceil(target / (hosts * eventsPerHostRun(hosts))));
const builder = new ReportBuilder();
/** @type {{ events: number, heapMiB: number, seconds: number }[]} */
const heapAfterGc = [];
let events = 0;
let nextSample = Math.ceil(target / 10);
let peakRssBytes = 0;
const started = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
generateFleet({ hosts, runsPerProgram: runs, reuseEvent: true, order: "run" }, {
  event: (event, host) => {
    builder.addEvent(event, host);
    if (++events >= nextSample) {
      gc();
      const usage = process.memoryUsage();
      peakRssBytes = Math.max(peakRssBytes, usage.rss);
      heapAfterGc.push({ events, heapMiB: Math.round(usage.heapUsed / 1048576), seconds: Number(elapsed().toFixed(1)) });
      nextSample += Math.ceil(target / 10);
    }
  },
  summary: (summary, host) => { builder.addSummary(summary, host); },
});
const foldSeconds = elapsed();
const buildStarted = process.hrtime.bigint();
const report = builder.build();
const buildSeconds = Number(process.hrtime.bigint() - buildStarted) / 1e9;
const renderStarted = process.hrtime.bigint();
const sizes = {
  markdownBytes: Buffer.byteLength(renderMarkdown(report)),
  htmlBytes: Buffer.byteLength(renderHtml(report)),
  csvBytes: Buffer.byteLength(renderCsv(report)),
  jsonBytes: Buffer.byteLength(renderJson(report)),
};
const renderSeconds = Number(process.hrtime.bigint() - renderStarted) / 1e9;
peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
process.stdout.write(`${JSON.stringify({
  events,
  hosts: report.hosts.length,
  runsPerProgram: runs,
  seconds: Number(foldSeconds.toFixed(2)),
  eventsPerSecond: Math.round(events / foldSeconds),
  heapAfterGc,
  peakRssMiB: Math.round(peakRssBytes / 1048576),
  buildSeconds: Number(buildSeconds.toFixed(2)),
  renderSeconds: Number(renderSeconds.toFixed(2)),
  sizes,
  loadAverage: { before: loadBefore, after: loadavg().map((load) => Number(load.toFixed(2))) },
  totals: report.totals,
  callers: report.callers.length,
  v1CallsNotInFixes: report.v1CallsNotInFixes,
  fixes: report.fixes.slice(0, 6).map((fix) => ({ hostCount: fix.hostCount, v1: fix.v1, title: fix.title.slice(0, 100) })),
  fixCount: report.fixes.length + report.fixesNotListed.fixes,
})}\n`);
