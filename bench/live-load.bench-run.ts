/**
 * npm run bench:live — what live capture costs under load, in test network namespaces only (never
 * the machine's own; needs root).
 *
 * 1. Bulk: TCP pumps move as much non-IMDS data as they can over the instance's lo and over the
 *    veth to the "container" namespace while `imds-analyzer capture` runs (default interface
 *    "any", then `-i veth-ctr0`, then `-i lo`), with a trickle of IMDS calls on the same path.
 *    Measured: the analyzer's CPU time (utime+stime from /proc/PID/stat) per second, idle and
 *    during the traffic, and the background bytes/packets carried (/proc/net/dev of the
 *    namespace). The kernel BPF filter should keep the analyzer near idle.
 * 2. IMDS load: a load generator makes BENCH_IMDS_RATE (5,000) IMDS calls per second for
 *    BENCH_IMDS_SECONDS (10), a new connection each, v1 GET / token PUT / v2 GET in turn, against
 *    the fake IMDS and against a lighter responder (the fake IMDS may be the limit). Checked:
 *    events by kind == calls the generator completed by kind, no pcap drops; measured: rate
 *    achieved, analyzer CPU % and peak RSS (VmHWM), attribution coverage, how long the analyzer
 *    needed after the last call to write the last event.
 *
 * Prints two tables and writes bench/out/live-load.json. Exits non-zero when a count differs or
 * a packet was dropped (after writing the results). Settings: BENCH_BULK_SECONDS (10),
 * BENCH_IMDS_RATE (5000), BENCH_IMDS_SECONDS (10), BENCH_IMDS_CONCURRENCY (64), BENCH_PHASES
 * ("bulk,load"), BENCH_CPU_PROF=1 (capture runs under `node --cpu-prof`, profiles in
 * bench/out/profiles), BENCH_KEEP=1 (keep the temp directories), BENCH_ONLY=TEXT (only the
 * scenarios whose name contains TEXT, e.g. "light").
 *
 * A starved analyzer (issue 13: falling behind must not spiral into the /proc fallback):
 * BENCH_ANALYZER_CPU_PERCENT=N runs the capture in a cgroup of its own limited to N % of one CPU
 * (cgroup v1 `cpu` controller, cfs_quota_us; removed at the end), and the load table then says
 * how events were attributed (eBPF / /proc / none) and when the backlog was written.
 * BENCH_CLI=PATH runs another build's bundled CLI (the code before a change, say);
 * BENCH_NODE_ARGS="..." gives the analyzer's node extra options (V8 flags, --prof);
 * BENCH_EXECUTABLE=PATH runs that single executable (release/, npm run package) instead, with
 * BENCH_NODE_ARGS as its NODE_OPTIONS (how install-service's unit gives it the service's).
 *
 * 3. Memory (BENCH_PHASES=memory; issue 13's "memory and CPU for a service"): RSS idle after start
 *    (with what it is made of: anonymous, file, the packet ring, BPF maps), after 200 one-shot
 *    curls one after another, after one-shot curls at 50/s, and the peak with the generator at
 *    BENCH_MEMORY_RATE (3000) calls/s; CPU ms per call of each step, also net of the CPU the
 *    analyzer spends without calls (a window of BENCH_MEMORY_IDLE_SECONDS, 10, first: its timers
 *    and the /proc reads for other IMDS callers on the host, which the eBPF tracer sees in every
 *    namespace); a heap snapshot at the end summarized by constructor (BENCH_HEAP_SNAPSHOT=0: none).
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { CallKind, ImdsEvent } from "../src/events.js";
import type { AnalysisSummary } from "../src/summary.js";
import { eventLines } from "../test/helpers/live-capture.js";
import { instanceIpv4, liveTestPrerequisites, TestNetwork, waitForLine } from "../test/helpers/netns.js";
import type { Role, Spawned } from "../test/helpers/netns.js";
import { cliPath as cli } from "../test/helpers/cli.js";
import { takeHeapSnapshot } from "./heap-snapshot.js";
import { clockTicksPerSecond, cpuTicks, statusKiB } from "./process-stats.js";
import type { HeapSnapshotSummary } from "./heap-snapshot.js";

const outDirectory = join(import.meta.dirname, "out");
const profileDirectory = join(outDirectory, "profiles");

const settings = {
  bulkSeconds: Number(process.env["BENCH_BULK_SECONDS"] ?? 10),
  imdsRatePerSecond: Number(process.env["BENCH_IMDS_RATE"] ?? 5000),
  imdsSeconds: Number(process.env["BENCH_IMDS_SECONDS"] ?? 10),
  imdsConcurrency: Number(process.env["BENCH_IMDS_CONCURRENCY"] ?? 64),
  phases: (process.env["BENCH_PHASES"] ?? "bulk,load").split(","),
  cpuProfile: process.env["BENCH_CPU_PROF"] === "1",
  keepDirectories: process.env["BENCH_KEEP"] === "1",
  /** Only scenarios whose name contains this text (all when empty). */
  only: process.env["BENCH_ONLY"] ?? "",
  /** The analyzer's CPU limit in % of one CPU (0: none). */
  analyzerCpuPercent: Number(process.env["BENCH_ANALYZER_CPU_PERCENT"] ?? 0),
  cli: process.env["BENCH_CLI"] ?? cli,
  /** A single executable to run instead of node and the bundle (its node options in NODE_OPTIONS). */
  executable: process.env["BENCH_EXECUTABLE"] ?? "",
  /** Calls per second of the memory phase's last step (the "3,000 calls/s"). */
  memoryRatePerSecond: Number(process.env["BENCH_MEMORY_RATE"] ?? 3000),
  /** Take a heap snapshot at the end of the memory phase (BENCH_HEAP_SNAPSHOT=0: none). */
  heapSnapshot: process.env["BENCH_HEAP_SNAPSHOT"] !== "0",
  /** Extra node options for the analyzer (V8 flags, say), space-separated. */
  nodeArgs: (process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter((arg) => arg.length > 0),
  /** IMDS calls per second on each path during the bulk phase: the "little IMDS traffic". */
  trickleRatePerSecond: 20,
  idleSeconds: 3,
  /** The memory phase's window without calls, whose CPU rate each step's "net of idle" subtracts. */
  memoryIdleSeconds: Number(process.env["BENCH_MEMORY_IDLE_SECONDS"] ?? 10),
  bulkConnectionsPerPath: 2,
} as const;

/** The instance side of the veth (netns.ts's gateway address): the bulk server listens here. */
const instanceVethIpv4 = "10.77.0.1";
const bulkPorts = { lo: 5002, veth: 5001 } as const;
const callKinds: readonly CallKind[] = ["v1", "token-request", "v2"];

// ------------------------------------------------------------------------------------------------
// Helper programs, written into the test network's directory and run inside the namespaces.
// ------------------------------------------------------------------------------------------------

