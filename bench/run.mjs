// @ts-check
// `npm run bench`: imds-analyzer against tcpdump, tshark and `cat` on the same generated files,
// in one run. Prints a table (MB/s, frames/s, peak RSS, ratios), writes bench/out/results.json,
// and exits 1 when the tools disagree on the number of IMDS requests. See bench/README.md.
//
// Environment: BENCH_SIZE_MB (mixed pcap and pcapng size, default 1024), BENCH_LARGE_MB (a second,
// larger mixed pcap that must give the same peak RSS, default 4096; 0 skips it), BENCH_IMDS_MB (the
// all-IMDS capture, default 64), BENCH_SYN_FLOWS (half-open connections in the SYN flood capture,
// default 1000000; 0 skips it), BENCH_TSHARK_MB (largest file tshark reads whole; bigger ones are
// replaced by a generated slice of this size, default 256), BENCH_TSHARK_TIMEOUT_S (default 900),
// BENCH_RUNS (timed runs per tool and file, the median is reported, default 3), BENCH_MERGE_EVENTS
// (events for the fleet report, bench/fleet-merge.mjs, default 100000000; 0 skips it),
// BENCH_MERGE_HOSTS (its hosts, default 10000), BENCH_DIR (default
// $TMPDIR/imds-bench), BENCH_KEEP=1 (keep the generated files).

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir, cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateCapture } from "./generate-capture.mjs";

/** @typedef {import("./generate-capture.mjs").GenerateManifest} GenerateManifest */
/** @typedef {import("./generate-capture.mjs").RequestCounts} RequestCounts */
/** @typedef {{ events: number, hosts: number, seconds: number, eventsPerSecond: number, heapAfterGc: { events: number, heapMiB: number }[], peakRssMiB: number, sizes: { markdownBytes: number, htmlBytes: number, csvBytes: number, jsonBytes: number }, loadAverage: { before: number[], after: number[] } }} FleetMerge */
/**
 * @typedef {object} Measurement
 * @property {string} file
 * @property {string} tool
 * @property {number} seconds wall time, process start to exit
 * @property {number} peakRssMb
 * @property {number} mbPerSecond MiB of input per second
 * @property {number} framesPerSecond
 * @property {number | null} requestsPerSecond IMDS requests in the file per second (null for cat)
 * @property {number} runs timed runs; seconds is their median, peakRssMb their maximum
 * @property {string | null} note
 */

const mib = 1024 * 1024;
const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(repoRoot, "dist", "imds-analyzer.cjs"); // the bundle: what npm's bin runs
const outDir = join(repoRoot, "bench", "out");

const sizeMb = Number(process.env["BENCH_SIZE_MB"] ?? "1024");
const largeMb = Number(process.env["BENCH_LARGE_MB"] ?? "4096");
const synFlows = Number(process.env["BENCH_SYN_FLOWS"] ?? "1000000");
const runs = Math.max(1, Number(process.env["BENCH_RUNS"] ?? "3"));
const mergeEvents = Number(process.env["BENCH_MERGE_EVENTS"] ?? "100000000");
const mergeHosts = Number(process.env["BENCH_MERGE_HOSTS"] ?? "10000");
const imdsOnlyMb = Number(process.env["BENCH_IMDS_MB"] ?? "64");
const tsharkMaxMb = Number(process.env["BENCH_TSHARK_MB"] ?? "256");
const tsharkTimeoutMs = Number(process.env["BENCH_TSHARK_TIMEOUT_S"] ?? "900") * 1000;
const keepFiles = process.env["BENCH_KEEP"] === "1";
const workDir = process.env["BENCH_DIR"] ?? join(process.env["TMPDIR"] ?? tmpdir(), "imds-bench");

const imdsBpf = "(host 169.254.169.254 or host fd00:ec2::254) and tcp port 80";
// Segments whose TCP payload starts with "GET " or "PUT ": one per request (split requests have
// exactly one such segment; the generator writes no retransmissions). IPv4 only, as generated.
const payloadStart = "tcp[((tcp[12] & 0xf0) >> 2):4]";
const tcpdumpCountBpf = (/** @type {string} */ method) => `${imdsBpf} and ${payloadStart} = ${method === "GET" ? "0x47455420" : "0x50555420"}`;
const tsharkFilter = "(ip.dst == 169.254.169.254 or ipv6.dst == fd00:ec2::254) and tcp.dstport == 80 and http.request";

