/**
 * What one read of a process's procfs file costs the analyzer, asynchronously (open, reads and
 * close through libuv's thread pool and promises: `readBoundedText`, readlink from
 * fs/promises) and synchronously (`readProcfsTextSync`, readlinkSync), in the same run, over
 * the same live processes; then the whole identity read (`readProcessIdentity`) of a new
 * process. Issue 13: a call from a new process cost 11-14x one from a known process.
 *
 *   npx vitest run --config bench/vitest.config.ts bench/procfs-read.bench-run.ts
 *
 * CPU is the process's own (user + system, process.cpuUsage: the thread pool's work included),
 * per read; wall is the time until the read's result is there. Settings: BENCH_PROCESSES (200
 * sleeping children read in turn), BENCH_ROUNDS (20). Prints a table and writes
 * bench/out/procfs-read.json. No root needed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { readlink } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { readProcessIdentity } from "../src/attribution/process-identity.js";
import { maxSmallProcFileBytes, readBoundedText, readProcfsTextSync } from "../src/attribution/procfs-read.js";

const processCount = Number(process.env["BENCH_PROCESSES"] ?? 200);
const rounds = Number(process.env["BENCH_ROUNDS"] ?? 20);
const outDirectory = join(import.meta.dirname, "out");

interface Row {
  readonly file: string;
  readonly mode: "async" | "sync";
  readonly reads: number;
  readonly cpuMicrosPerRead: number;
  readonly wallMicrosPerRead: number;
}

type Reader = (pid: number) => unknown;

const files = ["stat", "status", "cgroup", "cmdline"] as const;

function readers(): { file: string; mode: Row["mode"]; read: Reader }[] {
  const list: { file: string; mode: Row["mode"]; read: Reader }[] = [];
  for (const file of files) {
    list.push({ file, mode: "async", read: (pid) => readBoundedText(`/proc/${String(pid)}/${file}`, maxSmallProcFileBytes) });
    list.push({ file, mode: "sync", read: (pid) => readProcfsTextSync(`/proc/${String(pid)}/${file}`, maxSmallProcFileBytes) });
  }
  list.push({ file: "exe (readlink)", mode: "async", read: (pid) => readlink(`/proc/${String(pid)}/exe`) });
  list.push({ file: "exe (readlink)", mode: "sync", read: (pid) => readlinkSync(`/proc/${String(pid)}/exe`) });
  return list;
}

/** One read at a time (as one new caller's files are read), over every process, `rounds` times. */
async function measure(pids: readonly number[], read: Reader): Promise<{ cpuMicros: number; wallMicros: number; reads: number }> {
  for (const pid of pids.slice(0, 20)) await read(pid); // warm-up: JIT, the pool's threads
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const pid of pids) await read(pid);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { cpuMicros: cpu.user + cpu.system, wallMicros: (performance.now() - wallBefore) * 1000, reads: rounds * pids.length };
}

it("procfs reads: asynchronous against synchronous, per file, and a whole identity", async () => {
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < processCount; i++) children.push(spawn("sleep", ["300"], { stdio: "ignore" }));
    const pids = children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
    expect(pids).toHaveLength(processCount);
    const loadBefore = loadavg().map((value) => value.toFixed(2)).join(" ");
    const rows: Row[] = [];
    for (const { file, mode, read } of readers()) {
      const { cpuMicros, wallMicros, reads } = await measure(pids, read);
      rows.push({ file, mode, reads, cpuMicrosPerRead: Math.round((cpuMicros / reads) * 10) / 10, wallMicrosPerRead: Math.round((wallMicros / reads) * 10) / 10 });
    }
    // A whole identity as the attributor reads one (the ancestor chain above the parent reused,
    // as for the one-shot callers of one script): the current code, with its synchronous files.
    const identity = await measure(pids, async (pid) => {
      const result = await readProcessIdentity(pid);
      if ("status" in result) throw new Error(`identity of ${String(pid)}: ${result.reason}`);
    });
    const loadAfter = loadavg().map((value) => value.toFixed(2)).join(" ");

    const lines = [
      `procfs reads (${String(processCount)} live processes x ${String(rounds)} rounds; load average ${loadBefore} before, ${loadAfter} after):`,
      "| file | async µs CPU/read | sync µs CPU/read | async/sync CPU | async µs wall | sync µs wall |",
      "| --- | --: | --: | --: | --: | --: |",
    ];
    for (const file of [...files, "exe (readlink)"]) {
      const asyncRow = rows.find((row) => row.file === file && row.mode === "async")!;
      const syncRow = rows.find((row) => row.file === file && row.mode === "sync")!;
      lines.push(`| ${file} | ${String(asyncRow.cpuMicrosPerRead)} | ${String(syncRow.cpuMicrosPerRead)} | ${(asyncRow.cpuMicrosPerRead / syncRow.cpuMicrosPerRead).toFixed(1)} | ${String(asyncRow.wallMicrosPerRead)} | ${String(syncRow.wallMicrosPerRead)} |`);
    }
    const identityCpu = Math.round((identity.cpuMicros / identity.reads) * 10) / 10;
    const identityWall = Math.round((identity.wallMicros / identity.reads) * 10) / 10;
    lines.push(`readProcessIdentity (as the code stands): ${String(identityCpu)} µs CPU, ${String(identityWall)} µs wall per process`);
    console.log(lines.join("\n"));
    mkdirSync(outDirectory, { recursive: true });
    writeFileSync(join(outDirectory, "procfs-read.json"), `${JSON.stringify({ loadBefore, loadAfter, processCount, rounds, rows, identity: { cpuMicros: identityCpu, wallMicros: identityWall } }, null, 2)}\n`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
  }
});