/** TCP bulk pump: `server HOST PORT` counts what it receives; `client HOST PORT MAX_SECONDS N` sends. */
const pumpScript = String.raw`
import net from "node:net";
const [role, host, portText, secondsText, connectionsText] = process.argv.slice(2);
const port = Number(portText);
if (role === "server") {
  let bytesReceived = 0;
  const server = net.createServer((socket) => {
    socket.on("data", (chunk) => { bytesReceived += chunk.length; });
    socket.on("error", () => {});
  });
  server.listen(port, host, () => { process.stdout.write("ready\n"); });
  process.on("SIGTERM", () => { process.stdout.write(JSON.stringify({ bytesReceived }) + "\n"); process.exit(0); });
} else {
  // Sends until SIGTERM (the bench measures fixed windows meanwhile); SECONDS is a hard limit.
  const hardLimitSeconds = Number(secondsText);
  const connections = Number(connectionsText);
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let stopping = false;
  let announced = false;
  let bytesQueued = 0;
  let open = connections;
  const sockets = [];
  for (let index = 0; index < connections; index++) {
    const socket = net.connect(port, host);
    sockets.push(socket);
    const write = () => {
      if (!announced) { announced = true; process.stdout.write("sending\n"); }
      while (!stopping) {
        bytesQueued += chunk.length;
        if (!socket.write(chunk)) return;
      }
    };
    socket.on("connect", write);
    socket.on("drain", write);
    socket.on("error", (error) => { process.stderr.write(String(error) + "\n"); });
    socket.on("close", () => {
      if (--open === 0) { process.stdout.write(JSON.stringify({ bytesQueued }) + "\n"); process.exit(0); }
    });
  }
  const stop = () => { stopping = true; for (const socket of sockets) socket.end(); };
  process.on("SIGTERM", stop);
  setTimeout(stop, hardLimitSeconds * 1000).unref();
  setTimeout(() => { process.stderr.write("pump: hard timeout\n"); process.exit(2); }, (hardLimitSeconds + 30) * 1000).unref();
}
`;

/**
 * IMDS load generator. One new connection per call (as real SDK and curl callers do), paced at
 * RATE calls per second for SECONDS, at most CONCURRENCY at once; kinds in turn v1, token PUT,
 * v2 (with the newest token from a PUT answer). "Connection: close": the server closes first, so
 * the client's ports are free again at once (no TIME_WAIT on the client side). Prints JSON.
 */
const loadScript = String.raw`
import net from "node:net";
const options = JSON.parse(process.argv[2]);
const hostHeader = options.host.includes(":") ? "[" + options.host + "]" : options.host;
const head = (lines) => Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
const common = ["Host: " + hostHeader, "User-Agent: imds-load/1.0", "Accept: */*", "Connection: close"];
const fixed = {
  "v1": head(["GET /latest/meta-data/instance-id HTTP/1.1", ...common]),
  "token-request": head(["PUT /latest/api/token HTTP/1.1", ...common, "X-aws-ec2-metadata-token-ttl-seconds: 21600"]),
};
let v2Request = null;
const setToken = (token) => { v2Request = head(["GET /latest/meta-data/ami-id HTTP/1.1", ...common, "X-aws-ec2-metadata-token: " + token]); };
const tally = () => ({ "v1": 0, "token-request": 0, "v2": 0 });
const started = tally(), written = tally(), completed = tally(), failed = tally();
const statuses = {}, errors = {};
const mix = ["v1", "token-request", "v2"];
const total = Math.round(options.rate * options.seconds);
let next = 0, inFlight = 0, maxBehind = 0, t0 = 0, lastLaunchMs = 0, lastDoneMs = 0, launching = true, finished = false;
const now = () => performance.now();

function call(kind, onDone) {
  inFlight++;
  started[kind]++;
  const request = kind === "v2" ? v2Request : fixed[kind];
  const socket = net.connect({ host: options.host, port: options.port });
  const chunks = [];
  let settled = false;
  const timer = setTimeout(() => { finish(Object.assign(new Error("timeout"), { code: "TIMEOUT" })); }, options.requestTimeoutMs);
  socket.on("connect", () => { written[kind]++; socket.write(request); });
  socket.on("data", (chunk) => { chunks.push(chunk); });
  socket.on("end", () => { finish(null); });
  socket.on("error", (error) => { finish(error); });
  function finish(error) {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    inFlight--;
    const text = Buffer.concat(chunks).toString("latin1");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
    if (error !== null || status === undefined) {
      failed[kind]++;
      const code = error === null ? "no status line" : (error.code ?? error.message);
      errors[code] = (errors[code] ?? 0) + 1;
    } else {
      completed[kind]++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (kind === "token-request" && status === "200") {
        const body = text.slice(text.indexOf("\r\n\r\n") + 4);
        if (body.length > 0) setToken(body);
      }
    }
    lastDoneMs = now();
    onDone();
  }
}

function pump() {
  if (!launching) return maybeEnd();
  const elapsedMs = now() - t0;
  const due = Math.min(total, Math.floor((elapsedMs * options.rate) / 1000) + 1);
  while (next < due && inFlight < options.concurrency) {
    call(mix[next % mix.length], pump);
    next++;
    lastLaunchMs = now();
  }
  maxBehind = Math.max(maxBehind, due - next);
  // Bounded: stop launching when all are started, or when far behind schedule.
  if (next >= total || elapsedMs > options.seconds * 2000) { launching = false; clearInterval(ticker); }
  maybeEnd();
}

function maybeEnd() {
  if (finished || launching || inFlight > 0) return;
  finished = true;
  const sum = (t) => t["v1"] + t["token-request"] + t["v2"];
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({
    target: total, started, written, completed, failed, statuses, errors,
    completedTotal: sum(completed), failedTotal: sum(failed), notStarted: total - next, maxBehind,
    launchSeconds: (lastLaunchMs - t0) / 1000, completionSeconds: (lastDoneMs - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }) + "\n");
  process.exit(0);
}

let ticker;
setTimeout(() => { process.stderr.write("load: hard timeout\n"); process.exit(3); }, (options.seconds * 3 + 60) * 1000).unref();
// The first token, before the clock starts (counted like every other call).
call("token-request", () => {
  if (v2Request === null) { process.stderr.write("load: no token from the first PUT\n"); process.exit(4); }
  t0 = now();
  process.stdout.write("started\n");
  ticker = setInterval(pump, 1);
  pump();
});
`;

/**
 * A lighter IMDS responder than test/fake-imds/fake-imds.mjs (no http module, no log file, no
 * token bookkeeping): fixed answers, one request per connection, server closes. It counts what
 * it answered by kind (the same rules as the analyzer, on requests the generator builds) and
 * prints the counts on SIGTERM.
 */
const lightImdsScript = String.raw`
import net from "node:net";
const counts = { "v1": 0, "token-request": 0, "v2": 0 };
const answer = (body, extra) => Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nAccept-Ranges: none\r\n" + extra +
  "Content-Length: " + Buffer.byteLength(body) + "\r\nServer: EC2ws\r\nConnection: close\r\n\r\n" + body, "latin1");
const tokenAnswer = answer("AQAEAlightImdsResponderTokenValue0000000000000000000==", "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n");
const valueAnswer = answer("i-0123456789abcdef0", "");
function onConnection(socket) {
  let text = "";
  let answered = false;
  socket.setEncoding("latin1");
  socket.on("error", () => {});
  socket.on("data", (chunk) => {
    if (answered) return;
    text += chunk;
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) { if (text.length > 16384) socket.destroy(); return; }
    answered = true;
    const requestHead = text.slice(0, end);
    const kind = requestHead.startsWith("PUT /latest/api/token ") ? "token-request"
      : /\r\nx-aws-ec2-metadata-token:[ \t]*[^\s]/i.test(requestHead) ? "v2" : "v1";
    counts[kind]++;
    socket.end(kind === "token-request" ? tokenAnswer : valueAnswer);
  });
}
const servers = [["169.254.169.254", false], ["fd00:ec2::254", true]].map(([host, ipv6Only]) => {
  const server = net.createServer(onConnection);
  return new Promise((resolve) => server.listen({ host, port: 80, ipv6Only, backlog: 4096 }, () => resolve(server)));
});
await Promise.all(servers);
process.stdout.write("ready\n");
process.on("SIGTERM", () => { process.stdout.write(JSON.stringify(counts) + "\n"); process.exit(0); });
`;