/**
 * Runs a command under GNU time, stdout to /dev/null or captured; returns wall time and peak RSS.
 * @param {string[]} command
 * @param {{ captureStdout?: boolean, timeoutMs?: number }} [options]
 * @returns {Promise<{ seconds: number, peakRssMb: number, stdout: string, code: number | null, timedOut: boolean, stderr: string }>}
 */
async function timed(command, options = {}) {
  const timeFile = join(workDir, "time.out");
  const devNull = openSync("/dev/null", "w");
  const started = process.hrtime.bigint();
  const child = spawn("/usr/bin/time", ["-f", "%e %M", "-o", timeFile, "--", ...command], {
    stdio: ["ignore", options.captureStdout === true ? "pipe" : devNull, "pipe"],
  });
  /** @type {Buffer[]} */
  const stdout = [];
  let stderr = "";
  child.stdout?.on("data", (/** @type {Buffer} */ data) => { stdout.push(data); });
  child.stderr?.on("data", (/** @type {Buffer} */ data) => { stderr = (stderr + data.toString()).slice(-4000); });
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? null : setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, options.timeoutMs);
  const code = await /** @type {Promise<number | null>} */ (new Promise((resolve) => { child.on("close", (/** @type {number | null} */ exitCode) => { resolve(exitCode); }); }));
  if (timer !== null) clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  closeSync(devNull);
  let peakRssKb = 0;
  try {
    const fields = readFileSync(timeFile, "utf8").trim().split("\n").at(-1)?.split(" ") ?? [];
    peakRssKb = Number(fields[1] ?? "0");
  } catch {
    // killed before GNU time wrote anything
  }
  return { seconds, peakRssMb: peakRssKb / 1024, stdout: Buffer.concat(stdout).toString("utf8"), code, timedOut, stderr };
}

/**
 * `runs` timed runs of the same command: the median wall time, the highest peak RSS, and the
 * last run's output (every run must succeed).
 * @param {string[]} command
 * @param {{ captureStdout?: boolean, timeoutMs?: number }} [options]
 */
async function timedRuns(command, options = {}) {
  /** @type {Awaited<ReturnType<typeof timed>>[]} */
  const results = [];
  for (let run = 0; run < runs; run++) {
    const result = await timed(command, options);
    results.push(result);
    if (result.code !== 0 || result.timedOut) break;
  }
  const last = results[results.length - 1];
  if (last === undefined) throw new Error("no run");
  const seconds = results.map((r) => r.seconds).sort((a, b) => a - b);
  return {
    ...last,
    seconds: seconds[Math.floor((seconds.length - 1) / 2)] ?? last.seconds,
    peakRssMb: Math.max(...results.map((r) => r.peakRssMb)),
    runs: results.length,
  };
}

/** @param {string} file @returns {number} */
function tcpdumpCount(file, /** @type {string} */ filter) {
  const result = spawnSync("tcpdump", ["-r", file, "-nn", "--count", filter], { encoding: "utf8" });
  const match = /^(\d+) packets?/m.exec(result.stdout);
  if (result.status !== 0 || match === null) throw new Error(`tcpdump --count on ${file} failed: ${result.stderr}`);
  return Number(match[1]);
}

/**
 * Classifies tshark's request lines the way docs/EVENTS.md defines the kinds.
 * @param {string} fields tab-separated method, request lines (comma-aggregated)
 * @returns {RequestCounts}
 */
function classifyTsharkRequests(fields) {
  const counts = { total: 0, v1: 0, v2: 0, tokenRequests: 0 };
  for (const line of fields.split("\n")) {
    if (line === "") continue;
    const [method = "", headers = ""] = line.split("\t");
    counts.total++;
    if (method === "PUT") counts.tokenRequests++;
    else if (/x-aws-ec2-metadata-token:[ \t]*[^\s,]/i.test(headers)) counts.v2++;
    else counts.v1++;
  }
  return counts;
}

