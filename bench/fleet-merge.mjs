// @ts-check
// The fleet merge of `imds-analyzer report`, at scale: N events (default 10,000,000) from 1,000
// hosts folded into one ReportBuilder, as the report command does with many hosts' event files.
// Prints JSON: seconds, events per second, heap after a full GC at each tenth of the run (it must
// stay flat once the per-host caps are reached) and peak RSS. Run with --expose-gc:
//   node --expose-gc bench/fleet-merge.mjs [EVENTS]
// `npm run bench` runs it (BENCH_MERGE_EVENTS, 0 skips it).
import { ReportBuilder } from "../dist/report/index.js";

const total = Number(process.argv[2] ?? "10000000");
const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
if (gc === undefined) throw new Error("run with node --expose-gc");

const hosts = 1000;
const hostNames = Array.from({ length: hosts }, (_, index) => `host-${index}`);
const instanceIds = Array.from({ length: hosts }, (_, index) => `i-${index.toString(16).padStart(17, "0")}`);
const kinds = /** @type {const} */ (["v1", "v2", "token-request"]);
const baseTimeMs = Date.parse("2026-11-01T00:00:00.000Z");
const builder = new ReportBuilder();
/** One event object, changed in place (the builder must copy what it keeps). */
const event = {
  schema: "imds-analyzer/event@1", time: "", kind: /** @type {"v1" | "v2" | "token-request"} */ ("v1"), method: "GET",
  path: "/latest/meta-data/instance-id", httpVersion: "1.1", userAgent: /** @type {string | null} */ (null),
  clientIp: "10.0.0.1", clientPort: 40000, serverIp: "169.254.169.254", serverPort: 80, status: /** @type {number | null} */ (200),
  frame: 1, source: "events.ndjson", process: null, attribution: null, host: /** @type {string | null} */ (null),
  instanceId: /** @type {string | null} */ (null), tokenTtlSeconds: null, forwardedFor: false, requestOnConnection: 1,
};
/** @type {{ events: number, heapMiB: number }[]} */
const heapAfterGc = [];
let peakRssBytes = 0;
const started = process.hrtime.bigint();
for (let index = 0; index < total; index++) {
  const host = index % hosts;
  const round = Math.floor(index / hosts);
  event.kind = kinds[index % 3] ?? "v1";
  event.method = event.kind === "token-request" ? "PUT" : "GET";
  event.path = event.kind === "token-request" ? "/latest/api/token" : `/latest/meta-data/item-${round % 500}`;
  event.time = new Date(baseTimeMs + index * 10).toISOString();
  event.clientIp = `10.0.${round % 20}.1`;
  // A few hosts see a new caller all the time: far beyond the per-host caller limit.
  event.userAgent = host < 5 ? `agent/${round}` : "aws-sdk-go/1.44.0 (go1.20; linux; amd64)";
  event.status = index % 7 === 0 ? 401 : 200;
  event.host = hostNames[host] ?? null;
  event.instanceId = round >= 100 ? instanceIds[host] ?? null : null;
  builder.addEvent(/** @type {import("../dist/events.js").ImdsEvent} */ (event), hostNames[host] ?? "local");
  if ((index + 1) % (total / 10) === 0) {
    gc();
    const usage = process.memoryUsage();
    peakRssBytes = Math.max(peakRssBytes, usage.rss);
    heapAfterGc.push({ events: index + 1, heapMiB: Math.round(usage.heapUsed / 1048576) });
  }
}
const report = builder.build();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(`${JSON.stringify({
  events: total, hosts: report.hosts.length, seconds: Number(seconds.toFixed(2)), eventsPerSecond: Math.round(total / seconds),
  heapAfterGc, peakRssMiB: Math.round(Math.max(peakRssBytes, process.memoryUsage().rss) / 1048576),
  totals: report.totals,
})}\n`);
