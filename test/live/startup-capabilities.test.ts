/**
 * Live capture start-up when root lacks a capability, end to end: the built CLI (test/helpers/cli.ts,
 * `npm run build` first) runs inside a test network namespace under `setpriv --bounding-set=-CAP`,
 * as root in a container or in a systemd unit with a restricted CapabilityBoundingSet would. For
 * root, exec gives permitted = effective = bounding set, so the bounding set alone removes a
 * capability (each test checks /proc/PID/status CapEff of the running capture).
 *
 * The normal case (every capability present; exactly CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE kept on
 * every thread after the drop, no_new_privs set) is checked in test/secrets.test.ts; not repeated.
 * Every run is bounded in time; each test makes and deletes its own namespaces; only processes
 * started here are stopped.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { cliPath, credentialsOf, eventLines, inTestNetwork, keepAliveClientPaths, keepAliveClientScript, keptCapabilityMask } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, waitForLine } from "../helpers/netns.js";
import type { Spawned, TestNetwork } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();

const asNobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"];

/** `ip netns exec` gives the command a fresh sysfs without tracefs; this mounts it there (private to that mount namespace). */
function withTracefs(command: readonly string[]): string[] {
  return ["/bin/sh", "-c", 'mount -t tracefs nodev /sys/kernel/tracing && exec "$@"', "sh", ...command];
}

/** The CLI as root without `dropped` (setpriv names, e.g. "net_raw"). */
function captureCommand(dropped: readonly string[], args: readonly string[]): string[] {
  return ["setpriv", `--bounding-set=${dropped.map((name) => `-${name}`).join(",")}`, "--", process.execPath, cliPath, "capture", ...args];
}

interface Finished {
  readonly stderr: string;
  readonly summary: AnalysisSummary;
  readonly events: ImdsEvent[];
}

/**
 * Starts the capture (`--duration 60s` as a bound), waits for its start-up lines, runs `during`,
 * stops it with SIGINT (it must exit 0 within 10 s) and reads what it wrote.
 */
async function captureWhile(network: TestNetwork, command: readonly string[], during: (capture: Spawned) => Promise<void>): Promise<Finished> {
  const capture = network.spawn("instance", command);
  await waitForLine(capture, "events go to", 20_000);
  await during(capture);
  capture.child.kill("SIGINT");
  const timer = setTimeout(() => capture.child.kill("SIGKILL"), 10_000);
  const result = await capture.done;
  clearTimeout(timer);
  expect(result.code, result.stderr).toBe(0);
  const events = eventLines(join(network.directory, "events.ndjson"));
  const summary = JSON.parse(readFileSync(join(network.directory, "summary.json"), "utf8")) as AnalysisSummary;
  return { stderr: result.stderr, summary, events };
}

function outputArgs(network: TestNetwork, ...extra: string[]): string[] {
  return ["--events", join(network.directory, "events.ndjson"), "--summary-json", join(network.directory, "summary.json"), "--duration", "60s", ...extra];
}

function stderrLine(stderr: string, prefix: string): string | undefined {
  return stderr.split("\n").find((line) => line.startsWith(prefix));
}

async function runClient(network: TestNetwork, command: readonly string[]): Promise<number> {
  const result = await network.run("instance", command, 30_000);
  expect(result.code, result.stderr).toBe(0);
  return result.pid;
}

const keptLine = "imds-analyzer: privileges: kept only CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE (attribution reads other processes' /proc entries), no new privileges";
const bpfHint = "this process runs as root without CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN (CAP_BPF and CAP_PERFMON load the program, CAP_SYS_ADMIN stands in for both and mounts tracefs)";
const notHeldProblem =
  "CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE not held at start (removed by a capability bounding set?): other users' /proc entries (exe, fd) cannot be read, so their calls may be attributed without exe or not at all";