// ------------------------------------------------------------------------------------------------
// Measuring: /proc of the analyzer, /proc/net/dev of the namespace, load average.
// ------------------------------------------------------------------------------------------------

/** Peak resident set (VmHWM) of a process, in MiB. */
function peakRssMiB(pid: number): number {
  return Math.round(statusKiB(pid, "VmHWM") / 1024);
}

/** Resident set (VmRSS) of a process now, in MiB. */
function rssMiB(pid: number): number {
  return Math.round(statusKiB(pid, "VmRSS") / 1024);
}

/** read() system calls made so far by a process (/proc/PID/io syscr): /proc reads show here. */
function readSyscalls(pid: number): number {
  const match = /^syscr:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  return match ? Number(match[1]) : Number.NaN;
}

interface InterfaceCounters {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

/** /proc/PID/net/dev is the view of the network namespace PID lives in. */
function netDev(pidInNamespace: number): Map<string, InterfaceCounters> {
  const counters = new Map<string, InterfaceCounters>();
  for (const line of readFileSync(`/proc/${pidInNamespace}/net/dev`, "utf8").split("\n").slice(2)) {
    const match = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!match) continue;
    const values = (match[2] ?? "").trim().split(/\s+/).map(Number);
    counters.set(match[1] ?? "", { rxBytes: values[0] ?? 0, rxPackets: values[1] ?? 0, txBytes: values[8] ?? 0, txPackets: values[9] ?? 0 });
  }
  return counters;
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Awaits a spawned process for at most timeoutMs, then SIGKILLs it (only it) and awaits it. */
async function finishWithin(spawned: Spawned, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timer = setTimeout(() => spawned.child.kill("SIGKILL"), timeoutMs);
  const result = await spawned.done;
  clearTimeout(timer);
  return result;
}

function lastJsonLine(stdout: string, what: string): unknown {
  const line = stdout.trim().split("\n").at(-1);
  if (line === undefined || !line.startsWith("{")) throw new Error(`${what} printed no result: ${stdout}`);
  return JSON.parse(line);
}

/** Counts newline-terminated lines of a growing file, reading only what is new. */
class LineCounter {
  private offset = 0;
  lines = 0;
  private readonly buffer = Buffer.alloc(1024 * 1024);
  constructor(private readonly path: string) {}
  update(): number {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return this.lines;
    }
    try {
      for (let reads = 0; reads < 100_000; reads++) {
        const read = readSync(fd, this.buffer, 0, this.buffer.length, this.offset);
        if (read === 0) break;
        for (let index = 0; index < read; index++) if (this.buffer[index] === 0x0a) this.lines++;
        this.offset += read;
      }
    } finally {
      closeSync(fd);
    }
    return this.lines;
  }
}

// ------------------------------------------------------------------------------------------------
// The analyzer under test.
// ------------------------------------------------------------------------------------------------

interface RunningCapture {
  readonly spawned: Spawned;
  readonly eventsPath: string;
  readonly summaryPath: string;
  /** The cgroup limiting its CPU, removed once it exited. */
  readonly cpuCgroup: string | null;
}

const cpuCgroupRoot = "/sys/fs/cgroup/cpu";
/** cgroups this run made (removed at the end even when a scenario failed). */
const cpuCgroupsMade = new Set<string>();

/** Puts a process (all its threads) in a new cgroup allowed `percent` % of one CPU. */
function limitCpu(pid: number, name: string, percent: number): string {
  const directory = join(cpuCgroupRoot, `imds-bench-${String(process.pid)}-${name.replace(/[^a-z0-9-]+/gi, "_")}`);
  mkdirSync(directory);
  cpuCgroupsMade.add(directory);
  const periodUs = 100_000;
  writeFileSync(join(directory, "cpu.cfs_period_us"), String(periodUs));
  writeFileSync(join(directory, "cpu.cfs_quota_us"), String(Math.round((periodUs * percent) / 100)));
  writeFileSync(join(directory, "cgroup.procs"), String(pid));
  return directory;
}

/** Removes a cgroup of ours once its processes are gone (rmdir of a cgroup directory). */
function removeCpuCgroup(directory: string): void {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      rmdirSync(directory);
      cpuCgroupsMade.delete(directory);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        cpuCgroupsMade.delete(directory);
        return;
      }
      spawnSync("sleep", ["0.1"]);
    }
  }
  console.warn(`could not remove ${directory}`);
}

