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
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import type { ImdsReport } from "../../src/report/types.js";
import { addLibrariesOf, Containerd, Dockerd, imdsCallsScript, makeCurlRootfs, missingRuntimePrograms, Podman, runChecked, runCheckedAsync, tarOf, unmountUnder } from "../helpers/container-runtimes.js";
import { cliPath } from "../helpers/cli.js";
import { podmanRunOptions, readDaemonSetManifest } from "../helpers/daemonset.js";
import { credentialsOf, keptCapabilityMask } from "../helpers/live-capture.js";
import { containerIpv4, shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";
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
/** A Deployment's pod: "payments" + the ReplicaSet's hash + the pod's suffix. */
const podName = "payments-7c9d8b6f5-x2x9z";
const podImage = "registry.local/billing/payments:3.4";
const jsSdkClient = join(repositoryRoot, "test", "fake-imds", "clients", "js-sdk-credentials.mjs");

/** The kubelet's cgroupfs path of a burstable pod's container. */
function podCgroupPath(id: string): string {
  return `/kubepods/burstable/pod${podUid}/${id}`;
}

describe.skipIf(skip)("the DaemonSet's image, run as the manifest says (live, root, podman, test namespaces)", () => {
  let network: TestNetwork | null = null;
  let directory = "";
  let containerd: Containerd | null = null;
  let dockerd: Dockerd | null = null;
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
    addLibrariesOf(rootfs, process.execPath);
    const startedContainerd = await Containerd.start(testNetwork.instance, join(directory, "containerd"));
    containerd = startedContainerd;
    // A node whose containers Docker runs (on our containerd), its data-root private.
    const startedDockerd = await Dockerd.start(testNetwork.instance, join(directory, "docker"), startedContainerd.socket);
    dockerd = startedDockerd;
    const [docker, importArgs] = startedDockerd.dockerArgs(["import", "-", "local/imds-curl:1"]);
    runChecked(docker, importArgs, { input: tarOf(rootfs) });
  }, 600_000);

  function podmanOf(): Podman {
    if (podman === null) throw new Error("podman was not set up (see the beforeAll error)");
    return podman;
  }

  afterAll(async () => {
    // Containers first (by their runtimes), then the daemons by pid, whatever failed before.
    podman?.stop();
    await dockerd?.stop();
    await containerd?.stop(["k8s.io", "moby"]);
    await network?.close();
    if (directory !== "") {
      unmountUnder(directory);
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);

  /** The analyzer's container, started as the DaemonSet's pod, once its capture runs. */
  interface RunningAnalyzer {
    readonly name: string;
    readonly pid: number;
    readonly process: Spawned & { events(): ImdsEvent[] };
  }

  async function startAnalyzer(cgroupNamespace: "host" | "private"): Promise<RunningAnalyzer> {
    const podman = podmanOf();
    // The node's files, as this machine has them: containerd's task directory and Docker's
    // containers directory are the test's private ones; the others are empty stand-ins
    // (DirectoryOrCreate on a node without that runtime makes them so); tracefs and the cgroup
    // hierarchy are the real ones.
    const taskDirectory = join(containerd!.stateDirectory, "io.containerd.runtime.v2.task");
    mkdirSync(taskDirectory, { recursive: true });
    const standIns: string[] = [];
    const onThisMachine = (hostPath: string): string => {
      if (hostPath === "/sys/kernel/tracing" || hostPath === "/sys/fs/cgroup") return hostPath;
      if (hostPath === "/run/containerd/io.containerd.runtime.v2.task") return taskDirectory;
      if (hostPath === "/var/lib/docker/containers") return join(dockerd!.dataRoot, "containers");
      const standIn = join(directory, "node", hostPath);
      mkdirSync(standIn, { recursive: true });
      standIns.push(hostPath);
      return standIn;
    };
    const name = `imds-analyzer-${randomBytes(4).toString("hex")}`;
    const [command, runArgs] = podman.commandLine([
      "run", "--rm", "--name", name,
      // podman's defaults ask for more than this host's hard limits allow.
      "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
      `--cgroupns=${cgroupNamespace}`,
      ...podmanRunOptions(manifest, onThisMachine),
      imageName, ...manifest.container.args,
    ]);
    expect(standIns.sort()).toEqual(["/run/containers/storage", "/var/log/containers"]);
    const analyzer = spawnAnalyzer(command, runArgs);
    const running = { name, pid: 0, process: analyzer };
    try {
      await waitForLine(analyzer, "events go to", 60_000);
      return { ...running, pid: Number(runChecked(...podman.commandLine(["inspect", "--format", "{{.State.Pid}}", name])).trim()) };
    } catch (error) {
      await removeAnalyzer(running);
      throw error;
    }
  }

  /** Stops the analyzer as the kubelet would (SIGTERM, then a grace period): its exit, events and status lines. */
  /** Waits until the analyzer has written `count` events of container `id`. */
  async function waitForContainerCalls(analyzer: RunningAnalyzer, id: string, count: number): Promise<void> {
    await waitForEvents(analyzer.process, (events) => events.filter((event) => event.process?.container?.id === id).length >= count, 20_000);
  }

  /** Stops the analyzer, which must exit 0; its output and the events of container `id`. */
  async function stopWithCallsOf(analyzer: RunningAnalyzer, id: string): Promise<{ result: { stdout: string; stderr: string }; calls: ImdsEvent[] }> {
    const result = await stopAnalyzer(analyzer);
    expect(result.code, result.stderr).toBe(0);
    return { result, calls: eventsOf(result.stdout).filter((event) => event.process?.container?.id === id) };
  }

  async function stopAnalyzer(analyzer: RunningAnalyzer): Promise<{ code: number | null; stdout: string; stderr: string }> {
    runChecked(...podmanOf().commandLine(["stop", "--time", "20", analyzer.name]), { timeoutMs: 60_000 });
    return analyzer.process.done;
  }

  /** Removes the analyzer by its runtime (and the podman process by pid) whatever happened. */
  async function removeAnalyzer(analyzer: Pick<RunningAnalyzer, "name" | "process">): Promise<void> {
    const child = analyzer.process.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    spawnSyncQuiet(...podmanOf().commandLine(["rm", "-f", "-t", "0", analyzer.name]));
    child.kill("SIGKILL");
    await analyzer.process.done;
  }

  /**
   * A pod's container as containerd's CRI plugin makes it (ctr: its annotations, the kubelet's
   * cgroupfs path), on the node's network or, like a pod behind the CNI, in the test's second
   * namespace behind a veth; runs SCRIPT and exits (--rm).
   */
  async function runPodContainer(id: string, command: readonly string[], network: "node" | "pod", mounts: readonly string[] = []): Promise<void> {
    const annotations = {
      "io.kubernetes.cri.container-type": "container",
      "io.kubernetes.cri.sandbox-id": randomBytes(32).toString("hex"),
      "io.kubernetes.cri.sandbox-name": podName,
      "io.kubernetes.cri.sandbox-namespace": "billing",
      "io.kubernetes.cri.sandbox-uid": podUid,
      "io.kubernetes.cri.container-name": "api",
      "io.kubernetes.cri.image-name": podImage,
    };
    await runCheckedAsync("ctr", containerd!.ctrArgs("k8s.io", [
      "run", "--rm", ...(network === "node" ? ["--net-host"] : ["--with-ns", `network:/var/run/netns/${testNetworkOf().container}`]),
      "--fifo-dir", join(directory, "ctr-fifo"), "--cgroup", podCgroupPath(id),
      ...Object.entries(annotations).flatMap(([key, value]) => ["--annotation", `${key}=${value}`]),
      ...mounts.flatMap((path) => ["--mount", `type=bind,src=${path},dst=${path},options=rbind:ro`]),
      "--rootfs", rootfs, id, ...command,
    ]), 60_000);
  }

  function testNetworkOf(): TestNetwork {
    if (network === null) throw new Error("the test network was not set up (see the beforeAll error)");
    return network;
  }

  // Kubernetes has no setting for it: runtimes give containers the host's cgroup namespace on
  // cgroup v1 nodes and a private one on cgroup v2 nodes (podman's documented defaults), where
  // /proc shows other containers' cgroup paths relative to the analyzer's own ("/../../...").
  it.each(["host", "private"] as const)("cgroup namespace %s: names the pod's container behind a one-shot curl's IMDSv1 call, with only the manifest's capabilities", async (cgroupNamespace) => {
    const analyzer = await startAnalyzer(cgroupNamespace);
    try {
      // After start, the capture keeps only what attribution needs, as on a host.
      expect(credentialsOf(`/proc/${analyzer.pid}/status`).CapEff).toBe(keptCapabilityMask);
      const sameCgroupNamespace = readlinkSync(`/proc/${analyzer.pid}/ns/cgroup`) === readlinkSync("/proc/self/ns/cgroup");
      expect(sameCgroupNamespace).toBe(cgroupNamespace === "host");

      const id = randomBytes(32).toString("hex");
      await runPodContainer(id, ["/bin/sh", "-c", imdsCallsScript], "node");
      await waitForContainerCalls(analyzer, id, 3);
      const peakRssKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${analyzer.pid}/status`, "utf8"))?.[1]);

      const { result, calls } = await stopWithCallsOf(analyzer, id);
      expect(result.stderr).toContain("imds-analyzer: attribution: eBPF");
      expect(result.stderr).toContain("imds-analyzer: privileges: kept only CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE (attribution reads other processes' /proc entries), no new privileges\n");

      expect(calls.map((event) => [event.kind, event.method, event.path, event.status])).toEqual([
        ["v1", "GET", "/latest/meta-data/instance-id", 200],
        ["token-request", "PUT", "/latest/api/token", 200],
        ["v2", "GET", "/latest/meta-data/ami-id", 200],
      ]);
      for (const call of calls) {
        expect(call.attribution?.method).toBe("ebpf");
        expect(call.process?.comm).toBe("curl");
        // The node's host name: a host-network pod shares the node's UTS namespace.
        expect(call.host).toBe(hostname());
        // As /proc shows it to the analyzer (relative to a private cgroup namespace's root), or,
        // for a process gone before /proc was read, as its cgroup id names it in the host's hierarchy.
        if (cgroupNamespace === "host") expect(call.process?.cgroup).toBe(podCgroupPath(id));
        else expect(call.process?.cgroup).toMatch(new RegExp(`^(/\\.\\.)*${podCgroupPath(id)}$`));
        expect(call.process?.container).toEqual({
          runtime: "containerd",
          id,
          name: "api",
          image: podImage,
          kubernetes: { namespace: "billing", pod: podName, podUid, container: "api" },
          ecs: null,
          source: "containerd-bundle",
        });
      }
      console.log(`analyzer container (cgroup namespace ${cgroupNamespace}): peak RSS ${(peakRssKiB / 1024).toFixed(1)} MiB`);
    } finally {
      await removeAnalyzer(analyzer);
    }
  }, 180_000);

  it("a container with no names in its bundle is named by the kubelet's log link under the mounted /var/log/containers (its target never opened)", async () => {
    const analyzer = await startAnalyzer("host");
    try {
      const id = randomBytes(32).toString("hex");
      const jobPodUid = "3e1f0c2a-9b8d-4c7e-a6f5-0d1c2b3a4e5f";
      // What the kubelet writes; the target's directory (under /var/log/pods) does not exist here.
      symlinkSync(`/var/log/pods/batch_nightly-report-28930440-k7x2p_${jobPodUid}/worker/0.log`, join(directory, "node", "var/log/containers", `nightly-report-28930440-k7x2p_batch_worker-${id}.log`));
      await runCheckedAsync("ctr", containerd!.ctrArgs("k8s.io", [
        "run", "--rm", "--net-host", "--fifo-dir", join(directory, "ctr-fifo"), "--cgroup", `/kubepods/besteffort/pod${jobPodUid}/${id}`,
        "--rootfs", rootfs, id, "/bin/sh", "-c", imdsCallsScript,
      ]), 60_000);
      await waitForContainerCalls(analyzer, id, 3);
      const { calls } = await stopWithCallsOf(analyzer, id);
      expect(calls.map((event) => event.kind)).toEqual(["v1", "token-request", "v2"]);
      for (const call of calls) {
        expect(call.process?.container).toEqual({
          runtime: "containerd",
          id,
          name: "worker",
          image: null,
          kubernetes: { namespace: "batch", pod: "nightly-report-28930440-k7x2p", podUid: jobPodUid, container: "worker" },
          ecs: null,
          source: "kubelet-log-link",
        });
      }
    } finally {
      await removeAnalyzer(analyzer);
    }
  }, 180_000);

  it("a Docker container on the node is named from config.v2.json under the mounted /var/lib/docker/containers", async () => {
    const analyzer = await startAnalyzer("host");
    try {
      const cidFile = join(directory, "docker.cid");
      const [docker, runArgs] = dockerd!.dockerArgs([
        "run", "--rm", "--name", "inventory-sync", "--network", "host", "--cidfile", cidFile,
        "local/imds-curl:1", "/bin/sh", "-c", imdsCallsScript,
      ]);
      runChecked(docker, runArgs, { timeoutMs: 60_000 });
      const id = readFileSync(cidFile, "utf8").trim();
      await waitForContainerCalls(analyzer, id, 3);
      const { calls } = await stopWithCallsOf(analyzer, id);
      expect(calls.map((event) => event.kind)).toEqual(["v1", "token-request", "v2"]);
      for (const call of calls) {
        // The analyzer cannot see dockerd's private data-root: only the mount at Docker's default.
        expect(call.process?.container).toEqual({ runtime: "docker", id, name: "inventory-sync", image: "local/imds-curl:1", kubernetes: null, ecs: null, source: "docker-config" });
      }
    } finally {
      await removeAnalyzer(analyzer);
    }
  }, 180_000);

  it("a pod behind the CNI whose token PUT goes unanswered falls back to IMDSv1: the report on the analyzer's events names the pod and says the fix is the hop limit (2)", async () => {
    // What a PUT response hop limit of 1 does to a pod one hop away: the token never arrives.
    await testNetworkOf().startFakeImds("put-hang");
    const analyzer = await startAnalyzer("host");
    try {
      const id = randomBytes(32).toString("hex");
      // A real SDK: the AWS SDK for JavaScript v3's credential provider (node and the
      // repository's node_modules mounted read-only), whose token PUT times out after 1 s.
      await runPodContainer(id, [process.execPath, jsSdkClient, "--package", "aws"], "pod", [process.execPath, repositoryRoot]);
      await waitForContainerCalls(analyzer, id, 2);
      const { result, calls } = await stopWithCallsOf(analyzer, id);
      expect(calls.map((event) => [event.kind, event.status, event.clientIp])).toEqual([
        ["token-request", null, containerIpv4],
        ["v1", 200, containerIpv4],
        ["v1", 200, containerIpv4],
      ]);
      expect(calls.map((event) => event.path)).toEqual(["/latest/api/token", "/latest/meta-data/iam/security-credentials/", expect.stringMatching(/^\/latest\/meta-data\/iam\/security-credentials\/.+/) as unknown]);

      const eventsPath = join(directory, "put-unanswered.ndjson");
      writeFileSync(eventsPath, result.stdout);
      const report = JSON.parse(runChecked(process.execPath, [cliPath, "report", "--format", "json", eventsPath])) as ImdsReport;
      const fix = report.fixes.find((candidate) => candidate.placement.images.includes(podImage));
      expect(fix, JSON.stringify(report.fixes)).toBeDefined();
      expect([fix!.reason, fix!.fallbackCause, fix!.inContainer, fix!.hopLimitNeeded]).toEqual(["fallback", "put-unanswered", true, true]);
      expect(fix!.placement.workloads).toEqual(["billing/payments (Deployment, derived)"]);
      expect(fix!.advice).toContain(`it runs in pod billing/${podName}, container api, image ${podImage}`);
      expect(fix!.advice).toContain("the fix is the hop limit, not the SDK");
    } finally {
      await removeAnalyzer(analyzer);
      await testNetworkOf().startFakeImds("optional");
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
