// @ts-check
/**
 * Start-up time of the CLI, whole process (`--version`: start, load, print, exit), against
 * `node -e 0` (Node's own floor): the unbundled modules (dist/bin.js), the bundle
 * (dist/imds-analyzer.cjs, what npm's bin runs) and the single executable (release/, when
 * `npm run package` made it), each of the last two also as install-service's unit runs it (with
 * the service's V8 options: on node's command line, or in NODE_OPTIONS for the executable).
 * Runs are interleaved so that load on the machine hits all alike; medians and the load average
 * are printed (the machine may be shared: compare ratios).
 *
 * Usage: node bench/startup.mjs [runs] (default 30); `npm run bench` runs it first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const runs = Number(process.argv[2] ?? "30");
const executable = join(root, "release", `imds-analyzer-linux-${process.arch}`);

/** @type {unknown} */
const installedProgram = await import(pathToFileURL(join(root, "dist", "service", "installed-program.js")).href);
const { serviceNodeOptions } = /** @type {{ serviceNodeOptions: string[] }} */ (installedProgram);
const bundle = join(root, "dist", "imds-analyzer.cjs");

/** @type {{ name: string, command: string[], nodeOptions?: string }[]} */
const subjects = [
  { name: "node -e 0", command: [process.execPath, "-e", "0"] },
  { name: "unbundled (node dist/bin.js)", command: [process.execPath, join(root, "dist", "bin.js"), "--version"] },
  { name: "bundle (node dist/imds-analyzer.cjs)", command: [process.execPath, bundle, "--version"] },
  { name: `bundle, service: node ${serviceNodeOptions.join(" ")}`, command: [process.execPath, ...serviceNodeOptions, bundle, "--version"] },
  ...(existsSync(executable) ? [
    { name: "single executable", command: [executable, "--version"] },
    { name: `single executable, service: NODE_OPTIONS=${serviceNodeOptions.join(" ")}`, command: [executable, "--version"], nodeOptions: serviceNodeOptions.join(" ") },
  ] : []),
];

/** @param {{ command: string[], nodeOptions?: string }} subject */
function timeOnce({ command, nodeOptions }) {
  const [program, ...args] = command;
  const env = { ...process.env };
  delete env["NODE_OPTIONS"];
  if (nodeOptions !== undefined) env["NODE_OPTIONS"] = nodeOptions;
  const started = process.hrtime.bigint();
  const result = spawnSync(/** @type {string} */ (program), args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command.join(" ")} failed (exit ${result.status})`);
  // A warning (a code cache rejected, say) means this is not the start-up being measured.
  if (result.stderr !== "") throw new Error(`${command.join(" ")} said: ${result.stderr}`);
  return ms;
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const before = loadavg();
/** @type {number[][]} */
const times = subjects.map(() => []);
for (const subject of subjects) timeOnce(subject); // warm the page cache
for (let run = 0; run < runs; run++) subjects.forEach((subject, index) => { times[index]?.push(timeOnce(subject)); });
const after = loadavg();

const floor = median(times[0] ?? []);
console.log(`start-up, whole process, median of ${runs} interleaved runs (load average ${before.map((n) => n.toFixed(2)).join(" ")} before, ${after.map((n) => n.toFixed(2)).join(" ")} after):`);
const results = subjects.map((subject, index) => {
  const ms = median(times[index] ?? []);
  console.log(`  ${subject.name.padEnd(64)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / floor).toFixed(2)}x node -e 0`);
  return { name: subject.name, medianMs: ms };
});
mkdirSync(join(root, "bench", "out"), { recursive: true });
writeFileSync(join(root, "bench", "out", "startup.json"), JSON.stringify({ runs, loadAverage: { before, after }, results }, null, 2) + "\n");