async function startCapture(network: TestNetwork, name: string, device: string | null, extraNodeArgs: readonly string[] = []): Promise<RunningCapture> {
  const eventsPath = join(network.directory, "events.ndjson");
  const summaryPath = join(network.directory, "summary.json");
  const nodeArgs = [...settings.nodeArgs, ...extraNodeArgs, ...(settings.cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${profileDirectory}`, `--cpu-prof-name=${name.replace(/[^a-z0-9-]+/gi, "_")}.cpuprofile`] : [])];
  const program = settings.executable === "" ? [process.execPath, ...nodeArgs, settings.cli] : ["env", `NODE_OPTIONS=${nodeArgs.join(" ")}`, settings.executable];
  const spawned = network.spawn("instance", [
    ...program, "capture", ...(device === null ? [] : ["-i", device]),
    "--events", eventsPath, "--summary-json", summaryPath, "--duration", "10m",
  ]);
  const cpuCgroup = settings.analyzerCpuPercent > 0 ? limitCpu(spawned.pid, name, settings.analyzerCpuPercent) : null;
  await waitForLine(spawned, "events go to", 30_000);
  return { spawned, eventsPath, summaryPath, cpuCgroup };
}

async function stopCapture(capture: RunningCapture): Promise<{ summary: AnalysisSummary; events: ImdsEvent[] }> {
  capture.spawned.child.kill("SIGINT");
  const result = await finishWithin(capture.spawned, 180_000);
  if (capture.cpuCgroup !== null) removeCpuCgroup(capture.cpuCgroup);
  if (result.code !== 0) throw new Error(`capture exited with ${String(result.code)}: ${result.stderr}`);
  const summary = JSON.parse(readFileSync(capture.summaryPath, "utf8")) as AnalysisSummary;
  const events = eventLines(capture.eventsPath);
  return { summary, events };
}

function countByKind(events: readonly ImdsEvent[]): Record<CallKind, number> {
  const counts: Record<CallKind, number> = { v1: 0, "token-request": 0, v2: 0, unclassified: 0 };
  for (const event of events) counts[event.kind]++;
  return counts;
}

function writeScripts(network: TestNetwork): { pump: string; load: string; lightImds: string } {
  const paths = { pump: join(network.directory, "pump.mjs"), load: join(network.directory, "load.mjs"), lightImds: join(network.directory, "light-imds.mjs") };
  writeFileSync(paths.pump, pumpScript);
  writeFileSync(paths.load, loadScript);
  writeFileSync(paths.lightImds, lightImdsScript);
  return paths;
}

async function withNetwork<T>(body: (network: TestNetwork) => Promise<T>): Promise<T> {
  const network = TestNetwork.create();
  try {
    return await body(network);
  } finally {
    await network.close();
    for (const directory of [...cpuCgroupsMade]) removeCpuCgroup(directory);
    if (!settings.keepDirectories) rmSync(network.directory, { recursive: true, force: true });
  }
}

interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly rate: number;
  readonly seconds: number;
  readonly concurrency: number;
  readonly requestTimeoutMs: number;
}

interface LoadResult {
  readonly target: number;
  readonly started: Record<CallKind, number>;
  readonly written: Record<CallKind, number>;
  readonly completed: Record<CallKind, number>;
  readonly failed: Record<CallKind, number>;
  readonly statuses: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly completedTotal: number;
  readonly failedTotal: number;
  readonly notStarted: number;
  readonly maxBehind: number;
  readonly launchSeconds: number;
  readonly completionSeconds: number;
  readonly cpuSeconds: number;
}

/** The fake IMDS's pid (TestNetwork keeps its handle private): the namespace's process running it. */
function fakeImdsPid(network: TestNetwork): number {
  const pids = spawnSync("ip", ["netns", "pids", network.instance], { encoding: "utf8" }).stdout.trim().split("\n").map(Number);
  const pid = pids.find((candidate) => {
    try {
      return readFileSync(`/proc/${String(candidate)}/cmdline`, "utf8").includes("fake-imds.mjs");
    } catch {
      return false;
    }
  });
  if (pid === undefined) throw new Error("cannot find the fake IMDS process");
  return pid;
}

function startLoad(network: TestNetwork, role: Role, script: string, options: LoadOptions): Spawned {
  return network.spawn(role, [process.execPath, script, JSON.stringify(options)]);
}

// ------------------------------------------------------------------------------------------------
// Phase 1: bulk non-IMDS traffic.
// ------------------------------------------------------------------------------------------------

type BulkPath = "lo" | "veth";

interface BulkScenario {
  readonly name: string;
  readonly device: string | null;
  readonly paths: readonly BulkPath[];
}

const bulkScenarios: readonly BulkScenario[] = [
  { name: "any (lo + veth)", device: null, paths: ["lo", "veth"] },
  { name: "-i veth-ctr0", device: "veth-ctr0", paths: ["veth"] },
  { name: "-i lo", device: "lo", paths: ["lo"] },
];

interface TrafficWindow {
  readonly seconds: number;
  readonly bytes: number;
  readonly packets: number;
  readonly gbitPerSecond: number;
  readonly packetsPerSecond: number;
  readonly analyzerCpuPercent: number;
}

interface BulkResult {
  readonly scenario: string;
  readonly device: string;
  readonly loadAverageBefore: string;
  readonly analyzerCpuPercentIdle: number;
  /** Bulk traffic only. */
  readonly bulkOnly: TrafficWindow;
  /** Bulk traffic plus the IMDS trickle. */
  readonly bulkWithImds: TrafficWindow;
  readonly analyzerPeakRssMiB: number;
  readonly packetsPastFilter: number;
  readonly imdsCallsCompleted: number;
  readonly imdsEvents: number;
  readonly packetsDroppedByKernel: number;
  readonly packetsDroppedByInterface: number;
}

/** Where the pumps' data is received: veth-ctr0 rx (from the container) and lo rx. */
function receivingInterface(path: BulkPath): string {
  return path === "lo" ? "lo" : "veth-ctr0";
}

/** Background carried and analyzer CPU over one fixed window. */
async function measureWindow(pid: number, paths: readonly BulkPath[], seconds: number): Promise<TrafficWindow> {
  const before = netDev(pid);
  const startTicks = cpuTicks(pid);
  const startedMs = performance.now();
  await sleep(seconds * 1000);
  const ticks = cpuTicks(pid) - startTicks;
  const elapsed = (performance.now() - startedMs) / 1000;
  const after = netDev(pid);
  let bytes = 0;
  let packets = 0;
  for (const name of paths.map(receivingInterface)) {
    const start = before.get(name);
    const end = after.get(name);
    if (!start || !end) throw new Error(`no /proc/net/dev counters for ${name}`);
    bytes += end.rxBytes - start.rxBytes;
    packets += end.rxPackets - start.rxPackets;
  }
  return {
    seconds: round(elapsed, 2),
    bytes,
    packets,
    gbitPerSecond: round((bytes * 8) / elapsed / 1e9, 2),
    packetsPerSecond: Math.round(packets / elapsed),
    analyzerCpuPercent: round((ticks / clockTicksPerSecond / elapsed) * 100, 1),
  };
}

async function measureBulk(scenario: BulkScenario): Promise<BulkResult> {
  return withNetwork(async (network) => {
    const scripts = writeScripts(network);
    await network.startFakeImds("optional");
    const servers: Spawned[] = [];
    for (const path of scenario.paths) {
      const host = path === "lo" ? instanceIpv4 : instanceVethIpv4;
      const server = network.spawn("instance", [process.execPath, scripts.pump, "server", host, String(bulkPorts[path])]);
      await waitForLine(server, "ready", 10_000);
      servers.push(server);
    }
    const loadAverageBefore = loadAverage();
    const capture = await startCapture(network, `bulk ${scenario.name}`, scenario.device);
    const pid = capture.spawned.pid;
    await sleep(1000);
    const idleStart = cpuTicks(pid);
    await sleep(settings.idleSeconds * 1000);
    const idleTicks = cpuTicks(pid) - idleStart;

    // The veth path is a "container" sending to the instance; lo stays inside the instance.
    const roleOf = (path: BulkPath): Role => (path === "lo" ? "instance" : "container");
    const hostOf = (path: BulkPath): string => (path === "lo" ? instanceIpv4 : instanceVethIpv4);
    const pumpLimitSeconds = settings.bulkSeconds * 2 + 60;
    const clients = scenario.paths.map((path) =>
      network.spawn(roleOf(path), [process.execPath, scripts.pump, "client", hostOf(path), String(bulkPorts[path]), String(pumpLimitSeconds), String(settings.bulkConnectionsPerPath)]),
    );
    await Promise.all(clients.map((client) => waitForLine(client, "sending", 30_000)));
    await sleep(500);
    const bulkOnly = await measureWindow(pid, scenario.paths, settings.bulkSeconds);
    // The trickle runs a little longer than the second window, which starts once it is pacing.
    const trickles = scenario.paths.map((path) =>
      startLoad(network, roleOf(path), scripts.load, {
        host: "169.254.169.254", port: 80, rate: settings.trickleRatePerSecond, seconds: settings.bulkSeconds + 1, concurrency: 4, requestTimeoutMs: 10_000,
      }),
    );
    await Promise.all(trickles.map((trickle) => waitForLine(trickle, "started", 30_000)));
    const bulkWithImds = await measureWindow(pid, scenario.paths, settings.bulkSeconds);
    for (const client of clients) client.child.kill("SIGTERM");
    const clientResults = await Promise.all(clients.map((client) => finishWithin(client, 30_000)));
    const trickleResults = await Promise.all(trickles.map((trickle) => finishWithin(trickle, (settings.bulkSeconds * 3 + 70) * 1000)));
    for (const [index, result] of clientResults.entries()) {
      if (result.code !== 0) throw new Error(`bulk client ${String(index)} failed (${String(result.code)}): ${result.stderr}`);
    }
    const loads = trickleResults.map((result) => lastJsonLine(result.stdout, "IMDS trickle") as LoadResult);
    await sleep(1500);
    const analyzerPeakRssMiB = peakRssMiB(pid);
    const { summary, events } = await stopCapture(capture);
    for (const server of servers) server.child.kill("SIGTERM");
    await Promise.all(servers.map((server) => finishWithin(server, 10_000)));
    const live = summary.live;
    if (live === null) throw new Error("the capture summary has no live section");
    return {
      scenario: scenario.name,
      device: scenario.device ?? "any",
      loadAverageBefore,
      analyzerCpuPercentIdle: round((idleTicks / clockTicksPerSecond / settings.idleSeconds) * 100, 1),
      bulkOnly,
      bulkWithImds,
      analyzerPeakRssMiB,
      packetsPastFilter: live.packetsReceived,
      imdsCallsCompleted: loads.reduce((sum, load) => sum + load.completedTotal, 0),
      imdsEvents: events.length,
      packetsDroppedByKernel: live.packetsDroppedByKernel,
      packetsDroppedByInterface: live.packetsDroppedByInterface,
    };
  });
}

// ------------------------------------------------------------------------------------------------
// Phase 2: IMDS load.
// ------------------------------------------------------------------------------------------------

type Responder = "fake-imds" | "light";

interface LoadScenario {
  readonly name: string;
  readonly responder: Responder;
  readonly device: string | null;
}

const loadScenarios: readonly LoadScenario[] = [
  { name: "fake IMDS, any", responder: "fake-imds", device: null },
  { name: "light responder, any", responder: "light", device: null },
  { name: "light responder, -i lo", responder: "light", device: "lo" },
];

interface LoadRunResult {
  readonly scenario: string;
  readonly responder: Responder;
  readonly device: string;
  readonly loadAverageBefore: string;
  readonly targetPerSecond: number;
  readonly achievedPerSecond: number;
  readonly generator: LoadResult;
  readonly responderCounts: Record<CallKind, number>;
  readonly events: Record<CallKind, number>;
  readonly eventsMatchCompleted: boolean;
  readonly responderMatchesCompleted: boolean;
  readonly packetsPastFilter: number;
  readonly packetsDroppedByKernel: number;
  readonly packetsDroppedByInterface: number;
  readonly analyzerCpuPercentMean: number;
  readonly analyzerCpuPercentMax: number;
  readonly analyzerCpuPercentBySecond: readonly number[];
  readonly analyzerPeakRssMiB: number;
  /** Analyzer CPU time per completed call, load and catch-up together: 1000 / this = calls per second one core can take. */
  readonly analyzerCpuMsPerCall: number;
  /** read() system calls per completed call (mostly /proc reads for attribution). */
  readonly analyzerReadSyscallsPerCall: number;
  readonly responderCpuPercent: number;
  readonly generatorCpuPercent: number;
  /** From the generator's end until every expected event was written; NaN (null in JSON) when some never were. */
  readonly catchUpSeconds: number;
  /** From the generator's end until the events file last grew (whether or not all events came). */
  readonly lastEventAfterSeconds: number;
  /** null when the capture had to be killed (no summary). */
  readonly attribution: NonNullable<AnalysisSummary["live"]>["attribution"] | null;
  /** SIGINT until exit; and why the stop failed (killed after 180 s), null when it did not. */
  readonly stopSeconds: number;
  readonly stopError: string | null;
  readonly eventsWithProcess: number;
  readonly eventsWithGeneratorPid: number;
  readonly eventsAttributionStatus: Record<string, number>;
  /** Events by attribution method: "ebpf", "proc", "none" (no attribution). */
  readonly eventsAttributionMethod: Record<string, number>;
  /** Calls not yet written as events, at the end of each second (the backlog). */
  readonly backlogBySecond: readonly number[];
  /** Analyzer RSS (VmRSS, MiB) at the end of each second. */
  readonly rssMiBBySecond: readonly number[];
  readonly diagnostics: AnalysisSummary["diagnostics"]["counters"] | null;
}

async function measureLoad(scenario: LoadScenario): Promise<LoadRunResult> {
  return withNetwork(async (network) => {
    const scripts = writeScripts(network);
    // 50,000 connections in 10 s from one address: give the client side the whole port range
    // (a sysctl of this namespace only).
    await network.run("instance", ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"]);
    let responderPid: number;
    let light: Spawned | null = null;
    if (scenario.responder === "fake-imds") {
      await network.startFakeImds("optional");
      responderPid = fakeImdsPid(network);
    } else {
      light = network.spawn("instance", [process.execPath, scripts.lightImds]);
      await waitForLine(light, "ready", 10_000);
      responderPid = light.pid;
    }
    const loadAverageBefore = loadAverage();
    const capture = await startCapture(network, `load ${scenario.name}`, scenario.device);
    const pid = capture.spawned.pid;
    await sleep(1000);
    const counter = new LineCounter(capture.eventsPath);

    const responderStart = cpuTicks(responderPid);
    const startTicks = cpuTicks(pid);
    const startReads = readSyscalls(pid);
    const startedMs = performance.now();
    const generator = startLoad(network, "instance", scripts.load, {
      host: "169.254.169.254", port: 80, rate: settings.imdsRatePerSecond, seconds: settings.imdsSeconds,
      concurrency: settings.imdsConcurrency, requestTimeoutMs: 10_000,
    });
    const generatorEnded = { value: false };
    const generatorDone = finishWithin(generator, (settings.imdsSeconds * 3 + 90) * 1000).finally(() => { generatorEnded.value = true; });
    const bySecond: number[] = [];
    const backlogBySecond: number[] = [];
    const rssMiBBySecond: number[] = [];
    const responderLog = new LineCounter(scenario.responder === "fake-imds" ? network.fakeImdsLog : "");
    let previous = startTicks;
    for (let second = 0; second < settings.imdsSeconds * 3 + 90 && !generatorEnded.value; second++) {
      await Promise.race([sleep(1000), generatorDone]);
      const ticks = cpuTicks(pid);
      bySecond.push(round(((ticks - previous) / clockTicksPerSecond) * 100, 1));
      previous = ticks;
      // Answered calls (the fake IMDS logs each) not yet events: the analyzer's backlog.
      if (scenario.responder === "fake-imds") backlogBySecond.push(responderLog.update() - counter.update());
      rssMiBBySecond.push(rssMiB(pid));
    }
    const generatorResult = await generatorDone;
    const loadSeconds = (performance.now() - startedMs) / 1000;
    const loadTicks = cpuTicks(pid) - startTicks;
    const responderTicks = cpuTicks(responderPid) - responderStart;
    const load = lastJsonLine(generatorResult.stdout, "load generator") as LoadResult;
    const generatorEndMs = performance.now();

    // Wait for the analyzer to write every event (bounded: 60 s, or 5 s without progress).
    let lastProgressMs = performance.now();
    let lastSeen = counter.update();
    let caughtUpMs = lastSeen >= load.completedTotal ? generatorEndMs : Number.NaN;
    for (let poll = 0; poll < 600 && lastSeen < load.completedTotal; poll++) {
      await sleep(100);
      const seen = counter.update();
      if (seen !== lastSeen) {
        lastSeen = seen;
        lastProgressMs = performance.now();
      } else if (performance.now() - lastProgressMs > 5000) {
        break;
      }
      if (seen >= load.completedTotal) caughtUpMs = performance.now();
      if (poll % 10 === 9) {
        backlogBySecond.push(load.completedTotal - seen);
        rssMiBBySecond.push(rssMiB(pid));
      }
    }
    const analyzerPeakRssMiB = peakRssMiB(pid);
    // CPU and reads from the start of the load until every event was written (or the wait ended).
    const totalTicks = cpuTicks(pid) - startTicks;
    const totalReads = readSyscalls(pid) - startReads;
    // A capture that cannot stop (still working through its backlog 180 s later) is killed:
    // what it wrote is still counted, and the row says so.
    const stopStartedMs = performance.now();
    let stopped: { summary: AnalysisSummary; events: ImdsEvent[] } | null = null;
    let stopError: string | null = null;
    try {
      stopped = await stopCapture(capture);
    } catch (error) {
      stopError = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    }
    const stopSeconds = round((performance.now() - stopStartedMs) / 1000, 1);
    const events = stopped?.events ?? eventLines(capture.eventsPath);
    const summary = stopped?.summary ?? null;

    let responderCounts: Record<CallKind, number>;
    if (light !== null) {
      light.child.kill("SIGTERM");
      responderCounts = lastJsonLine((await finishWithin(light, 10_000)).stdout, "light responder") as Record<CallKind, number>;
    } else {
      await network.stopFakeImds();
      responderCounts = { v1: 0, "token-request": 0, v2: 0, unclassified: 0 };
      for (const entry of network.fakeImdsRequests()) {
        const kind = entry["kind"];
        if (kind === "v1" || kind === "v2" || kind === "token-request") responderCounts[kind]++;
      }
    }
    const live = summary?.live ?? null;
    if (summary !== null && live === null) throw new Error("the capture summary has no live section");
    const eventCounts = countByKind(events);
    const sameCounts = (a: Record<CallKind, number>, b: Record<CallKind, number>): boolean => callKinds.every((kind) => a[kind] === b[kind]);
    const statusCounts: Record<string, number> = {};
    const methodCounts: Record<string, number> = {};
    let withProcess = 0;
    let withGeneratorPid = 0;
    for (const event of events) {
      const status = event.attribution?.status ?? "none";
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      const method = event.attribution?.method ?? "none";
      methodCounts[method] = (methodCounts[method] ?? 0) + 1;
      if (event.process !== null) withProcess++;
      if (event.process?.pid === generator.pid) withGeneratorPid++;
    }
    const generatorSeconds = Math.max(load.completionSeconds, 0.001);
    return {
      scenario: scenario.name,
      responder: scenario.responder,
      device: scenario.device ?? "any",
      loadAverageBefore,
      targetPerSecond: settings.imdsRatePerSecond,
      // The first token PUT happens before the clock starts; the rate is over the paced calls.
      achievedPerSecond: Math.round((load.completedTotal - 1) / generatorSeconds),
      generator: load,
      responderCounts,
      events: eventCounts,
      eventsMatchCompleted: sameCounts(eventCounts, load.completed),
      responderMatchesCompleted: sameCounts(responderCounts, load.completed),
      packetsPastFilter: live?.packetsReceived ?? Number.NaN,
      packetsDroppedByKernel: live?.packetsDroppedByKernel ?? Number.NaN,
      packetsDroppedByInterface: live?.packetsDroppedByInterface ?? Number.NaN,
      stopSeconds,
      stopError,
      analyzerCpuPercentMean: round((loadTicks / clockTicksPerSecond / loadSeconds) * 100, 1),
      analyzerCpuPercentMax: Math.max(0, ...bySecond),
      analyzerCpuPercentBySecond: bySecond,
      analyzerPeakRssMiB,
      analyzerCpuMsPerCall: round(((totalTicks / clockTicksPerSecond) * 1000) / Math.max(load.completedTotal, 1), 3),
      analyzerReadSyscallsPerCall: round(totalReads / Math.max(load.completedTotal, 1), 1),
      responderCpuPercent: round((responderTicks / clockTicksPerSecond / loadSeconds) * 100, 1),
      generatorCpuPercent: round((load.cpuSeconds / loadSeconds) * 100, 1),
      catchUpSeconds: round((caughtUpMs - generatorEndMs) / 1000, 2),
      lastEventAfterSeconds: round((Math.max(lastProgressMs, generatorEndMs) - generatorEndMs) / 1000, 2),
      attribution: live?.attribution ?? null,
      eventsWithProcess: withProcess,
      eventsWithGeneratorPid: withGeneratorPid,
      eventsAttributionStatus: statusCounts,
      eventsAttributionMethod: methodCounts,
      backlogBySecond,
      rssMiBBySecond,
      diagnostics: summary?.diagnostics.counters ?? null,
    };
  });
}

// ------------------------------------------------------------------------------------------------
// Phase 3: memory and CPU of a service (issue 13): idle, after 200 one-shot callers, 50 one-shot
// callers per second, and the generator at BENCH_MEMORY_RATE; then a heap snapshot.
// ------------------------------------------------------------------------------------------------

interface MemoryStep {
  readonly step: string;
  readonly calls: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
  readonly cpuMsPerCall: number;
  /** CPU per call less what the analyzer spent in as long a time without calls (`idleCpuMsPerSecond`). */
  readonly cpuMsPerCallNetOfIdle: number;
  readonly readSyscallsPerCall: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

interface MemoryResult {
  readonly loadAverageBefore: string;
  readonly loadAverageAfter: string;
  /** The single executable that ran (BENCH_EXECUTABLE), or null for node and the bundle. */
  readonly executable: string | null;
  readonly nodeArgs: readonly string[];
  readonly idleRssMiB: number;
  /**
   * The analyzer's CPU and read syscalls per second while this bench makes no calls: its own
   * timers, and the /proc reads for every other process on the host that connects to IMDS
   * (the eBPF tracer sees connects in every namespace: another bench on a shared machine).
   */
  readonly idleCpuMsPerSecond: number;
  readonly idleReadSyscallsPerSecond: number;
  /** What the resident set is made of at idle: anonymous (heap, stacks, malloc), file (code), rings. */
  readonly idle: RssParts;
  readonly steps: readonly MemoryStep[];
  readonly end: RssParts;
  readonly peakRssMiB: number;
  readonly events: number;
  readonly callsMade: number;
  readonly eventsByMethod: Record<string, number>;
  /** Largest holders in a heap snapshot taken at the end (self size by constructor). */
  readonly heapSnapshot: HeapSnapshotSummary | null;
}

interface RssParts {
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
  /** Resident pages of the libpcap packet ring (mapped from the capture socket). */
  readonly packetRingMiB: number;
  /** Resident pages of BPF maps (the eBPF ring buffer). */
  readonly bpfMapsMiB: number;
}

function rssParts(pid: number): RssParts {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => Math.round(Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? Number.NaN) / 102.4) / 10;
  let packetRingKiB = 0;
  let bpfKiB = 0;
  let mapping = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line.split(/\s+/).slice(5).join(" ");
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss === null) continue;
    if (mapping.startsWith("socket:")) packetRingKiB += Number(rss[1]);
    else if (mapping.includes("bpf")) bpfKiB += Number(rss[1]);
  }
  return {
    rssMiB: field("VmRSS"),
    anonMiB: field("RssAnon"),
    fileMiB: field("RssFile"),
    packetRingMiB: Math.round(packetRingKiB / 102.4) / 10,
    bpfMapsMiB: Math.round(bpfKiB / 102.4) / 10,
  };
}

/** A shell loop in the instance namespace: `count` one-shot curls, one every `gapSeconds` (0: one after another). */
function oneShotCallers(network: TestNetwork, count: number, gapSeconds: number): Spawned {
  const curl = "curl -s -o /dev/null -m 5 http://169.254.169.254/latest/meta-data/instance-id";
  const loop = gapSeconds > 0
    ? `i=0; while [ $i -lt ${String(count)} ]; do ${curl} & sleep ${String(gapSeconds)}; i=$((i+1)); done; wait`
    : `i=0; while [ $i -lt ${String(count)} ]; do ${curl}; i=$((i+1)); done`;
  return network.spawn("instance", ["sh", "-c", loop]);
}

async function measureMemory(): Promise<MemoryResult> {
  return withNetwork(async (network) => {
    const scripts = writeScripts(network);
    await network.run("instance", ["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"]);
    const light = network.spawn("instance", [process.execPath, scripts.lightImds]);
    await waitForLine(light, "ready", 10_000);
    const loadAverageBefore = loadAverage();
    const snapshotDirectory = join(network.directory, "heap");
    mkdirSync(snapshotDirectory);
    // Only when a snapshot is taken: in NODE_OPTIONS they would keep a single executable from
    // finding the code cache made for the service's options (scripts/sea-main.cjs).
    const snapshotOptions = settings.heapSnapshot ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshotDirectory}`] : [];
    const capture = await startCapture(network, "memory", null, snapshotOptions);
    const pid = capture.spawned.pid;
    await sleep(settings.idleSeconds * 1000);
    const idle = rssParts(pid);
    const idleTicks = cpuTicks(pid);
    const idleReads = readSyscalls(pid);
    await sleep(settings.memoryIdleSeconds * 1000);
    const idleCpuMsPerSecond = round((((cpuTicks(pid) - idleTicks) / clockTicksPerSecond) * 1000) / settings.memoryIdleSeconds, 2);
    const idleReadSyscallsPerSecond = round((readSyscalls(pid) - idleReads) / settings.memoryIdleSeconds, 1);
    const steps: MemoryStep[] = [];
    let callsMade = 0;
    const step = async (name: string, run: () => Promise<number>): Promise<void> => {
      const ticks = cpuTicks(pid);
      const reads = readSyscalls(pid);
      const startedMs = performance.now();
      const calls = await run();
      // Until the events are out: the work of a call is done when its event is written.
      const counter = new LineCounter(capture.eventsPath);
      for (let poll = 0; poll < 300 && counter.update() < callsMade + calls; poll++) await sleep(100);
      callsMade += calls;
      const seconds = (performance.now() - startedMs) / 1000;
      const cpuMs = ((cpuTicks(pid) - ticks) / clockTicksPerSecond) * 1000;
      steps.push({
        step: name,
        calls,
        seconds: round(seconds, 1),
        callsPerSecond: Math.round(calls / seconds),
        cpuMsPerCall: round(cpuMs / Math.max(calls, 1), 3),
        cpuMsPerCallNetOfIdle: round((cpuMs - idleCpuMsPerSecond * seconds) / Math.max(calls, 1), 3),
        readSyscallsPerCall: round((readSyscalls(pid) - reads) / Math.max(calls, 1), 1),
        rssMiB: rssMiB(pid),
        peakRssMiB: peakRssMiB(pid),
      });
    };
    await step("200 one-shot curls, one after another", async () => {
      await finishWithin(oneShotCallers(network, 200, 0), 120_000);
      return 200;
    });
    await step("one-shot curls at 50/s for 10 s", async () => {
      await finishWithin(oneShotCallers(network, 500, 0.02), 120_000);
      return 500;
    });
    await step(`generator at ${String(settings.memoryRatePerSecond)}/s for ${String(settings.imdsSeconds)} s (one process, new connection per call)`, async () => {
      const generator = startLoad(network, "instance", scripts.load, {
        host: "169.254.169.254", port: 80, rate: settings.memoryRatePerSecond, seconds: settings.imdsSeconds, concurrency: settings.imdsConcurrency, requestTimeoutMs: 10_000,
      });
      const result = await finishWithin(generator, (settings.imdsSeconds * 3 + 90) * 1000);
      return (lastJsonLine(result.stdout, "load generator") as LoadResult).completedTotal;
    });
    const end = rssParts(pid);
    const peak = peakRssMiB(pid);
    let heapSnapshot: MemoryResult["heapSnapshot"] = null;
    if (settings.heapSnapshot) heapSnapshot = await takeHeapSnapshot(() => capture.spawned.child.kill("SIGUSR2"), snapshotDirectory);
    const { events } = await stopCapture(capture);
    light.child.kill("SIGTERM");
    await finishWithin(light, 10_000);
    const eventsByMethod: Record<string, number> = {};
    for (const event of events) {
      const method = event.attribution?.method ?? "none";
      eventsByMethod[method] = (eventsByMethod[method] ?? 0) + 1;
    }
    return {
      loadAverageBefore, loadAverageAfter: loadAverage(), executable: settings.executable === "" ? null : settings.executable, nodeArgs: settings.nodeArgs, idleRssMiB: idle.rssMiB,
      idleCpuMsPerSecond, idleReadSyscallsPerSecond, idle, steps, end, peakRssMiB: peak,
      events: events.length, callsMade, eventsByMethod, heapSnapshot,
    };
  });
}

