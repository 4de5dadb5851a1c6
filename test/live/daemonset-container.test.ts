/**
 * The image of deploy/container/ run as deploy/kubernetes/daemonset.yaml runs it, end to end:
 * make-context.sh makes the build context from this machine's files (the release's x64 single
 * executable, glibc, libpcap), a private podman builds the Containerfile, and runs the image
 * with the pod's settings read from the manifest (test/helpers/daemonset.ts: host PID
 * namespace, host network of the test namespace, root with only the manifest's capabilities,
 * its seccomp setting, no_new_privs, read-only root, the /tmp emptyDir, the hostPath mounts read
 * only, the args). A pod's container (containerd + runc via ctr, with the CRI plugin's
 * annotations and the kubelet's cgroup, as in container-runtimes.test.ts) makes a real curl
 * IMDSv1 call, a token PUT and an IMDSv2 call against the test namespace's fake IMDS and exits:
 * the events on the analyzer container's standard output must name that container.
 * Everything runs in private directories inside the test namespace (nsenter --net) and is stopped
 * by pid or by its runtime, also on failure. Root only; under CI=true nothing may be missing.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { Containerd, imdsCallsScript, makeCurlRootfs, missingRuntimePrograms, Podman, runChecked, runCheckedAsync, unmountUnder } from "../helpers/container-runtimes.js";
import { hostPathMounts, podmanRunOptions, readDaemonSetManifest } from "../helpers/daemonset.js";
import { credentialsOf, keptCapabilityMask } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";
import type { Spawned } from "../helpers/netns.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { ensureRelease, executablePath } from "../helpers/release.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function shouldSkip(): boolean {
  if (shouldSkipLiveTests()) return true;
  const missing = missingRuntimePrograms();
  if (missing.length === 0) return false;
  if (process.env["CI"] === "true") throw new Error(`the DaemonSet image test cannot run under CI=true: missing ${missing.join(", ")}`);
  console.warn(`skipping the DaemonSet image test: missing ${missing.join(", ")}`);
  return true;
}

const skip = shouldSkip();
const manifest = readDaemonSetManifest();
const imageName = "localhost/imds-analyzer:daemonset-test";
const podUid = "0c9d6a43-5b1e-4f6a-8d2c-3e4f5a6b7c8d";

describe.skipIf(skip)("the DaemonSet's image, run as the manifest says (live, root, podman, test namespaces)", () => {
  let network: TestNetwork | null = null;
  let directory = "";
  let containerd: Containerd | null = null;
  let podman: Podman | null = null;
  let rootfs = "";

  beforeAll(async () => {
    directory = makeTempDir("imds-daemonset-");
    const testNetwork = TestNetwork.create();
    network = testNetwork;
    await testNetwork.startFakeImds("optional");
    ensureRelease();
    const context = join(directory, "context");
    runChecked("bash", [join(repositoryRoot, "deploy/container/make-context.sh"), context, executablePath("x64")]);
    const builder = new Podman(testNetwork.instance, join(directory, "podman"));
    podman = builder;
    const [command, buildArgs] = builder.commandLine(["build", "--quiet", "-f", join(context, "Containerfile"), "-t", imageName, context]);
    runChecked(command, buildArgs, { timeoutMs: 180_000 });
    rootfs = makeCurlRootfs(directory);
    containerd = await Containerd.start(testNetwork.instance, join(directory, "containerd"));
  }, 600_000);

  function podmanOf(): Podman {
    if (podman === null) throw new Error("podman was not set up (see the beforeAll error)");
    return podman;
  }

  afterAll(async () => {
    // Containers first (by their runtimes), then the daemons by pid, whatever failed before.
    podman?.stop();
    await containerd?.stop(["k8s.io"]);
    await network?.close();
    if (directory !== "") {
      unmountUnder(directory);
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);

  // Kubernetes has no setting for it: runtimes give containers the host's cgroup namespace on
  // cgroup v1 nodes and a private one on cgroup v2 nodes (podman's documented defaults), where
  // /proc shows other containers' cgroup paths relative to the analyzer's own ("/../../...").
  it.each(["host", "private"] as const)("cgroup namespace %s: names the pod's container behind a one-shot curl's IMDSv1 call, with only the manifest's capabilities", async (cgroupNamespace) => {
    const podman = podmanOf();
    // The node's files, as this machine has them: containerd's task directory is the test's
    // private one; the other runtimes' directories are empty stand-ins (DirectoryOrCreate on a
    // containerd node makes them so); tracefs is the real one.
    const taskDirectory = join(containerd!.stateDirectory, "io.containerd.runtime.v2.task");
    mkdirSync(taskDirectory, { recursive: true });
    const standIns: string[] = [];
    const onThisMachine = (hostPath: string): string => {
      if (hostPath === "/sys/kernel/tracing") return hostPath;
      if (hostPath === "/run/containerd/io.containerd.runtime.v2.task") return taskDirectory;
      const standIn = join(directory, "node", hostPath);
      mkdirSync(standIn, { recursive: true });
      standIns.push(hostPath);
      return standIn;
    };
    expect(hostPathMounts(manifest).length).toBeGreaterThan(0);
    const name = `imds-analyzer-${randomBytes(4).toString("hex")}`;
    const [command, runArgs] = podman.commandLine([
      "run", "--rm", "--name", name,
      // podman's defaults ask for more than this host's hard limits allow.
      "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
      `--cgroupns=${cgroupNamespace}`,
      ...podmanRunOptions(manifest, onThisMachine),
      imageName, ...manifest.container.args,
    ]);
    expect(standIns.sort()).toEqual(["/run/containers/storage", "/var/lib/docker/containers", "/var/log/containers", "/var/log/pods"]);
    const analyzer = spawnAnalyzer(command, runArgs);
    try {
      await waitForLine(analyzer, "events go to", 60_000);
      const analyzerPid = Number(runChecked(...podman.commandLine(["inspect", "--format", "{{.State.Pid}}", name])).trim());
      // After start, the capture keeps only what attribution needs, as on a host.
      expect(credentialsOf(`/proc/${analyzerPid}/status`).CapEff).toBe(keptCapabilityMask);

      const sameCgroupNamespace = readlinkSync(`/proc/${analyzerPid}/ns/cgroup`) === readlinkSync("/proc/self/ns/cgroup");
      expect(sameCgroupNamespace).toBe(cgroupNamespace === "host");

      const id = randomBytes(32).toString("hex");
      const cgroupPath = `/kubepods/burstable/pod${podUid}/${id}`;
      const annotations = {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-id": randomBytes(32).toString("hex"),
        "io.kubernetes.cri.sandbox-name": "payments-5f7c9d8b6-q2w3e",
        "io.kubernetes.cri.sandbox-namespace": "billing",
        "io.kubernetes.cri.sandbox-uid": podUid,
        "io.kubernetes.cri.container-name": "api",
        "io.kubernetes.cri.image-name": "registry.local/billing/payments:3.4",
      };
      await runCheckedAsync("ctr", containerd!.ctrArgs("k8s.io", [
        "run", "--rm", "--net-host", "--fifo-dir", join(directory, "ctr-fifo"), "--cgroup", cgroupPath,
        ...Object.entries(annotations).flatMap(([key, value]) => ["--annotation", `${key}=${value}`]),
        "--rootfs", rootfs, id, "/bin/sh", "-c", imdsCallsScript,
      ]), 60_000);
      await waitForEvents(analyzer, (events) => events.filter((event) => event.process?.container?.id === id).length >= 3, 20_000);
      const peakRssKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${analyzerPid}/status`, "utf8"))?.[1]);

      runChecked(...podman.commandLine(["stop", "--time", "20", name]), { timeoutMs: 60_000 });
      const result = await analyzer.done;
      expect(result.code, result.stderr).toBe(0);
      const stderr = result.stderr;
      expect(stderr).toContain("imds-analyzer: attribution: eBPF");
      expect(stderr).toContain("imds-analyzer: privileges: kept only CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE (attribution reads other processes' /proc entries), no new privileges\n");

      const calls = eventsOf(result.stdout).filter((event) => event.process?.container?.id === id);
      expect(calls.map((event) => [event.kind, event.method, event.path, event.status])).toEqual([
        ["v1", "GET", "/latest/meta-data/instance-id", 200],
        ["token-request", "PUT", "/latest/api/token", 200],
        ["v2", "GET", "/latest/meta-data/ami-id", 200],
      ]);
      for (const call of calls) {
        expect(call.attribution?.method).toBe("ebpf");
        expect(call.process?.comm).toBe("curl");
        // As /proc shows it to the analyzer: relative to a private cgroup namespace's root.
        if (cgroupNamespace === "host") expect(call.process?.cgroup).toBe(cgroupPath);
        else expect(call.process?.cgroup).toMatch(new RegExp(`^(/\\.\\.)+${cgroupPath}$`));
        expect(call.process?.container).toEqual({
          runtime: "containerd",
          id,
          name: "api",
          image: "registry.local/billing/payments:3.4",
          kubernetes: { namespace: "billing", pod: "payments-5f7c9d8b6-q2w3e", podUid, container: "api" },
          ecs: null,
          source: "containerd-bundle",
        });
      }
      console.log(`analyzer container (cgroup namespace ${cgroupNamespace}): peak RSS ${(peakRssKiB / 1024).toFixed(1)} MiB`);
    } finally {
      // Stopped by its runtime (and the podman process by pid) whatever happened above.
      if (analyzer.child.exitCode === null && analyzer.child.signalCode === null) {
        spawnSyncQuiet(...podman.commandLine(["rm", "-f", "-t", "0", name]));
        analyzer.child.kill("SIGKILL");
        await analyzer.done;
      }
    }
  }, 180_000);
});

function spawnSyncQuiet(command: string, args: readonly string[]): void {
  try {
    runChecked(command, args, { timeoutMs: 30_000 });
  } catch {
    // already gone
  }
}

/** The `podman run` of the analyzer: its standard output is the events, its standard error the status lines. */
function spawnAnalyzer(command: string, args: readonly string[]): Spawned & { events(): ImdsEvent[] } {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on("close", (code) => { resolve({ code, stdout, stderr }); });
    child.on("error", () => { resolve({ code: null, stdout, stderr }); });
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return { child, pid: child.pid, done, stderr: () => stderr, events: () => eventsOf(stdout) };
}

/** The complete NDJSON lines of STDOUT. */
function eventsOf(stdout: string): ImdsEvent[] {
  return stdout.split("\n").slice(0, -1).filter((line) => line.length > 0).map((line) => JSON.parse(line) as ImdsEvent);
}

async function waitForEvents(analyzer: { events(): ImdsEvent[]; stderr(): string }, done: (events: ImdsEvent[]) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done(analyzer.events())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for the events; stderr: ${analyzer.stderr()}; events: ${JSON.stringify(analyzer.events())}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
