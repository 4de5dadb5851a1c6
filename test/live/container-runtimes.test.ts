/**
 * Naming containers, end to end, with the real runtimes (Debian's containerd 1.6 + runc + ctr,
 * docker.io 20.10, podman 4.3; test/helpers/container-runtimes.ts): each daemon in private
 * directories inside the test network's "instance" namespace, each container on that
 * namespace's host network, where the fake IMDS is. A real curl in each container makes an
 * IMDSv1 call, a token PUT and an IMDSv2 call, and exits at once with its container (--rm):
 * the built CLI's capture must name the pod, namespace, container, image or ECS task of every
 * call, read at connect time (the runtime's files are gone by the time the events are written).
 * Root only; under CI=true a missing runtime fails the run (.ci/run installs them).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EbpfConnectTracer, type ConnectRecord } from "../../src/attribution/ebpf-tracer.js";
import type { ContainerInfo, ImdsEvent } from "../../src/events.js";
import {
  Containerd,
  Dockerd,
  imdsCallsScript,
  makeCurlRootfs,
  missingRuntimePrograms,
  pathExists,
  Podman,
  runChecked,
  runCheckedAsync,
  tarOf,
  unmountUnder,
} from "../helpers/container-runtimes.js";
import { eventLines, startCapture, stopCapture } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork } from "../helpers/netns.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function shouldSkip(): boolean {
  if (shouldSkipLiveTests()) return true;
  const missing = missingRuntimePrograms();
  if (missing.length === 0) return false;
  if (process.env["CI"] === "true") throw new Error(`container runtime tests cannot run under CI=true: missing ${missing.join(", ")}`);
  console.warn(`skipping container runtime tests: missing ${missing.join(", ")}`);
  return true;
}

const skip = shouldSkip();
const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";
const ecsTask = "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c";
const ecsTaskArn = `arn:aws:ecs:us-east-1:123456789012:task/prod/${ecsTask}`;

function newContainerId(): string {
  return randomBytes(32).toString("hex");
}

/** The three calls of imdsCallsScript, in order, each named as the container. */
function expectNamedCalls(events: readonly ImdsEvent[], id: string, container: Partial<ContainerInfo>): void {
  const calls = events.filter((event) => event.process?.container?.id === id);
  expect(calls.map((event) => [event.kind, event.method, event.path, event.status]), JSON.stringify(events.map((event) => event.process?.container ?? null))).toEqual([
    ["v1", "GET", "/latest/meta-data/instance-id", 200],
    ["token-request", "PUT", "/latest/api/token", 200],
    ["v2", "GET", "/latest/meta-data/ami-id", 200],
  ]);
  for (const call of calls) {
    expect(call.process?.comm).toBe("curl");
    expect(call.process?.container).toEqual({ id, ...container });
  }
}