function memoryTable(result: MemoryResult): string {
  const parts = (p: RssParts): string => `${String(p.rssMiB)} (anon ${String(p.anonMiB)}, file ${String(p.fileMiB)}, packet ring ${String(p.packetRingMiB)}, BPF maps ${String(p.bpfMapsMiB)})`;
  return [
    `idle RSS MiB: ${parts(result.idle)}`,
    `idle (${String(settings.memoryIdleSeconds)} s without calls: timers, and other IMDS callers on the host): ${String(result.idleCpuMsPerSecond)} ms CPU/s, ${String(result.idleReadSyscallsPerSecond)} read syscalls/s`,
    markdownTable(
      ["step", "calls", "calls/s", "CPU ms/call", "CPU ms/call net of idle", "read syscalls/call", "RSS MiB after", "peak RSS MiB so far"],
      result.steps.map((step) => [step.step, step.calls, step.callsPerSecond, step.cpuMsPerCall, step.cpuMsPerCallNetOfIdle, step.readSyscallsPerCall, step.rssMiB, step.peakRssMiB]),
    ),
    `end RSS MiB: ${parts(result.end)}; peak ${String(result.peakRssMiB)}; events ${String(result.events)} for ${String(result.callsMade)} calls, by method ${JSON.stringify(result.eventsByMethod)}`,
    result.heapSnapshot === null ? "" : `heap snapshot at the end: ${String(result.heapSnapshot.totalMiB)} MiB\n${markdownTable(["holder", "count", "self MiB"], result.heapSnapshot.top.map((entry) => [entry.name, entry.count, entry.selfMiB]))}`,
  ].join("\n");
}

