/**
 * Naming containers from the files their runtimes write (container-files/: copied from real
 * runs of containerd 1.6.20, docker 20.10.24 and podman 4.3.1 here; CRI-O's built from its
 * source), through the same enricher live capture runs, against a fake /proc and runtime
 * directories in a temp dir. Also: what a hostile or broken file does (a counted problem and
 * null names, never a throw or a hang), priority, and the cache by container id.
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCgroup } from "../../src/attribution/cgroup.js";
import { redactArgv } from "../../src/attribution/redact.js";
import { ContainerNamesEnricher, type ContainerLookup, type ContainerNameSource, type RuntimeFilePaths, type SourceContext } from "../../src/attribution/container-names.js";
import { dockerConfigSource } from "../../src/attribution/docker-config.js";
import { listRuntimeDirectory, readRuntimeJson } from "../../src/attribution/runtime-files.js";
import { defaultContainerNameSources } from "../../src/attribution/enrichment.js";
import type { ContainerInfo, ParentProcess, ProcessPlacement } from "../../src/events.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const fixtures = join(import.meta.dirname, "container-files");
const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";
const containerdId = "e00f352134a46d8fd930bbbb888851abeb99b16157c81b424c8dc3271154a654";
const dockerId = "861f6d61f07dbf1b1defbf8521461d6f3adec5f5e4abd3fea826a90a0e266842";
const podmanId = "392390c315f33f292043875ba888227d7a20e3a3c9ee66073e3d3004bd45feb9";
const crioId = "5c2a9e7b31d4f60857a9c3e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0";
const crioPodUid = "0d5b8f2e-4c1a-4e7b-9a3d-6f2c8b1e5a90";
const init: ParentProcess = { pid: 1, comm: "systemd", cmdline: ["/sbin/init"] };

let fake: FakeProcfs;
let host: string;
let paths: RuntimeFilePaths;

beforeEach(async () => {
  fake = await FakeProcfs.withInit();
  host = makeTempDir("runtime-files-");
  paths = {
    procRoot: fake.procRoot,
    etcRoot: fake.etcRoot,
    containerdStateDirs: [join(host, "run/containerd")],
    containersStorageRoots: [join(host, "run/containers/storage"), join(host, "var/lib/containers/storage")],
    dockerDataRoot: join(host, "var/lib/docker"),
    kubeletLogDir: join(host, "var/log/containers"),
  };
});

afterEach(async () => {
  await fake.cleanup();
  await rm(host, { recursive: true, force: true });
});

function enricher(sources: readonly ContainerNameSource[] = defaultContainerNameSources(), options: { lookupDeadlineMs?: number } = {}): ContainerNamesEnricher {
  return new ContainerNamesEnricher(sources, paths, options);
}

/** Runs the enricher on a process whose cgroup file is CGROUPFILE, with PARENTS (nearest first). */
async function containerOf(namer: ContainerNamesEnricher, cgroupFile: string, parents: readonly ParentProcess[] = [init]): Promise<ContainerInfo | null> {
  const placement: ProcessPlacement = parseCgroup(cgroupFile);
  return (await namer.enrich({ pid: 4242, cgroupFile, parents }, placement)).container;
}

const fixtureText = (runtime: string, file: string): Promise<string> => readFile(join(fixtures, runtime, file), "utf8");

/** Puts FILE of a fixture at PATH (directories made). */
async function place(path: string, runtime: string, file: string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await copyFile(join(fixtures, runtime, file), path);
}

/** A shim (pid 700) whose working directory is BUNDLE, outside the container's cgroup. */
async function addShim(bundle: string, namespace: string): Promise<ParentProcess> {
  const cmdline = ["/usr/bin/containerd-shim-runc-v2", "-namespace", namespace, "-id", bundle.split("/").at(-1)!, "-address", "/run/containerd/containerd.sock"];
  await fake.addProcess({ pid: 700, ppid: 1, comm: "containerd-shim", cmdline, cwd: bundle, cgroup: "0::/system.slice/containerd.service\n" });
  return { pid: 700, comm: "containerd-shim", cmdline };
}

const namedByContainerd: Partial<ContainerInfo> = {
  runtime: "containerd",
  id: containerdId,
  name: "app",
  image: "registry.local/shop/web:1.2",
  kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid, container: "app" },
  ecs: null,
  source: "containerd-bundle",
};