/** @param {RequestCounts} a @param {RequestCounts} b */
const sameCounts = (a, b) => a.total === b.total && a.v1 === b.v1 && a.v2 === b.v2 && a.tokenRequests === b.tokenRequests;
const formatCounts = (/** @type {RequestCounts} */ c) => `${c.total} (v1 ${c.v1}, v2 ${c.v2}, token ${c.tokenRequests})`;

async function main() {
  mkdirSync(workDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const scratch = mkdtempSync(join(workDir, "run-"));
  const log = (/** @type {string} */ line) => { process.stderr.write(`${line}\n`); };
  // Other work on the machine skews every number: say how busy it was.
  const loadBefore = loadavg();
  if ((loadBefore[0] ?? 0) > 0.5 * cpus().length) log(`warning: load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}: other work is running, timings will be low`);

  /** @type {{ name: string, path: string, manifest: GenerateManifest, bytes: number, tshark: boolean }[]} */
  const files = [];
  const generate = async (/** @type {string} */ name, /** @type {import("./generate-capture.mjs").GenerateOptions} */ options) => {
    const started = Date.now();
    const manifest = await generateCapture(options);
    log(`generated ${name} (${(manifest.pcapBytes / mib).toFixed(0)} MiB pcap, ${manifest.frames} frames, ${manifest.requests.total} IMDS requests) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return manifest;
  };
  const mixedPcap = join(workDir, "mixed.pcap");
  const mixedPcapng = join(workDir, "mixed.pcapng");
  const mixed = await generate("mixed.pcap + mixed.pcapng", { pcapPath: mixedPcap, pcapngPath: mixedPcapng, sizeBytes: sizeMb * mib });
  const wholeForTshark = sizeMb <= tsharkMaxMb;
  files.push({ name: "mixed.pcap", path: mixedPcap, manifest: mixed, bytes: mixed.pcapBytes, tshark: wholeForTshark });
  files.push({ name: "mixed.pcapng", path: mixedPcapng, manifest: mixed, bytes: mixed.pcapngBytes ?? 0, tshark: wholeForTshark });
  if (!wholeForTshark) {
    // The generator is deterministic, so this is the first tsharkMaxMb of mixed.pcap (same traffic).
    const slicePath = join(workDir, "mixed-slice.pcap");
    const slice = await generate("mixed-slice.pcap (for tshark)", { pcapPath: slicePath, sizeBytes: tsharkMaxMb * mib });
    files.push({ name: "mixed-slice.pcap", path: slicePath, manifest: slice, bytes: slice.pcapBytes, tshark: true });
  }
  if (largeMb > 0) {
    const largePath = join(workDir, "mixed-large.pcap");
    const large = await generate("mixed-large.pcap", { pcapPath: largePath, sizeBytes: largeMb * mib });
    files.push({ name: "mixed-large.pcap", path: largePath, manifest: large, bytes: large.pcapBytes, tshark: false });
  }
  const imdsPath = join(workDir, "imds-only.pcap");
  const imds = await generate("imds-only.pcap", { pcapPath: imdsPath, sizeBytes: imdsOnlyMb * mib, mode: "imds-only" });
  files.push({ name: "imds-only.pcap", path: imdsPath, manifest: imds, bytes: imds.pcapBytes, tshark: imdsOnlyMb <= tsharkMaxMb });
  if (synFlows > 0) {
    const synPath = join(workDir, "syn-flood.pcap");
    const syn = await generate("syn-flood.pcap", { pcapPath: synPath, sizeBytes: 0, mode: "syn-flood", synFlows });
    files.push({ name: "syn-flood.pcap", path: synPath, manifest: syn, bytes: syn.pcapBytes, tshark: false });
  }
  /** @type {{ file: string, synFlows: number, peakRssMb: number, counters: Record<string, number> }[]} */
  const floods = [];

  /** @type {Measurement[]} */
  const measurements = [];
  /** @type {{ file: string, tool: string, counts: RequestCounts | { total: number, tokenRequests: number }, expected: RequestCounts, agrees: boolean }[]} */
  const checks = [];
  let disagreements = 0;
  const record = (/** @type {typeof files[number]} */ file, /** @type {string} */ tool, /** @type {{ seconds: number, peakRssMb: number, runs: number }} */ run, /** @type {string | null} */ note) => {
    const m = {
      file: file.name, tool, seconds: run.seconds, peakRssMb: run.peakRssMb,
      mbPerSecond: file.bytes / mib / run.seconds, framesPerSecond: file.manifest.frames / run.seconds,
      requestsPerSecond: tool === "cat" ? null : file.manifest.requests.total / run.seconds, runs: run.runs, note,
    };
    measurements.push(m);
    log(`  ${tool.padEnd(14)} ${run.seconds.toFixed(2).padStart(7)} s  ${m.mbPerSecond.toFixed(0).padStart(6)} MiB/s  ${(run.peakRssMb).toFixed(0).padStart(5)} MiB RSS${note === null ? "" : `  (${note})`}`);
  };
  const check = (/** @type {typeof files[number]} */ file, /** @type {string} */ tool, /** @type {RequestCounts | { total: number, tokenRequests: number }} */ counts, /** @type {boolean} */ agrees) => {
    checks.push({ file: file.name, tool, counts, expected: file.manifest.requests, agrees });
    if (!agrees) {
      disagreements++;
      log(`  DISAGREE: ${tool} on ${file.name} counted ${JSON.stringify(counts)}, generator wrote ${formatCounts(file.manifest.requests)}`);
    }
  };

  for (const file of files) {
    log(`${file.name}: ${(file.bytes / mib).toFixed(0)} MiB, ${file.manifest.frames} frames, ${formatCounts(file.manifest.requests)} IMDS requests`);
    // The first cat only warms the page cache, so every tool reads from memory.
    await timed(["cat", file.path]);
    record(file, "cat", await timedRuns(["cat", file.path]), null);

    const summaryPath = join(scratch, "summary.json");
    const analyzer = await timedRuns([process.execPath, cliPath, "analyze", file.path, "--events", "/dev/null", "--quiet", "--summary-json", summaryPath]);
    if (analyzer.code !== 0) throw new Error(`imds-analyzer failed on ${file.name} (exit ${analyzer.code}): ${analyzer.stderr}`);
    record(file, "imds-analyzer", analyzer, null);
    /** @type {unknown} */
    const parsed = JSON.parse(readFileSync(summaryPath, "utf8"));
    const summary = /** @type {{ requests: RequestCounts, diagnostics: { counters: Record<string, number> } }} */ (parsed);
    check(file, "imds-analyzer", summary.requests, sameCounts(summary.requests, file.manifest.requests));
    if (file.manifest.mode === "syn-flood") {
      const counters = summary.diagnostics.counters;
      floods.push({ file: file.name, synFlows: file.manifest.synFlows, peakRssMb: analyzer.peakRssMb, counters });
      log(`  ${file.manifest.synFlows} half-open flows: flowsOpened ${counters["flowsOpened"] ?? 0}, flowsEvictedLimit ${counters["flowsEvictedLimit"] ?? 0}`);
    }

    const tcpdump = await timedRuns(["tcpdump", "-r", file.path, "-w", "/dev/null", imdsBpf]);
    if (tcpdump.code !== 0) throw new Error(`tcpdump failed on ${file.name}: ${tcpdump.stderr}`);
    record(file, "tcpdump", tcpdump, "BPF filter only, no reassembly or HTTP");
    // Counted in a second, untimed pass: tcpdump -w prints no count.
    const gets = tcpdumpCount(file.path, tcpdumpCountBpf("GET"));
    const puts = tcpdumpCount(file.path, tcpdumpCountBpf("PUT"));
    const expected = file.manifest.requests;
    check(file, "tcpdump", { total: gets + puts, tokenRequests: puts }, gets + puts === expected.total && puts === expected.tokenRequests);

    if (!file.tshark) {
      log(`  tshark         skipped on this file (over BENCH_TSHARK_MB=${tsharkMaxMb}); see mixed-slice.pcap`);
      continue;
    }
    const tshark = await timedRuns([
      "tshark", "-r", file.path, "-n", "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", tsharkFilter,
      "-T", "fields", "-e", "http.request.method", "-e", "http.request.line",
    ], { captureStdout: true, timeoutMs: tsharkTimeoutMs });
    if (tshark.timedOut) {
      log(`  tshark         killed after ${tsharkTimeoutMs / 1000} s (BENCH_TSHARK_TIMEOUT_S)`);
      measurements.push({ file: file.name, tool: "tshark", seconds: tshark.seconds, peakRssMb: tshark.peakRssMb, mbPerSecond: 0, framesPerSecond: 0, requestsPerSecond: null, runs: tshark.runs, note: "timed out" });
      continue;
    }
    if (tshark.code !== 0) throw new Error(`tshark failed on ${file.name} (exit ${tshark.code}): ${tshark.stderr}`);
    record(file, "tshark", tshark, file.name === "mixed-slice.pcap" ? `first ${tsharkMaxMb} MiB of mixed.pcap` : null);
    const tsharkCounts = classifyTsharkRequests(tshark.stdout);
    check(file, "tshark", tsharkCounts, sameCounts(tsharkCounts, file.manifest.requests));
  }

  const ratios = files.map((file) => {
    const speed = (/** @type {string} */ tool) => measurements.find((m) => m.file === file.name && m.tool === tool && m.mbPerSecond > 0)?.mbPerSecond ?? null;
    const analyzer = speed("imds-analyzer");
    const tcpdump = speed("tcpdump");
    const tshark = speed("tshark");
    return {
      file: file.name,
      analyzerOverTcpdump: analyzer !== null && tcpdump !== null ? analyzer / tcpdump : null,
      analyzerOverTshark: analyzer !== null && tshark !== null ? analyzer / tshark : null,
    };
  });

  /** @type {FleetMerge | null} */
  let fleetMerge = null;
  if (mergeEvents > 0) {
    log(`fleet report: ${mergeEvents.toLocaleString("en-US")} events from ${mergeHosts.toLocaleString("en-US")} hosts (load average ${loadavg().map((load) => load.toFixed(2)).join(" ")})`);
    const merge = await timed([process.execPath, "--expose-gc", join(repoRoot, "bench", "fleet-merge.mjs"), String(mergeEvents), String(mergeHosts)], { captureStdout: true });
    if (merge.code !== 0) throw new Error(`bench/fleet-merge.mjs failed: ${merge.stderr}`);
    /** @type {unknown} */
    const parsed = JSON.parse(merge.stdout);
    const measured = /** @type {FleetMerge} */ (parsed);
    fleetMerge = { ...measured, peakRssMiB: Math.round(merge.peakRssMb) };
    log(`  ${measured.seconds} s, heap after GC by tenths: ${measured.heapAfterGc.map((h) => h.heapMiB).join(" ")} MiB, peak RSS ${fleetMerge.peakRssMiB} MiB`);
    log(`  report sizes: Markdown ${measured.sizes.markdownBytes} B, HTML ${measured.sizes.htmlBytes} B, CSV ${measured.sizes.csvBytes} B, JSON ${measured.sizes.jsonBytes} B; load average after ${measured.loadAverage.after.join(" ")}`);
  }

  // The same peak RSS whatever the file size: compare the two mixed pcaps.
  const rssOf = (/** @type {string} */ name) => measurements.find((m) => m.file === name && m.tool === "imds-analyzer")?.peakRssMb ?? null;
  const memory = {
    peakRssMbBySize: files.filter((f) => f.name === "mixed.pcap" || f.name === "mixed-large.pcap")
      .map((f) => ({ file: f.name, sizeMb: Math.round(f.bytes / mib), peakRssMb: rssOf(f.name) })),
    floods,
    fleetMerge,
  };
  const table = renderTable(files, measurements, ratios);
  process.stdout.write(`\n${table}\n`);
  for (const entry of memory.peakRssMbBySize) process.stdout.write(`peak RSS on ${entry.file} (${entry.sizeMb} MiB): ${entry.peakRssMb?.toFixed(0) ?? "-"} MiB\n`);
  if (fleetMerge !== null) {
    process.stdout.write(`fleet report of ${fleetMerge.events.toLocaleString("en-US")} events from ${fleetMerge.hosts.toLocaleString("en-US")} hosts: ${fleetMerge.seconds} s (${fleetMerge.eventsPerSecond.toLocaleString("en-US")} events/s), heap after GC ${fleetMerge.heapAfterGc[0]?.heapMiB ?? "-"} -> ${fleetMerge.heapAfterGc.at(-1)?.heapMiB ?? "-"} MiB, peak RSS ${fleetMerge.peakRssMiB} MiB\n`);
  }
  for (const flood of floods) {
    process.stdout.write(`peak RSS with ${flood.synFlows.toLocaleString("en-US")} half-open flows: ${flood.peakRssMb.toFixed(0)} MiB (flows evicted at the limit: ${(flood.counters["flowsEvictedLimit"] ?? 0).toLocaleString("en-US")})\n`);
  }
  const results = {
    schema: "imds-analyzer/bench@1",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryMb: Math.round(totalmem() / mib), node: process.version },
    settings: { sizeMb, largeMb, imdsOnlyMb, synFlows, mergeEvents, mergeHosts, tsharkMaxMb, tsharkTimeoutS: tsharkTimeoutMs / 1000, runs },
    load: { before: loadBefore, after: loadavg() },
    files: files.map((f) => ({ name: f.name, bytes: f.bytes, ...f.manifest })),
    measurements, ratios, memory, checks, agree: disagreements === 0,
  };
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${join(outDir, "results.json")}\n`);
  process.stdout.write(disagreements === 0
    ? "IMDS request counts: all tools agree with the generator\n"
    : `IMDS request counts: ${disagreements} disagreement(s), see above\n`);

  rmSync(scratch, { recursive: true, force: true });
  rmSync(join(workDir, "time.out"), { force: true });
  if (!keepFiles) {
    // Only what this run wrote: BENCH_DIR may be a directory holding other things.
    for (const file of files) rmSync(file.path, { force: true });
    try { rmdirSync(workDir); } catch { /* not empty: leave it */ }
  } else process.stdout.write(`kept the captures in ${workDir}\n`);
  process.exitCode = disagreements === 0 ? 0 : 1;
}

/**
 * @param {{ name: string, bytes: number, manifest: GenerateManifest }[]} files
 * @param {Measurement[]} measurements
 * @param {{ file: string, analyzerOverTcpdump: number | null, analyzerOverTshark: number | null }[]} ratios
 */
function renderTable(files, measurements, ratios) {
  const lines = [
    "| file | tool | s | MiB/s | frames/s | IMDS requests/s | peak RSS MiB | note |",
    "|---|---|--:|--:|--:|--:|--:|---|",
  ];
  for (const m of measurements) {
    const requests = m.requestsPerSecond === null || m.requestsPerSecond === 0 ? "" : Math.round(m.requestsPerSecond).toLocaleString("en-US");
    lines.push(`| ${m.file} | ${m.tool} | ${m.seconds.toFixed(2)} | ${m.mbPerSecond.toFixed(0)} | ${Math.round(m.framesPerSecond).toLocaleString("en-US")} | ${requests} | ${m.peakRssMb.toFixed(0)} | ${m.note ?? ""} |`);
  }
  lines.push("", "| file | size MiB | frames | IMDS requests | imds-analyzer / tcpdump (MiB/s) | imds-analyzer / tshark (MiB/s) |", "|---|--:|--:|--:|--:|--:|");
  for (const r of ratios) {
    const file = files.find((f) => f.name === r.file);
    const ratio = (/** @type {number | null} */ x) => (x === null ? "-" : `${x.toFixed(2)}x`);
    lines.push(`| ${r.file} | ${((file?.bytes ?? 0) / mib).toFixed(0)} | ${(file?.manifest.frames ?? 0).toLocaleString("en-US")} | ${file === undefined ? "" : formatCounts(file.manifest.requests)} | ${ratio(r.analyzerOverTcpdump)} | ${ratio(r.analyzerOverTshark)} |`);
  }
  return lines.join("\n");
}

await main();