// ------------------------------------------------------------------------------------------------
// Output.
// ------------------------------------------------------------------------------------------------

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function kinds(counts: Record<CallKind, number>): string {
  return `${String(counts.v1)}/${String(counts["token-request"])}/${String(counts.v2)}`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "-" : `${((part / whole) * 100).toFixed(1)}%`;
}

function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.map(String).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function bulkTable(results: readonly BulkResult[]): string {
  return markdownTable(
    ["capture", "load avg before", "background Gbit/s", "background pkts/s", "analyzer CPU % idle", "CPU % bulk only", "CPU % bulk + IMDS trickle", "packets past filter", "IMDS calls / events", "drops kernel/if", "peak RSS MiB"],
    results.map((result) => [
      result.scenario, result.loadAverageBefore,
      `${String(result.bulkOnly.gbitPerSecond)} / ${String(result.bulkWithImds.gbitPerSecond)}`,
      `${result.bulkOnly.packetsPerSecond.toLocaleString("en-US")} / ${result.bulkWithImds.packetsPerSecond.toLocaleString("en-US")}`,
      result.analyzerCpuPercentIdle, result.bulkOnly.analyzerCpuPercent, result.bulkWithImds.analyzerCpuPercent, result.packetsPastFilter,
      `${String(result.imdsCallsCompleted)} / ${String(result.imdsEvents)}`,
      `${String(result.packetsDroppedByKernel)}/${String(result.packetsDroppedByInterface)}`, result.analyzerPeakRssMiB,
    ]),
  );
}