describe("containerd 1.6.20 bundle (the CRI plugin's annotations)", () => {
  it("reads the bundle through the shim's working directory, wherever the state directory is", async () => {
    const bundle = join(host, "elsewhere/state/io.containerd.runtime.v2.task/k8s.io", containerdId);
    await place(join(bundle, "config.json"), "containerd-1.6.20", "bundle-config.json");
    const shim = await addShim(bundle, "k8s.io");
    expect(await containerOf(enricher(), await fixtureText("containerd-1.6.20", "proc-cgroup"), [shim, init])).toEqual(namedByContainerd);
  });

  it("finds the container's bundle beside the pod sandbox's when one shim serves the whole pod", async () => {
    const tasks = join(host, "elsewhere/state/io.containerd.runtime.v2.task/k8s.io");
    await mkdir(join(tasks, "ab".repeat(32)), { recursive: true });
    await place(join(tasks, containerdId, "config.json"), "containerd-1.6.20", "bundle-config.json");
    const shim = await addShim(join(tasks, "ab".repeat(32)), "k8s.io");
    expect(await containerOf(enricher(), await fixtureText("containerd-1.6.20", "proc-cgroup"), [shim, init])).toEqual(namedByContainerd);
  });

  it("falls back to the state directory when no shim is among the ancestors", async () => {
    await place(join(paths.containerdStateDirs[0]!, "io.containerd.runtime.v2.task/k8s.io", containerdId, "config.json"), "containerd-1.6.20", "bundle-config.json");
    expect(await containerOf(enricher(), await fixtureText("containerd-1.6.20", "proc-cgroup"))).toEqual(namedByContainerd);
  });

  it("does not believe a 'containerd-shim' inside the container itself", async () => {
    const forged = join(host, "forged/io.containerd.runtime.v2.task/k8s.io", containerdId);
    await mkdir(forged, { recursive: true });
    await writeFile(join(forged, "config.json"), JSON.stringify({ annotations: { "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": "forged" } }));
    const cgroupFile = await fixtureText("containerd-1.6.20", "proc-cgroup");
    await fake.addProcess({ pid: 800, comm: "containerd-shim", cwd: forged, cgroup: cgroupFile });
    const container = await containerOf(enricher(), cgroupFile, [{ pid: 800, comm: "containerd-shim", cmdline: [] }, init]);
    expect(container).toMatchObject({ id: containerdId, name: null, source: "cgroup" });
  });

  it("names the pod, but no container, for the pod's sandbox", async () => {
    const spec = JSON.parse(await fixtureText("containerd-1.6.20", "bundle-config.json")) as { annotations: Record<string, string> };
    spec.annotations["io.kubernetes.cri.container-type"] = "sandbox";
    const bundle = join(paths.containerdStateDirs[0]!, "io.containerd.runtime.v2.task/k8s.io", containerdId);
    await mkdir(bundle, { recursive: true });
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec));
    expect(await containerOf(enricher(), await fixtureText("containerd-1.6.20", "proc-cgroup"))).toMatchObject({
      name: null,
      image: null,
      kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid, container: null },
      source: "containerd-bundle",
    });
  });
});

const namedByDocker: Partial<ContainerInfo> = {
  runtime: "docker",
  id: dockerId,
  name: "shop-web",
  image: "local/curl-busybox:1",
  kubernetes: null,
  ecs: {
    cluster: "prod",
    taskArn: "arn:aws:ecs:us-east-1:123456789012:task/prod/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c",
    taskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c",
    family: "shop-web",
    revision: "7",
    container: "web",
  },
  source: "docker-config",
};