describe.skipIf(skip)("container names from the real runtimes (live, root, test namespaces)", () => {
  let network: TestNetwork;
  let directory: string;
  let containerd: Containerd | null = null;
  let dockerd: Dockerd | null = null;
  let podman: Podman | null = null;
  let rootfs: string;

  beforeAll(async () => {
    directory = makeTempDir("imds-runtimes-");
    network = TestNetwork.create();
    await network.startFakeImds("optional");
    rootfs = makeCurlRootfs(directory);
    containerd = await Containerd.start(network.instance, join(directory, "containerd"));
    dockerd = await Dockerd.start(network.instance, join(directory, "docker"), containerd.socket);
    const [docker, importArgs] = dockerd.dockerArgs(["import", "-", "local/imds-curl:1"]);
    runChecked(docker, importArgs, { input: tarOf(rootfs) });
    podman = new Podman(network.instance, join(directory, "podman"));
    const [podmanCommand, podmanImport] = podman.commandLine(["import", "-", "localhost/imds-curl:1"]);
    runChecked(podmanCommand, podmanImport, { input: tarOf(rootfs) });
  }, 180_000);

  afterAll(async () => {
    // Stopped in this order (containers first, by their daemons; then the daemons, by pid),
    // whatever failed before: nothing of ours may outlive the test or the namespace.
    podman?.stop();
    await dockerd?.stop();
    await containerd?.stop(["k8s.io", "moby"]);
    await network.close();
    unmountUnder(directory);
    rmSync(directory, { recursive: true, force: true });
  }, 120_000);

  it("containerd: a ctr container with the CRI plugin's annotations and the kubelet's cgroup names pod, namespace, container and image", async () => {
    const id = newContainerId();
    const cgroupPath = `/kubepods/burstable/pod${podUid}/${id}`;
    const annotations = {
      "io.kubernetes.cri.container-type": "container",
      "io.kubernetes.cri.sandbox-id": newContainerId(),
      "io.kubernetes.cri.sandbox-name": "web-7d4b9c-x2kq",
      "io.kubernetes.cri.sandbox-namespace": "shop",
      "io.kubernetes.cri.sandbox-uid": podUid,
      "io.kubernetes.cri.container-name": "app",
      "io.kubernetes.cri.image-name": "registry.local/shop/web:1.2",
    };
    // The kernel's own record of the connect, read in this process, to answer CONTAINERS.md's
    // open question: which cgroup (v2) id does a container's process carry on this hybrid host?
    const records: ConnectRecord[] = [];
    const cgroupIds = new Map<string, bigint>();
    const tracer = EbpfConnectTracer.open((delivered) => {
      for (const record of delivered) {
        records.push(record);
        // The container's v2 cgroup, read while it exists (its shell sleeps): a one-shot curl
        // may be gone before the addon reads its /proc, so its own record may lack the path.
        for (const path of [record.cgroupPath, cgroupPath]) {
          const cgroupDirectory = `/sys/fs/cgroup/unified${path ?? "/"}`;
          if (path !== null && !cgroupIds.has(path) && pathExists(cgroupDirectory)) cgroupIds.set(path, BigInt(statSync(cgroupDirectory).ino));
        }
      }
    });
    const eventsPath = join(network.directory, "containerd-events.ndjson");
    const capture = await startCapture(network, eventsPath);
    try {
      const args = containerd!.ctrArgs("k8s.io", [
        "run", "--rm", "--net-host", "--fifo-dir", join(directory, "ctr-fifo"), "--cgroup", cgroupPath,
        ...Object.entries(annotations).flatMap(([key, value]) => ["--annotation", `${key}=${value}`]),
        // The shell sleeps a little so the cgroup still exists when this process reads its id.
        "--rootfs", rootfs, id, "/bin/sh", "-c", `${imdsCallsScript} && sleep 1`,
      ]);
      await runCheckedAsync("ctr", args, 60_000);
    } finally {
      tracer.close();
    }
    const { summary } = await stopCapture(capture);
    expect(pathExists(join(containerd!.stateDirectory, "io.containerd.runtime.v2.task/k8s.io", id)), "the bundle outlived the container").toBe(false);
    const events = eventLines(eventsPath);
    expectNamedCalls(events, id, {
      runtime: "containerd",
      name: "app",
      image: "registry.local/shop/web:1.2",
      kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid, container: "app" },
      ecs: null,
      source: "containerd-bundle",
    });
    // runc (1.1.5) puts the container in the cgroup v2 hierarchy too, so the v2 path of its
    // processes, and the cgroup id the kernel's record carries, are the container's own.
    for (const event of events.filter((call) => call.process?.container?.id === id)) expect(event.process?.cgroup).toBe(cgroupPath);
    // The kernel's cgroup id is in every record, read at connect time; the path only where the
    // addon read /proc before the process exited (which a loaded machine can make it miss).
    const containerCgroupId = cgroupIds.get(cgroupPath);
    expect(containerCgroupId, "the container's cgroup was read while it existed").toBeDefined();
    const fromContainer = records.filter((record) => record.cgroupId === containerCgroupId);
    expect(fromContainer.length).toBeGreaterThanOrEqual(3);
    for (const record of records.filter((candidate) => candidate.cgroupPath === cgroupPath)) expect(record.cgroupId).toBe(containerCgroupId);
    for (const record of fromContainer) expect(record.cgroupPath ?? cgroupPath).toBe(cgroupPath);
    expect(summary.live?.attribution.enrichers?.["container-names"]).toMatchObject({ "named:containerd-bundle": 1 });
  }, 120_000);

  it("docker: a named container with the ECS agent's labels under --cgroup-parent /ecs/<task> names the task, family, revision, cluster and container", async () => {
    const eventsPath = join(network.directory, "docker-events.ndjson");
    const cidFile = join(directory, "docker.cid");
    const capture = await startCapture(network, eventsPath);
    const labels = {
      "com.amazonaws.ecs.cluster": "prod",
      "com.amazonaws.ecs.task-arn": ecsTaskArn,
      "com.amazonaws.ecs.container-name": "web",
      "com.amazonaws.ecs.task-definition-family": "shop-web",
      "com.amazonaws.ecs.task-definition-version": "7",
    };
    const [docker, runArgs] = dockerd!.dockerArgs([
      "run", "--rm", "--name", "shop-web", "--network", "host", "--cgroup-parent", `/ecs/${ecsTask}`, "--cidfile", cidFile,
      ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
      "local/imds-curl:1", "/bin/sh", "-c", imdsCallsScript,
    ]);
    runChecked(docker, runArgs, { timeoutMs: 60_000 });
    const { summary } = await stopCapture(capture);
    const id = readFileSync(cidFile, "utf8").trim();
    expect(pathExists(join(dockerd!.dataRoot, "containers", id)), "docker --rm left the container's files").toBe(false);
    expectNamedCalls(eventLines(eventsPath), id, {
      runtime: "docker",
      name: "shop-web",
      image: "local/imds-curl:1",
      kubernetes: null,
      ecs: { cluster: "prod", taskArn: ecsTaskArn, taskId: ecsTask, family: "shop-web", revision: "7", container: "web" },
      source: "docker-config",
    });
    expect(summary.live?.attribution.enrichers?.["container-names"]).toMatchObject({ "named:docker-config": 1 });
  }, 120_000);

  it("podman: a named container names its name and image", async () => {
    const eventsPath = join(network.directory, "podman-events.ndjson");
    const cidFile = join(directory, "podman.cid");
    const capture = await startCapture(network, eventsPath);
    const [command, args] = podman!.commandLine([
      "run", "--rm", "--name", "billing-worker", "--network", "host", "--cidfile", cidFile,
      // podman's defaults ask for more than this host's hard limits allow.
      "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
      "localhost/imds-curl:1", "/bin/sh", "-c", imdsCallsScript,
    ]);
    runChecked(command, args, { timeoutMs: 60_000 });
    const { summary } = await stopCapture(capture);
    const id = readFileSync(cidFile, "utf8").trim();
    const records = readFileSync(join(podman!.graphRoot, "overlay-containers/containers.json"), "utf8");
    expect(records.includes(id), "podman --rm left the container in containers.json").toBe(false);
    expectNamedCalls(eventLines(eventsPath), id, {
      runtime: "podman",
      name: "billing-worker",
      image: "localhost/imds-curl:1",
      kubernetes: null,
      ecs: null,
      source: "podman-storage",
    });
    expect(summary.live?.attribution.enrichers?.["container-names"]).toMatchObject({ "named:podman-storage": 1 });
  }, 120_000);
});