function loadTable(results: readonly LoadRunResult[]): string {
  return markdownTable(
    ["scenario", "load avg before", "target/s", "achieved/s", "completed v1/token/v2", "failed", "events v1/token/v2", "events = completed", "drops kernel/if", "analyzer CPU % mean (max 1 s)", "analyzer CPU ms/call", "read syscalls/call", "peak RSS MiB", "responder CPU %", "generator CPU %", "attributed to generator pid", "events by method eBPF/proc/none", "max backlog", "last event s after last call", "stop s"],
    results.map((result) => [
      result.scenario, result.loadAverageBefore, result.targetPerSecond, result.achievedPerSecond, kinds(result.generator.completed), result.generator.failedTotal,
      kinds(result.events), result.eventsMatchCompleted ? "yes" : "NO", `${String(result.packetsDroppedByKernel)}/${String(result.packetsDroppedByInterface)}`,
      `${String(result.analyzerCpuPercentMean)} (${String(result.analyzerCpuPercentMax)})`, result.analyzerCpuMsPerCall, result.analyzerReadSyscallsPerCall, result.analyzerPeakRssMiB, result.responderCpuPercent, result.generatorCpuPercent,
      percent(result.eventsWithGeneratorPid, result.generator.completedTotal),
      `${String(result.eventsAttributionMethod["ebpf"] ?? 0)}/${String(result.eventsAttributionMethod["proc"] ?? 0)}/${String(result.eventsAttributionMethod["none"] ?? 0)}`,
      Math.max(0, ...result.backlogBySecond), result.lastEventAfterSeconds,
      result.stopError === null ? result.stopSeconds : `${String(result.stopSeconds)} (killed)`,
    ]),
  );
}

