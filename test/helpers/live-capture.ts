/**
 * What the live end-to-end tests share: running the built CLI's `capture` in a TestNetwork,
 * stopping it, reading what it wrote (every line must be whole JSON), and bounded waiting.
 * Only processes started here are stopped; every wait is bounded.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { TestNetwork, waitForLine } from "./netns.js";
import type { Spawned } from "./netns.js";
import { cliPath } from "./cli.js";

export { cliPath };
/** Where the tests' bounded clients send their GETs. */
export const imdsPathPrefix = "/latest/meta-data/";

/** What the keep-alive client asks for, in order. */
export const keepAliveClientPaths = ["/latest/meta-data/", "/latest/meta-data/instance-id", "/latest/meta-data/ami-id"] as const;
/**
 * A bounded python client (`python3 -c` it): keepAliveClientPaths on ONE connection, 300 ms
 * apart, long enough for the /proc socket lookup to find the live socket.
 */
export const keepAliveClientScript = [
  "import http.client, time",
  "c = http.client.HTTPConnection('169.254.169.254', 80, timeout=5)",
  `for p in ${JSON.stringify(keepAliveClientPaths)}:`,
  "    c.request('GET', p); c.getresponse().read(); time.sleep(0.3)",
].join("\n");

/** Capability numbers (linux/capability.h) the live capture keeps on "any" with outputs in a root-owned directory. */
const keptCapabilities = { CAP_DAC_READ_SEARCH: 2, CAP_SYS_PTRACE: 19 } as const;
/** Those two as a CapEff mask. */
export const keptCapabilityMask = (1n << BigInt(keptCapabilities.CAP_DAC_READ_SEARCH)) | (1n << BigInt(keptCapabilities.CAP_SYS_PTRACE));

/** The capability sets and no_new_privs of one thread, from /proc/PID[/task/TID]/status. */
export function credentialsOf(statusPath: string): Record<"CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb" | "NoNewPrivs", bigint> {
  const status = readFileSync(statusPath, "utf8");
  const field = (name: string, radix: 16 | 10): bigint => {
    const match = new RegExp(`^${name}:\\s*(\\S+)$`, "m").exec(status);
    if (!match) throw new Error(`${statusPath}: no ${name}`);
    return radix === 16 ? BigInt(`0x${match[1]!}`) : BigInt(match[1]!);
  };
  return {
    CapInh: field("CapInh", 16), CapPrm: field("CapPrm", 16), CapEff: field("CapEff", 16),
    CapBnd: field("CapBnd", 16), CapAmb: field("CapAmb", 16), NoNewPrivs: field("NoNewPrivs", 10),
  };
}

export interface Capture {
  readonly spawned: Spawned;
  readonly eventsPath: string;
  readonly summaryPath: string;
}

/**
 * Starts `capture` in the instance namespace (170 s at most) writing EVENTSPATH and a summary
 * next to the network's files; resolves once it says where events go. `program` is what runs the
 * CLI: node and the bundle by default, or a single executable.
 */
export async function startCapture(
  network: TestNetwork,
  eventsPath: string,
  extraArgs: readonly string[] = [],
  program: readonly string[] = [process.execPath, cliPath],
): Promise<Capture> {
  const summaryPath = join(network.directory, "summary.json");
  const spawned = network.spawn("instance", [
    ...program, "capture", "--events", eventsPath, "--summary-json", summaryPath, "--duration", "170s", ...extraArgs,
  ]);
  await waitForLine(spawned, "events go to", 20_000);
  return { spawned, eventsPath, summaryPath };
}

/** Stops the capture with `signal`; it must exit 0 within `withinMs`. */
export async function stopCapture(
  capture: Capture,
  signal: NodeJS.Signals = "SIGINT",
  withinMs = 10_000,
): Promise<{ summary: AnalysisSummary; stderr: string; stopMs: number }> {
  const sentAt = Date.now();
  capture.spawned.child.kill(signal);
  const timer = setTimeout(() => capture.spawned.child.kill("SIGKILL"), withinMs);
  const result = await capture.spawned.done;
  clearTimeout(timer);
  const stopMs = Date.now() - sentAt;
  expect(result.code, result.stderr).toBe(0);
  expect(stopMs).toBeLessThan(withinMs);
  const summary = JSON.parse(readFileSync(capture.summaryPath, "utf8")) as AnalysisSummary;
  return { summary, stderr: result.stderr, stopMs };
}

/**
 * Every line of an events file, each of which must be a whole JSON object: a torn line (half an
 * event, as a partial write leaves) fails the test here. A file not there yet has none.
 */
export function eventLines(path: string): ImdsEvent[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  if (text.length > 0) expect(text.endsWith("\n"), `${path} ends inside a line`).toBe(true);
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as ImdsEvent;
      } catch {
        throw new Error(`${path} holds a line that is not whole JSON: ${JSON.stringify(line.slice(0, 200))}`);
      }
    });
}

export function pathsOf(events: readonly { path?: unknown }[]): string[] {
  return events.map((event) => String(event.path));
}

/** The paths the bounded clients ask for: /latest/meta-data/PREFIX-0 .. PREFIX-(COUNT-1). */
export function expectedPaths(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, n) => `${imdsPathPrefix}${prefix}-${n}`);
}

/** Polls `check` every 50 ms until it is true; fails after `timeoutMs`, with `explain()` if given. */
export async function waitUntil(what: string, timeoutMs: number, check: () => boolean, explain?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${explain ? ` (${explain()})` : ""}`);
    await sleep(50);
  }
}

export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Runs `ip ARGS` in the instance namespace; throws with its stderr when it fails. */
export function ipInInstance(network: TestNetwork, ...args: string[]): void {
  const result = spawnSync("ip", ["netns", "exec", network.instance, "ip", ...args], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
}

/** Makes a network with the fake IMDS (optional mode), runs `body`, always deletes the network and what was started in it. */
export async function inTestNetwork(body: (network: TestNetwork) => Promise<void>): Promise<void> {
  const network = TestNetwork.create();
  try {
    await network.startFakeImds("optional");
    await body(network);
  } finally {
    await network.close();
  }
}