describe("docker 20.10.24 (containerd's moby namespace, then config.v2.json with the ECS agent's labels)", () => {
  it("goes from the moby bundle to Docker's file under the data-root daemon.json names", async () => {
    const dataRoot = join(host, "docker-data");
    await mkdir(join(fake.etcRoot, "docker"), { recursive: true });
    await writeFile(join(fake.etcRoot, "docker/daemon.json"), JSON.stringify({ "data-root": dataRoot, "log-driver": "json-file" }));
    await place(join(dataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    const bundle = join(host, "run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby", dockerId);
    await place(join(bundle, "config.json"), "docker-20.10.24", "moby-bundle-config.json");
    const shim = await addShim(bundle, "moby");
    expect(await containerOf(enricher(), await fixtureText("docker-20.10.24", "proc-cgroup"), [shim, init])).toEqual(namedByDocker);
  });

  it("finds the data-root on a running dockerd's command line", async () => {
    const dataRoot = join(host, "private-docker");
    await place(join(dataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    await fake.addProcess({ pid: 300, comm: "dockerd", cmdline: ["dockerd", "--iptables=false", `--data-root=${dataRoot}`] });
    expect(await containerOf(enricher(), await fixtureText("docker-20.10.24", "proc-cgroup"))).toEqual(namedByDocker);
  });

  it("uses /var/lib/docker when nothing names another data-root, and keeps the task id of the cgroup path when labels lack the ARN", async () => {
    const config = JSON.parse(await fixtureText("docker-20.10.24", "config.v2.json")) as { Config: { Labels: Record<string, string> } };
    delete config.Config.Labels["com.amazonaws.ecs.task-arn"];
    await mkdir(join(paths.dockerDataRoot, "containers", dockerId), { recursive: true });
    await writeFile(join(paths.dockerDataRoot, "containers", dockerId, "config.v2.json"), JSON.stringify(config));
    const container = await containerOf(enricher(), await fixtureText("docker-20.10.24", "proc-cgroup"));
    expect(container?.ecs).toEqual({ ...namedByDocker.ecs, taskArn: null });
    expect(container?.source).toBe("docker-config");
  });
});

describe("docker-config's data-roots: a lookup races Docker's removal of a `--rm` container, so no /proc scan when a known root has it", () => {
  const otherId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

  /** The source's context over the real files, counting the directory listings (the /proc scan for dockerd). */
  function countingContext(): { context: SourceContext; listings: string[] } {
    const listings: string[] = [];
    const context: SourceContext = {
      paths,
      note: () => undefined,
      readJson: async (path) => {
        const read = await readRuntimeJson(path);
        return read.ok ? read.value : null;
      },
      readLink: () => Promise.resolve(null),
      list: async (path, maxEntries) => {
        listings.push(path);
        const read = await listRuntimeDirectory(path, maxEntries);
        return read.ok ? read.value : null;
      },
      commandLine: () => Promise.resolve(null),
      runtimeAncestors: () => Promise.resolve([]),
    };
    return { context, listings };
  }

  const lookupOf = (id: string): ContainerLookup => ({ container: { ...parseCgroup(`0::/docker/${id}\n`).container!, id }, parents: [init] });

  it("names a container under the default data-root (or daemon.json's) with one file read and no scan", async () => {
    await place(join(paths.dockerDataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    await fake.addProcess({ pid: 300, comm: "dockerd", cmdline: ["dockerd"] });
    const { context, listings } = countingContext();
    expect(await dockerConfigSource().find(lookupOf(dockerId), context)).toMatchObject({ name: "shop-web" });
    expect(listings).toEqual([]);
  });

  it("scans for running dockerd processes only when a container is in no root known so far, at most every 5 s, and tries the roots found first from then on", async () => {
    const privateRoot = join(host, "private-docker");
    await place(join(privateRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    await fake.addProcess({ pid: 300, comm: "dockerd", cmdline: ["dockerd", `--data-root=${privateRoot}`] });
    const source = dockerConfigSource();
    const { context, listings } = countingContext();
    expect(await source.find(lookupOf(dockerId), context)).toMatchObject({ name: "shop-web" });
    expect(listings).toEqual([fake.procRoot]);
    // Known now: found again without a scan; a container in no root does not scan again within 5 s.
    expect(await source.find(lookupOf(dockerId), context)).toMatchObject({ name: "shop-web" });
    expect(await source.find(lookupOf(otherId), context)).toBeNull();
    expect(listings).toEqual([fake.procRoot]);
  });
});

describe("podman 4.3.1 (conmon's bundle, containers/storage's containers.json)", () => {
  it("names the container from containers.json beside the bundle conmon names", async () => {
    const storage = join(host, "private-podman/root");
    const cmdline = (await fixtureText("podman-4.3.1", "conmon-cmdline")).trim().split("\n").map((argument) => argument.replaceAll("/tmp/lab/pod2/root", storage));
    await place(join(storage, "overlay-containers/containers.json"), "podman-4.3.1", "containers.json");
    await place(join(storage, "overlay-containers", podmanId, "userdata/config.json"), "podman-4.3.1", "config.json");
    await fake.addProcess({ pid: 900, comm: "conmon", cmdline, cgroup: "0::/\n" });
    // The parent chain carries redacted command lines (a bare 64-hex id looks like a secret to
    // the redaction): the source reads conmon's own from /proc.
    const redacted = redactArgv(cmdline);
    const container = await containerOf(enricher(), await fixtureText("podman-4.3.1", "proc-cgroup"), [{ pid: 900, comm: "conmon", cmdline: redacted }, init]);
    expect(container).toEqual({ runtime: "podman", id: podmanId, name: "billing-worker", image: "localhost/curl-busybox:1", kubernetes: null, ecs: null, source: "podman-storage" });
  });

  it("finds containers.json under the default graph root without conmon", async () => {
    await place(join(paths.containersStorageRoots[1]!, "overlay-containers/containers.json"), "podman-4.3.1", "containers.json");
    expect(await containerOf(enricher(), await fixtureText("podman-4.3.1", "proc-cgroup"))).toMatchObject({ name: "billing-worker", source: "podman-storage" });
  });
});

describe("CRI-O (config.json built from upstream's annotation names: not packaged in Debian)", () => {
  const crioCgroup = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${crioPodUid.replaceAll("-", "_")}.slice/crio-${crioId}.scope\n`;

  it("names pod, namespace, container and image from the spec's annotations", async () => {
    await place(join(paths.containersStorageRoots[0]!, "overlay-containers", crioId, "userdata/config.json"), "cri-o-source-f954a17", "config.json");
    expect(await containerOf(enricher(), crioCgroup)).toEqual({
      runtime: "cri-o",
      id: crioId,
      name: "app",
      image: "registry.local/shop/web:1.2",
      kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid: crioPodUid, container: "app" },
      ecs: null,
      source: "cri-o-config",
    });
  });

  it("leaves a CRI-O container in containers/storage's records to CRI-O (podman's source does not claim it)", async () => {
    await mkdir(join(paths.containersStorageRoots[1]!, "overlay-containers"), { recursive: true });
    await writeFile(join(paths.containersStorageRoots[1]!, "overlay-containers/containers.json"), JSON.stringify([{ id: crioId, names: ["k8s_app_web"], metadata: "{}" }]));
    expect(await containerOf(enricher(), crioCgroup)).toMatchObject({ runtime: "cri-o", name: null, source: "cgroup" });
  });
});

describe("kubelet log links (any Kubernetes runtime)", () => {
  it("names pod, namespace, container and pod uid from the link and its target", async () => {
    await mkdir(paths.kubeletLogDir, { recursive: true });
    await symlink(`/var/log/pods/shop_web-7d4b9c-x2kq_${podUid}/app/0.log`, join(paths.kubeletLogDir, `web-7d4b9c-x2kq_shop_app-${containerdId}.log`));
    await symlink("/var/log/pods/other/x/0.log", join(paths.kubeletLogDir, `other_ns_x-${"cd".repeat(32)}.log`));
    expect(await containerOf(enricher(), `0::/kubepods/burstable/pod${podUid}/${containerdId}\n`)).toEqual({
      runtime: "unknown",
      id: containerdId,
      name: "app",
      image: null,
      kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid, container: "app" },
      ecs: null,
      source: "kubelet-log-link",
    });
  });

  it("comes after the runtime's own files (first to name the container wins)", async () => {
    await mkdir(paths.kubeletLogDir, { recursive: true });
    await symlink(`/var/log/pods/shop_linked_${podUid}/linked/0.log`, join(paths.kubeletLogDir, `linked_shop_linked-${containerdId}.log`));
    await place(join(paths.containerdStateDirs[0]!, "io.containerd.runtime.v2.task/k8s.io", containerdId, "config.json"), "containerd-1.6.20", "bundle-config.json");
    expect(await containerOf(enricher(), await fixtureText("containerd-1.6.20", "proc-cgroup"))).toEqual(namedByContainerd);
  });
});

describe("hostile or broken runtime files: counted, names null, never a throw or a hang", () => {
  const bundleOf = (): string => join(paths.containerdStateDirs[0]!, "io.containerd.runtime.v2.task/k8s.io", containerdId);

  it.each([
    ["too-large", async (path: string) => { await writeFile(path, `{"annotations":{},"pad":"${"x".repeat(4 * 1024 * 1024)}"}`); }],
    // A FIFO would block a plain open until someone writes to it.
    ["not-a-file", (path: string) => { execFileSync("mkfifo", [path]); return Promise.resolve(); }],
    ["symlink", async (path: string) => { await symlink(join(fixtures, "containerd-1.6.20/bundle-config.json"), path); }],
    ["malformed", async (path: string) => { await writeFile(path, '{"annotations": {"io.kubernetes.cri.container-type": '); }],
    ["malformed", async (path: string) => { await writeFile(path, '{"annotations": ["not", "an", "object"]}'); }],
  ])("config.json %s", async (problem, plant) => {
    await mkdir(bundleOf(), { recursive: true });
    await plant(join(bundleOf(), "config.json"));
    const namer = enricher();
    const container = await containerOf(namer, await fixtureText("containerd-1.6.20", "proc-cgroup"));
    expect(container).toMatchObject({ id: containerdId, name: null, image: null, source: "cgroup" });
    expect(namer.stats()[`problem:containerd-bundle:${problem}`]).toBe(1);
  });

  it("a lookup that takes too long gives up (counted): the events behind it are not held", async () => {
    const never: ContainerNameSource = { source: "stuck", find: () => new Promise(() => undefined) };
    const namer = enricher([never], { lookupDeadlineMs: 50 });
    expect(await containerOf(namer, `0::/docker/${dockerId}\n`)).toMatchObject({ name: null, source: "cgroup" });
    expect(namer.stats()).toMatchObject({ lookups: 1, "problem:lookup:timeout": 1 });
  });

  it("a source that throws is counted and the next one still asked", async () => {
    const broken: ContainerNameSource = { source: "broken", find: () => Promise.reject(new Error("boom")) };
    const namer = enricher([broken, ...defaultContainerNameSources()]);
    await place(join(paths.dockerDataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    expect(await containerOf(namer, await fixtureText("docker-20.10.24", "proc-cgroup"))).toMatchObject({ name: "shop-web" });
    expect(namer.stats()).toMatchObject({ "problem:broken:error": 1, "named:docker-config": 1 });
  });
});

describe("the cache by container id", () => {
  it("keeps a container's names after its files are gone (a one-shot caller's container exits)", async () => {
    await place(join(paths.dockerDataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    const namer = enricher();
    const cgroupFile = await fixtureText("docker-20.10.24", "proc-cgroup");
    expect(await containerOf(namer, cgroupFile)).toEqual(namedByDocker);
    await rm(join(paths.dockerDataRoot, "containers", dockerId), { recursive: true });
    expect(await containerOf(namer, cgroupFile)).toEqual(namedByDocker);
    expect(namer.stats()).toMatchObject({ lookups: 1, cached: 1, "named:docker-config": 1 });
  });

  it("asks again for a container nobody named only after a while", async () => {
    const namer = enricher();
    for (let call = 0; call < 3; call++) await containerOf(namer, `0::/docker/${dockerId}\n`);
    expect(namer.stats()).toMatchObject({ lookups: 1, cached: 2, unnamed: 1 });
  });

  it("asks again at once when the miss came from a caller whose ancestry was not read up to init", async () => {
    // A one-shot caller gone before /proc was read, its shell gone too: only the parent's pid is
    // known, so a runtime's monitor among its ancestors could not be seen.
    const namer = enricher();
    const parentGone = [{ pid: 4200, comm: "sh", cmdline: [] }];
    for (let call = 0; call < 2; call++) expect(await containerOf(namer, `0::/docker/${dockerId}\n`, parentGone)).toMatchObject({ name: null });
    await place(join(paths.dockerDataRoot, "containers", dockerId, "config.v2.json"), "docker-20.10.24", "config.v2.json");
    expect(await containerOf(namer, `0::/docker/${dockerId}\n`)).toMatchObject({ name: "shop-web" });
    expect(namer.stats()).toMatchObject({ lookups: 3, unnamed: 2, "named:docker-config": 1 });
  });
});