it("live capture under bulk traffic and IMDS load", async () => {
  const check = liveTestPrerequisites();
  if (!check.ok) throw new Error(`bench:live needs root and network namespaces: ${check.reason}`);
  if (settings.cpuProfile) mkdirSync(profileDirectory, { recursive: true });
  const bulk: BulkResult[] = [];
  const load: LoadRunResult[] = [];
  let memory: MemoryResult | null = null;
  if (settings.phases.includes("bulk")) {
    for (const scenario of bulkScenarios.filter((candidate) => candidate.name.includes(settings.only))) bulk.push(await measureBulk(scenario));
    console.log(`\nBulk non-IMDS traffic (two ${String(settings.bulkSeconds)} s windows per row: bulk only / bulk + IMDS trickle of ${String(settings.trickleRatePerSecond)}/s per path):\n${bulkTable(bulk)}`);
  }
  if (settings.phases.includes("load")) {
    for (const scenario of loadScenarios.filter((candidate) => candidate.name.includes(settings.only))) load.push(await measureLoad(scenario));
    const limit = settings.analyzerCpuPercent > 0 ? `, analyzer limited to ${String(settings.analyzerCpuPercent)} % of one CPU` : "";
    console.log(`\nIMDS load (${String(settings.imdsRatePerSecond)}/s for ${String(settings.imdsSeconds)} s, new connection per call, concurrency ${String(settings.imdsConcurrency)}${limit}; CLI ${settings.cli}):\n${loadTable(load)}`);
    for (const result of load) console.log(`${result.scenario}: backlog by second ${result.backlogBySecond.join(" ")}; RSS MiB by second ${result.rssMiBBySecond.join(" ")}; load average after ${loadAverage()}`);
  }
  if (settings.phases.includes("memory")) {
    memory = await measureMemory();
    console.log(`\nMemory and CPU (${settings.executable === "" ? "node and the bundle" : settings.executable}; node options: ${settings.nodeArgs.join(" ") || "none"}; load average ${memory.loadAverageBefore} before, ${memory.loadAverageAfter} after):\n${memoryTable(memory)}`);
  }
  mkdirSync(outDirectory, { recursive: true });
  writeFileSync(
    join(outDirectory, "live-load.json"),
    JSON.stringify({
      schema: "imds-analyzer/bench-live@1",
      measuredAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, clockTicksPerSecond },
      settings,
      bulk,
      load,
      memory,
    }, null, 2) + "\n",
  );
  for (const result of bulk) {
    expect(result.imdsEvents, `${result.scenario}: IMDS events`).toBe(result.imdsCallsCompleted);
    expect(result.packetsDroppedByKernel + result.packetsDroppedByInterface, `${result.scenario}: drops`).toBe(0);
  }
  if (memory !== null) expect(memory.events, "memory phase: events").toBe(memory.callsMade);
  for (const result of load) {
    expect(result.events, `${result.scenario}: events by kind`).toEqual(result.generator.completed);
    expect(result.packetsDroppedByKernel + result.packetsDroppedByInterface, `${result.scenario}: drops`).toBe(0);
  }
});
