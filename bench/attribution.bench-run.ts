/**
 * npm run bench:attribution — how many IMDS callers are attributed to the right pid and command
 * line, with eBPF and with the /proc fallback. In a test network namespace (never the machine's
 * own), hundreds of one-shot curl v1 calls (sequential at ~50 per second, then 20 at a time) plus
 * python urllib and AWS CLI callers hit the fake IMDS while `imds-analyzer capture` runs.
 * Prints a table and writes bench/out/attribution.json. Needs root.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { ImdsEvent } from "../src/events.js";
import { eventLines } from "../test/helpers/live-capture.js";
import { liveTestPrerequisites, TestNetwork, waitForLine } from "../test/helpers/netns.js";
import { cliPath as cli } from "../test/helpers/cli.js";

const sequentialCurls = Number(process.env["BENCH_SEQUENTIAL"] ?? 200);
const concurrentRounds = Number(process.env["BENCH_CONCURRENT_ROUNDS"] ?? 10);
const concurrency = 20;
const pythonCallers = 20;
const awsCliCallers = 5;
const targetIntervalMs = 20; // 50 calls per second

interface Caller {
  readonly kind: string;
  readonly pid: number;
  readonly argv: readonly string[];
}

interface MethodResult {
  readonly method: string;
  readonly callers: number;
  readonly rightPid: number;
  readonly rightCmdline: number;
  readonly withExe: number;
  readonly byKind: Record<string, { callers: number; rightPid: number; rightCmdline: number; withExe: number }>;
  readonly callsPerSecond: number;
  readonly packetsDropped: number;
}

const cleanEnv = (home: string): string[] => [
  "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", `HOME=${home}`, "AWS_CONFIG_FILE=/nonexistent",
  "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_DEFAULT_REGION=us-east-1",
];

async function measure(method: "ebpf" | "proc"): Promise<MethodResult> {
  const network = TestNetwork.create();
  try {
    await network.startFakeImds("optional");
    const eventsPath = join(network.directory, "events.ndjson");
    const summaryPath = join(network.directory, "summary.json");
    const capture = network.spawn("instance", [process.execPath, cli, "capture", "--attribution", method, "--events", eventsPath, "--summary-json", summaryPath]);
    await waitForLine(capture, "events go to", 20_000);
    const callers: Caller[] = [];
    const run = async (kind: string, argv: string[]): Promise<void> => {
      const result = await network.run("instance", [...cleanEnv(network.directory), ...argv], 60_000);
      callers.push({ kind, pid: result.pid, argv });
    };
    // One new curl every 20 ms (50 per second), each a separate short-lived process.
    const started = Date.now();
    const paced: Promise<void>[] = [];
    for (let call = 0; call < sequentialCurls; call++) {
      const wait = started + call * targetIntervalMs - Date.now();
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
      paced.push(run("curl at 50/s", ["curl", "-sS", "-o", "/dev/null", `http://169.254.169.254/latest/meta-data/seq-${call}`]));
    }
    const sequentialSeconds = (Date.now() - started) / 1000;
    await Promise.all(paced);
    for (let round = 0; round < concurrentRounds; round++) {
      await Promise.all(
        Array.from({ length: concurrency }, (_, index) =>
          run("curl 20 concurrent", ["curl", "-sS", "-o", "/dev/null", `http://169.254.169.254/latest/meta-data/conc-${round}-${index}`]),
        ),
      );
    }
    for (let call = 0; call < pythonCallers; call++) {
      await run("python urllib", ["/usr/bin/python3", "-c", `import urllib.request; urllib.request.urlopen('http://169.254.169.254/latest/meta-data/py-${call}').read()`]);
    }
    for (let call = 0; call < awsCliCallers; call++) await run("aws cli", ["/usr/bin/aws", "configure", "list"]);
    await new Promise((done) => setTimeout(done, 500));
    capture.child.kill("SIGINT");
    await capture.done;

    const events = eventLines(eventsPath);
    const summary = JSON.parse(readFileSync(summaryPath, "utf8")) as { live: { packetsDroppedByKernel: number } };
    const byPid = new Map<number, ImdsEvent[]>();
    for (const event of events) {
      const pid = event.process?.pid;
      if (pid === undefined) continue;
      byPid.set(pid, [...(byPid.get(pid) ?? []), event]);
    }
    const byKind: MethodResult["byKind"] = {};
    let rightPid = 0;
    let rightCmdline = 0;
    let withExe = 0;
    for (const caller of callers) {
      const tally = (byKind[caller.kind] ??= { callers: 0, rightPid: 0, rightCmdline: 0, withExe: 0 });
      tally.callers++;
      const own = byPid.get(caller.pid) ?? [];
      if (own.length === 0) continue;
      tally.rightPid++;
      rightPid++;
      if (own[0]!.process?.exe) {
        tally.withExe++;
        withExe++;
      }
      // The aws CLI re-execs python under its own name: compare the arguments after argv[0].
      const cmdline = own[0]!.process?.cmdline ?? [];
      if (JSON.stringify(cmdline.slice(-caller.argv.length + 1)) === JSON.stringify(caller.argv.slice(1))) {
        tally.rightCmdline++;
        rightCmdline++;
      }
    }
    return {
      method,
      callers: callers.length,
      rightPid,
      rightCmdline,
      withExe,
      byKind,
      callsPerSecond: Math.round(sequentialCurls / sequentialSeconds),
      packetsDropped: summary.live.packetsDroppedByKernel,
    };
  } finally {
    await network.close();
  }
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "-" : `${((part / whole) * 100).toFixed(1)}%`;
}

it("attribution share, eBPF and /proc", async () => {
  const check = liveTestPrerequisites();
  if (!check.ok) throw new Error(`bench:attribution needs root and network namespaces: ${check.reason}`);
  const results = [await measure("ebpf"), await measure("proc")];
  const lines = [
    "",
    "method  caller              callers  right pid  right cmdline  exe known",
    "------  ------------------  -------  ---------  -------------  ---------",
  ];
  const row = (method: string, kind: string, callers: number, pid: number, cmdline: number, exe: number): string =>
    `${method.padEnd(6)}  ${kind.padEnd(18)}  ${String(callers).padStart(7)}  ${percent(pid, callers).padStart(9)}  ${percent(cmdline, callers).padStart(13)}  ${percent(exe, callers).padStart(9)}`;
  for (const result of results) {
    for (const [kind, tally] of Object.entries(result.byKind)) {
      lines.push(row(result.method, kind, tally.callers, tally.rightPid, tally.rightCmdline, tally.withExe));
    }
    lines.push(
      row(result.method, "all", result.callers, result.rightPid, result.rightCmdline, result.withExe) +
        `   (paced curls at ${result.callsPerSecond} calls/s, ${result.packetsDropped} packets dropped)`,
    );
  }
  console.log(lines.join("\n"));
  mkdirSync(join(import.meta.dirname, "out"), { recursive: true });
  writeFileSync(join(import.meta.dirname, "out", "attribution.json"), JSON.stringify({ measuredAt: new Date().toISOString(), results }, null, 2) + "\n");
  expect(results[0]!.callers).toBeGreaterThan(0);
});
