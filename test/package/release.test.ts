/**
 * What `npm run package` ships, run the way a user runs it: the single executable from an empty
 * directory with an empty environment or with $TMPDIR on a noexec file system, the arm64 one under qemu-user, the npm tarball installed
 * into a fresh prefix on a PATH without compiler, make or python, and live capture from both.
 * The release is made first when it is missing or stale (test/helpers/release.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { cliPath } from "../helpers/cli.js";
import { eventLines, inTestNetwork, startCapture, stopCapture } from "../helpers/live-capture.js";
import { shouldSkipLiveTests } from "../helpers/netns.js";
import type { TestNetwork } from "../helpers/netns.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { ensureRelease, executablePath, releaseDirectory, tarballPath } from "../helpers/release.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { serviceNodeOptions } from "../../src/service/installed-program.js";

const captureDirectory = join(repositoryRoot, "captures");
const captures = readdirSync(captureDirectory).filter((name) => /\.pcap(ng)?$/.test(name)).map((name) => join(captureDirectory, name));
const skipLive = shouldSkipLiveTests();

function run(command: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const [program, ...args] = command;
  const result = spawnSync(program!, args, { encoding: "utf8", timeout: 300_000, maxBuffer: 256 * 1024 * 1024, ...options });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, error: result.error?.message };
}

/** The npm CLI's output for `args` (node and the bundle, as npm's bin runs it). */
function npmCli(args: readonly string[]) {
  return run([process.execPath, cliPath, ...args], { cwd: repositoryRoot });
}

/** A one-shot curl of the fake IMDS in the instance namespace, as a real caller; its pid. */
async function oneShotCurl(network: TestNetwork): Promise<number> {
  const spawned = network.spawn("instance", ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://169.254.169.254/latest/meta-data/instance-id"]);
  const done = await spawned.done;
  expect(done.code, done.stderr).toBe(0);
  return spawned.pid;
}

/** Runs a live capture with `program`, makes one curl call, and returns the events naming its pid. */
async function captureOneCurl(program: readonly string[]): Promise<{ events: ImdsEvent[]; stderr: string }> {
  let events: ImdsEvent[] = [];
  let stderr = "";
  await inTestNetwork(async (network) => {
    const eventsPath = join(network.directory, "events.ndjson");
    const capture = await startCapture(network, eventsPath, ["--attribution", "ebpf"], program);
    const pid = await oneShotCurl(network);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !eventLines(eventsPath).some((event) => event.process?.pid === pid)) await new Promise((resolve) => setTimeout(resolve, 100));
    stderr = (await stopCapture(capture)).stderr;
    events = eventLines(eventsPath).filter((event) => event.process?.pid === pid);
  });
  return { events, stderr };
}

/** Installs the x64 executable as a service (--no-start) under a fresh directory; the unit's text and paths. */
function installExecutableService(): { unit: string; installed: string; logDir: string; root: string; stderr: string } {
  const root = makeTempDir("imds-exe-install-");
  const [unitDir, logDir, installed] = ["units", "log", "bin/imds-analyzer"].map((name) => join(root, name));
  mkdirSync(unitDir!);
  const result = run([executablePath("x64"), "install-service", "--unit-dir", unitDir!, "--log-dir", logDir!, "--install-to", installed!, "--no-start"], { cwd: "/" });
  expect(result.code, result.stderr).toBe(0);
  return { unit: readFileSync(join(unitDir!, "imds-analyzer.service"), "utf8"), installed: installed!, logDir: logDir!, root, stderr: result.stderr };
}