describe.skipIf(skip)("live capture start-up without one capability (root under setpriv --bounding-set, test namespaces, built CLI)", () => {
  it.each(["any", "lo"])("without CAP_NET_RAW on %s: exit code 1 at once, one line naming CAP_NET_RAW and the device", async (device) => {
    await inTestNetwork(async (network) => {
      const startedAt = Date.now();
      const result = await network.run("instance", captureCommand(["net_raw"], ["-i", device, ...outputArgs(network)]), 15_000);
      const tookMs = Date.now() - startedAt;
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toBe(
        `imds-analyzer: cannot capture on ${device}: this process runs as root but without CAP_NET_RAW, which the libpcap packet socket needs ` +
          "(a container or a systemd CapabilityBoundingSet removed it; grant CAP_NET_RAW)\n",
      );
      expect(result.stdout).toBe("");
      // eBPF was loaded before the device was refused; a tracer left open kept the process alive.
      expect(tookMs).toBeLessThan(5000);
    });
  });

  it.each([
    ["tracefs mounted", true, "eBPF connect tracer: bpf(BPF_MAP_CREATE): Operation not permitted: run as root (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)"],
    [
      "tracefs not mounted",
      false,
      "eBPF connect tracer: tracefs is not mounted and mounting it at /sys/kernel/tracing failed: Operation not permitted (run as root, or mount it: mount -t tracefs nodev /sys/kernel/tracing)",
    ],
  ] as const)("without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (%s): starts, says why eBPF is unavailable, attributes by /proc", async (_, mountTracefs, nativeReason) => {
    await inTestNetwork(async (network) => {
      const command = captureCommand(["bpf", "perfmon", "sys_admin"], outputArgs(network));
      let clientPid = 0;
      const { stderr, summary, events } = await captureWhile(network, mountTracefs ? withTracefs(command) : command, async (capture) => {
        expect(credentialsOf(`/proc/${capture.pid}/status`).CapEff).toBe(keptCapabilityMask);
        clientPid = await runClient(network, ["/usr/bin/python3", "-c", keepAliveClientScript]);
      });

      const fallbackReason = `${nativeReason}; ${bpfHint}`;
      expect(stderrLine(stderr, "imds-analyzer: attribution:")).toBe(
        `imds-analyzer: attribution: /proc socket tables and file descriptors (fallback: ${fallbackReason}); short-lived clients may not be attributed`,
      );
      expect(stderr.split("\n")).toContain(keptLine);
      expect(summary.live?.attribution).toEqual({ method: "proc", fallbackReason, connections: 1, attributed: 1, partial: 0, failed: 0, kernelRecordsLost: 0 });
      expect(summary.live?.capabilities).toEqual({ kept: ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"], threadsNotDropped: 0, problem: null });
      expect(events.map((event) => event.path)).toEqual([...keepAliveClientPaths]);
      for (const event of events) {
        expect(event.attribution).toEqual({ method: "proc", status: "ok", reason: null });
        expect(event.process).toMatchObject({ pid: clientPid, comm: "python3", uid: 0, user: "root" });
        expect(event.process?.cmdline.slice(0, 2)).toEqual(["/usr/bin/python3", "-c"]);
      }
    });
  });

  it("without CAP_BPF and CAP_PERFMON but with CAP_SYS_ADMIN: eBPF still runs (CAP_SYS_ADMIN stands in for both)", async () => {
    await inTestNetwork(async (network) => {
      let clientPid = 0;
      const { stderr, summary, events } = await captureWhile(network, captureCommand(["bpf", "perfmon"], outputArgs(network)), async () => {
        clientPid = await runClient(network, ["/usr/bin/python3", "-c", keepAliveClientScript]);
      });
      expect(stderrLine(stderr, "imds-analyzer: attribution:")).toBe(
        "imds-analyzer: attribution: eBPF (tracepoint sock:inet_sock_set_state, process recorded at connect time, command line read in the kernel), /proc to enrich",
      );
      expect(summary.live?.attribution).toMatchObject({ method: "ebpf", fallbackReason: null, connections: 1, attributed: 1 });
      expect(events.map((event) => event.process?.pid)).toEqual([clientPid, clientPid, clientPid]);
    });
  });

  it("without CAP_SETPCAP (a container's capability list without it): the bounding set stays, everything else is dropped, and that is what it says", async () => {
    await inTestNetwork(async (network) => {
      const { stderr, summary, events } = await captureWhile(network, captureCommand(["setpcap"], outputArgs(network)), async (capture) => {
        const credentials = credentialsOf(`/proc/${capture.pid}/status`);
        expect(credentials.CapEff).toBe(keptCapabilityMask);
        expect(credentials.NoNewPrivs).toBe(1n);
        await runClient(network, ["/usr/bin/python3", "-c", keepAliveClientScript]);
      });
      const problem = "dropping capabilities on the calling thread failed: Operation not permitted (the bounding set was not reduced: that needs CAP_SETPCAP, which the capture drops itself once started)";
      expect(stderr.split("\n")).toContain(`imds-analyzer: privileges: kept only CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, no new privileges; ${problem}`);
      expect(stderr).not.toContain("full root");
      expect(summary.live?.capabilities).toEqual({ kept: ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"], threadsNotDropped: 0, problem });
      expect(events.map((event) => event.attribution?.status)).toEqual(["ok", "ok", "ok"]);
    });
  });

  it("without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: says so, keeps none; eBPF still names another user's pid, without exe", async () => {
    await inTestNetwork(async (network) => {
      let nobodyPid = 0;
      let curlPid = 0;
      const { stderr, summary, events } = await captureWhile(network, captureCommand(["sys_ptrace", "dac_read_search"], outputArgs(network)), async (capture) => {
        expect(credentialsOf(`/proc/${capture.pid}/status`).CapEff).toBe(0n);
        nobodyPid = await runClient(network, [...asNobody, "/usr/bin/python3", "-c", keepAliveClientScript]);
        curlPid = await runClient(network, ["curl", "-sS", "-o", "/dev/null", "-m", "5", "http://169.254.169.254/latest/meta-data/hostname"]);
      });

      expect(stderr.split("\n")).toContain(`imds-analyzer: privileges: kept none, no new privileges; ${notHeldProblem}`);
      expect(summary.live?.capabilities).toEqual({ kept: [], threadsNotDropped: 0, problem: notHeldProblem });
      expect(summary.live?.attribution.method).toBe("ebpf");
      expect(summary.live?.attribution.connections).toBe(2);
      expect(events.map((event) => event.path)).toEqual([...keepAliveClientPaths, "/latest/meta-data/hostname"]);

      // The kernel names the process; /proc gives everything but exe, which needs a ptrace check
      // the capture (holding no capability) fails: partial, and the reason says why.
      for (const event of events.slice(0, 3)) {
        expect(event.attribution).toEqual({ method: "ebpf", status: "partial", reason: "permission-denied" });
        expect(event.process).toMatchObject({ pid: nobodyPid, comm: "python3", uid: 65534, user: "nobody", exe: null });
        expect(event.process?.cmdline.slice(0, 2)).toEqual(["/usr/bin/python3", "-c"]);
      }
      // Even root's curl holds capabilities the capture does not: no exe. curl has usually exited
      // when /proc is read (process-exited), or is still there (permission-denied); either way
      // the pid is named and the attribution is partial.
      const curl = events[3]!;
      expect(curl.process).toMatchObject({ pid: curlPid, comm: "curl", uid: 0, exe: null });
      expect([{ method: "ebpf", status: "partial", reason: "process-exited" }, { method: "ebpf", status: "partial", reason: "permission-denied" }]).toContainEqual(curl.attribution);
      expect(summary.live?.attribution).toMatchObject({ connections: 2, attributed: 0, partial: 2, failed: 0 });
    });
  });

  it("without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and --attribution proc: another user's calls fail as permission-denied, no crash", async () => {
    await inTestNetwork(async (network) => {
      const { stderr, summary, events } = await captureWhile(network, captureCommand(["sys_ptrace", "dac_read_search"], outputArgs(network, "--attribution", "proc")), async () => {
        await runClient(network, [...asNobody, "/usr/bin/python3", "-c", keepAliveClientScript]);
      });
      expect(stderr.split("\n")).toContain(`imds-analyzer: privileges: kept none, no new privileges; ${notHeldProblem}`);
      expect(events.map((event) => event.path)).toEqual([...keepAliveClientPaths]);
      for (const event of events) {
        expect(event.attribution).toEqual({ method: "proc", status: "failed", reason: "permission-denied" });
        expect(event.process).toBeNull();
      }
      expect(summary.live?.attribution).toEqual({ method: "proc", fallbackReason: "--attribution proc was given", connections: 1, attributed: 0, partial: 0, failed: 1, kernelRecordsLost: 0 });
    });
  });
});