/** What systemd runs for `unit`: ExecStart's words and the Environment= assignments (the unquoted forms install-service writes for these paths). */
function unitCommand(unit: string): { argv: string[]; environment: Record<string, string> } {
  const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1];
  if (execStart === undefined || /["\\]/.test(execStart)) throw new Error(`no plain ExecStart in the unit:\n${unit}`);
  const environment = Object.fromEntries([...unit.matchAll(/^Environment=([^"=\n]+)=([^"\n]*)$/gm)].map((match) => [match[1]!, match[2]!]));
  return { argv: execStart.split(" "), environment };
}

/** This node's V8 heap limit (old generation + 3 semi-spaces) with `v8Options`. */
function nodeHeapLimit(v8Options: readonly string[]): number {
  const result = run([process.execPath, ...v8Options, "-p", "require('node:v8').getHeapStatistics().heap_size_limit"]);
  expect(result.code, result.stderr).toBe(0);
  return Number(result.stdout.trim());
}

describe("the release (npm run package)", () => {
  beforeAll(() => { ensureRelease(); }, 600_000);

  it("SHA256SUMS checks every release file", () => {
    const sums = run(["sha256sum", "-c", "SHA256SUMS"], { cwd: releaseDirectory });
    expect(sums.code, sums.stderr).toBe(0);
    const listed = readFileSync(join(releaseDirectory, "SHA256SUMS"), "utf8").trim().split("\n").map((line) => line.split("  ")[1]);
    expect(listed).toContain("imds-analyzer-linux-x64");
    expect(listed.some((name) => name?.endsWith(".tgz"))).toBe(true);
  });

  it("the x64 executable, from an empty directory with an empty environment, gives the npm CLI's events for every capture", () => {
    const empty = makeTempDir("imds-exe-empty-");
    const fromExecutable = run(["env", "-i", executablePath("x64"), "analyze", "--quiet", ...captures], { cwd: empty });
    const fromNpm = npmCli(["analyze", "--quiet", ...captures]);
    expect(fromExecutable.stderr).toBe("");
    expect(fromExecutable.stdout.trim().split("\n").length).toBeGreaterThan(captures.length);
    expect(fromExecutable).toEqual(fromNpm);
    expect(readdirSync(empty)).toEqual([]);
  });

  it("every command answers as through npm: --version, --help, report, usage errors", () => {
    const events = join(makeTempDir("imds-exe-report-"), "events.ndjson");
    expect(npmCli(["analyze", "--quiet", "--events", events, ...captures]).code).toBe(0);
    for (const args of [["--version"], ["--help"], ["report", events], ["report", "--format", "json", events], ["analyze"], ["capture", "--rotate-keep", "abc", "--events", events]]) {
      expect(run(["env", "-i", executablePath("x64"), ...args], { cwd: "/" }), args.join(" ")).toEqual(npmCli(args));
    }
  });

  it("install-service from the executable installs that file and the unit runs it alone (no node), with the service's V8 options in NODE_OPTIONS", () => {
    const { unit, installed, logDir, root, stderr } = installExecutableService();
    expect(stderr).toContain(`installed ${installed} (this executable)`);
    expect(readFileSync(installed).equals(readFileSync(executablePath("x64")))).toBe(true);
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(unit).toContain(`Environment=NODE_OPTIONS=--max-semi-space-size=2\nExecStart=${installed} capture --interface any --events ${join(logDir, "events.ndjson")} `);
    expect(run([installed, "--version"]).code).toBe(0);
    const bad = run([executablePath("x64"), "install-service", "--unit-dir", join(root, "units"), "--install-to", join(root, "other"), "--rotate-keep", "abc"]);
    expect(bad.code).toBe(2);
    expect(existsSync(join(root, "other"))).toBe(false);
  });

  it("each start uses the code cache made for its V8 options, with no warning: none (interactive) and the service's", () => {
    // IMDS_ANALYZER_DEBUG_CODE_CACHE=1 makes scripts/sea-main.cjs say which cache served the start.
    const interactive = run(["env", "-i", "IMDS_ANALYZER_DEBUG_CODE_CACHE=1", executablePath("x64"), "--version"], { cwd: "/" });
    expect(interactive).toMatchObject({ code: 0, stderr: "imds-analyzer: code cache for no options: accepted\n" });
    const service = run(["env", "-i", `NODE_OPTIONS=${serviceNodeOptions.join(" ")}`, "IMDS_ANALYZER_DEBUG_CODE_CACHE=1", executablePath("x64"), "--version"], { cwd: "/" });
    expect(service).toMatchObject({ code: 0, stderr: `imds-analyzer: code cache for NODE_OPTIONS="${serviceNodeOptions.join(" ")}": accepted\n` });
    // Other V8 options: no cache fits, V8 compiles from source, and nothing is said.
    const other = run(["env", "-i", "NODE_OPTIONS=--max-semi-space-size=1", executablePath("x64"), "--version"], { cwd: "/" });
    expect(other).toEqual(npmCli(["--version"]));
  });

  it.skipIf(skipLive)("installed as a service and run as its unit runs it, the executable has 2 MiB semi-spaces, its own code cache and says nothing", async () => {
    const { unit, logDir } = installExecutableService();
    const { argv, environment } = unitCommand(unit);
    expect(environment).toEqual({ NODE_OPTIONS: "--max-semi-space-size=2" });
    // In a network namespace of its own with only lo: the capture sees no traffic and sends none.
    const inOwnNetwork = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...argv];
    const systemdEnvironment = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...environment };

    // Exactly the unit's command and environment (for 2 s): --quiet, so any line is a warning.
    const asUnit = run([...inOwnNetwork, "--duration", "2s"], { env: { ...systemdEnvironment, IMDS_ANALYZER_DEBUG_CODE_CACHE: "1" } });
    expect(asUnit).toMatchObject({ code: 0, stderr: 'imds-analyzer: code cache for NODE_OPTIONS="--max-semi-space-size=2": accepted\n' });

    // Its V8 heap, from Node's diagnostic report (report options are Node's, not V8's: they
    // change no V8 flag): the limit is the old generation plus 3 semi-spaces, so it equals this
    // node's with --max-semi-space-size=2, and not its default (16 MiB semi-spaces here).
    const reportDir = join(logDir, "reports");
    mkdirSync(reportDir, { recursive: true });
    rmSync(join(logDir, "events.ndjson")); // the first run's: its appearance marks this one started
    const reportOptions = `--report-on-signal --report-signal=SIGUSR2 --report-compact --report-dir=${reportDir}`;
    const child = spawn(inOwnNetwork[0]!, [...inOwnNetwork.slice(1), "--duration", "60s"], {
      env: { ...systemdEnvironment, NODE_OPTIONS: `${environment["NODE_OPTIONS"]!} ${reportOptions}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => { resolve(code); }));
    try {
      const bounded = async (what: string, done: () => boolean) => {
        const deadline = Date.now() + 20_000;
        while (!done()) {
          if (Date.now() > deadline) throw new Error(`${what} (stderr: ${stderr})`);
          await sleep(100);
        }
      };
      // Started once it has opened its events file (the report's signal handler is set by then).
      await bounded("the capture did not start", () => existsSync(join(logDir, "events.ndjson")));
      child.kill("SIGUSR2");
      await bounded("no diagnostic report", () => readdirSync(reportDir).some((name) => name.endsWith(".json")));
      await sleep(200); // the report is written whole, then closed
      const reportFile = readdirSync(reportDir).find((name) => name.endsWith(".json"))!;
      const report = JSON.parse(readFileSync(join(reportDir, reportFile), "utf8")) as { javascriptHeap: { memoryLimit: number } };
      expect(report.javascriptHeap.memoryLimit).toBe(nodeHeapLimit(serviceNodeOptions));
      expect(nodeHeapLimit([])).toBeGreaterThan(report.javascriptHeap.memoryLimit);
      child.kill("SIGTERM");
      expect(await exited, stderr).toBe(0);
      expect(stderr).not.toMatch(/cache|warning/i); // Node says where it wrote the report, nothing else
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("the arm64 executable under qemu-aarch64-static gives x64's events", (context) => {
    if (!existsSync(executablePath("arm64"))) {
      // The arm64 addons come from the native cross-build (prebuilds/linux-arm64/).
      console.warn("skipping the arm64 executable: no prebuilds/linux-arm64/ here, so npm run package made none");
      context.skip();
    }
    const files = captures.slice(0, 4);
    const arm64 = run(["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", executablePath("arm64"), "analyze", "--quiet", ...files], { cwd: "/" });
    expect(arm64.stderr).toBe("");
    expect(arm64).toEqual(run([executablePath("x64"), "analyze", "--quiet", ...files], { cwd: "/" }));
    // Its code caches, made by the arm64 node under qemu, serve it: both.
    for (const nodeOptions of ["", serviceNodeOptions.join(" ")]) {
      const started = run(["env", "-i", `NODE_OPTIONS=${nodeOptions}`, "IMDS_ANALYZER_DEBUG_CODE_CACHE=1", "qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", executablePath("arm64"), "--version"], { cwd: "/" });
      expect(started.stderr).toBe(`imds-analyzer: code cache for ${nodeOptions === "" ? "no options" : `NODE_OPTIONS="${nodeOptions}"`}: accepted\n`);
    }
  }, 300_000);

  it.skipIf(skipLive)("the x64 executable captures live: a one-shot curl is attributed to its pid with eBPF", async () => {
    const { events, stderr } = await captureOneCurl([executablePath("x64")]);
    expect(events, stderr).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "v1", attribution: { method: "ebpf" }, process: { comm: "curl" } });
  });

  it.skipIf(skipLive)("with $TMPDIR on a noexec file system the executable loads its addons from the next place, and names every place when none works", () => {
    // Hardened hosts mount /tmp noexec: a library written there cannot be mapped. Each case runs in
    // a private mount namespace (the mounts vanish with it) and a network namespace of its own
    // with only lo, so the capture sees no traffic and sends none.
    const directory = makeTempDir("imds-noexec-");
    const tmp = join(directory, "tmp");
    const bin = join(directory, "bin");
    mkdirSync(tmp);
    mkdirSync(bin);
    const executable = join(bin, "imds-analyzer-linux-x64");
    copyFileSync(executablePath("x64"), executable);
    const capture = `env -u XDG_RUNTIME_DIR TMPDIR=${tmp} ${executable} capture -i lo --attribution ebpf --duration 1s --events ${join(directory, "events.ndjson")}`;
    const noexecTmp = `ip link set lo up && mount -t tmpfs -o noexec,size=16m tmpfs ${tmp}`;
    const inPrivateNamespaces = (script: string) => run(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script]);

    const fallsBack = inPrivateNamespaces(`${noexecTmp} && exec ${capture}`);
    expect(fallsBack.code, fallsBack.stderr).toBe(0);
    expect(fallsBack.stderr).toContain("attribution: eBPF");
    expect(fallsBack.stderr).not.toMatch(/privileges not dropped|unavailable/);

    // Every place unusable: /dev/shm noexec too, and the executable's directory read-only.
    const noPlace = inPrivateNamespaces(`${noexecTmp} && mount -t tmpfs -o noexec,size=16m tmpfs /dev/shm && ` +
      `mount --bind ${bin} ${bin} && mount -o remount,bind,ro ${bin} && exec ${capture}`);
    expect(noPlace.code).toBe(1);
    const lastLine = noPlace.stderr.trim().split("\n").at(-1) ?? "";
    expect(lastLine).toContain("live capture is unavailable: cannot load the libpcap addon embedded in this executable");
    expect(lastLine).toContain(`${tmp}: `);
    expect(lastLine).toContain("failed to map segment");
    expect(lastLine).toContain("/dev/shm: ");
    expect(lastLine).toContain(`cannot make a private directory in ${bin}: EROFS`);
  });

  it.skipIf(skipLive)("the npm tarball installs into a fresh prefix without compiler, make or python, and captures live", async () => {
    const prefix = makeTempDir("imds-npm-prefix-");
    // Only node, npm and sh (npm runs scripts with it) on PATH: a compile would fail for want of
    // gcc, make and python3.
    const bin = join(makeTempDir("imds-npm-path-"), "bin");
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, "node"));
    symlinkSync("/bin/sh", join(bin, "sh"));
    symlinkSync(join(process.execPath, "..", "..", "lib", "node_modules", "npm", "bin", "npm-cli.js"), join(bin, "npm"));
    for (const tool of ["gcc", "cc", "make", "python3", "python"]) expect(run(["sh", "-c", `PATH=${bin} command -v ${tool}`]).code).not.toBe(0);
    const install = run([join(bin, "npm"), "install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts", tarballPath()], {
      env: { PATH: bin, HOME: prefix, npm_config_cache: join(process.env["HOME"] ?? "/root", ".npm"), CI: "" },
    });
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout + install.stderr).toContain(`using the prebuilt addons for linux-${process.arch} (nothing to compile)`);
    expect(install.stdout + install.stderr).not.toMatch(/gyp|building from source/);
    const installed = join(prefix, "bin", "imds-analyzer");
    const { events, stderr } = await captureOneCurl([installed]);
    expect(events, stderr).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "v1", attribution: { method: "ebpf" }, process: { comm: "curl" } });
  });
});
