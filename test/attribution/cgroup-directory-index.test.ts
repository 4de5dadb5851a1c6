/**
 * cgroup paths by the kernel's cgroup id (src/attribution/cgroup-directory-index.ts), on this
 * machine's real cgroup2 mount: every directory's inode is found as its path, a cgroup made
 * after a walk is found by the next question, an id of no cgroup is null; and the Attributor
 * places a process that exited before /proc was read (the addon's snapshot "exited", no cgroup
 * path) by its record's cgroup id, container and pod included. The test cgroups are made under
 * one directory of our own at the top of the hierarchy and removed afterwards. Root only; under
 * CI=true a missing cgroup2 mount fails the run.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmdirSync, statSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import { CgroupDirectoryIndex } from "../../src/attribution/cgroup-directory-index.js";
import { cgroupEnricher } from "../../src/attribution/cgroup.js";
import { connectRecordOf } from "../helpers/connect-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { event } from "../report/event-factory.js";

const cgroup2Magic = 0x63677270;

function cgroup2Mount(): string | null {
  for (const candidate of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (statfsSync(candidate).type === cgroup2Magic) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}

function shouldSkip(): boolean {
  const reason = process.getuid?.() !== 0 ? "not root" : cgroup2Mount() === null ? "no cgroup2 mount" : null;
  if (reason === null) return false;
  if (process.env["CI"] === "true") throw new Error(`cgroup id tests cannot run under CI=true: ${reason}`);
  console.warn(`skipping cgroup id tests: ${reason}`);
  return true;
}

const skip = shouldSkip();
const mount = cgroup2Mount() ?? "/nonexistent";
const ours = `/imds-analyzer-test-${process.pid}-${randomBytes(3).toString("hex")}`;
const made: string[] = [];

/** Makes cgroup PATH (and its parents) under the mount; removed after the tests, deepest first. */
function makeCgroup(path: string): bigint {
  let current = "";
  for (const part of path.split("/").filter((component) => component.length > 0)) {
    current += `/${part}`;
    try {
      mkdirSync(join(mount, current));
      made.push(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  return statSync(join(mount, path), { bigint: true }).ino;
}

afterAll(() => {
  for (const path of [...made].reverse()) {
    try {
      rmdirSync(join(mount, path));
    } catch {
      // a process left in it would keep it; none is ever put there
    }
  }
});

describe.skipIf(skip)("cgroup paths by cgroup id (real cgroup2 mount, root)", () => {
  it("finds each directory by its inode, the root as /", async () => {
    const index = new CgroupDirectoryIndex();
    expect(await index.pathOf(statSync(mount, { bigint: true }).ino)).toBe("/");
    for (const name of readdirSync(mount, { withFileTypes: true }).filter((entry) => entry.isDirectory()).slice(0, 20)) {
      expect(await index.pathOf(statSync(join(mount, name.name), { bigint: true }).ino)).toBe(`/${name.name}`);
    }
  });

  it("finds a cgroup made after its last walk, and null for an id no cgroup has", async () => {
    const index = new CgroupDirectoryIndex();
    expect(await index.pathOf(statSync(mount, { bigint: true }).ino)).toBe("/");
    const id = makeCgroup(`${ours}/late`);
    expect(await index.pathOf(id)).toBe(`${ours}/late`);
    expect(await index.pathOf(0xffff_ffff_ffffn)).toBeNull();
  });

  it("is null without a cgroup2 mount", async () => {
    expect(await new CgroupDirectoryIndex({ mountCandidates: ["/nonexistent", "/tmp"] }).pathOf(1n)).toBeNull();
  });

  it("places a process gone before /proc was read by its record's cgroup id: container and pod", async () => {
    const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";
    const containerId = randomBytes(32).toString("hex");
    const path = `${ours}/kubepods/burstable/pod${podUid}/${containerId}`;
    const cgroupId = makeCgroup(path);
    const fake = await FakeProcfs.withInit();
    try {
      const withIndex = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, enrichers: [cgroupEnricher], cgroupIndex: new CgroupDirectoryIndex() });
      const without = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, enrichers: [cgroupEnricher] });
      // As the addon delivers it for a one-shot client: gone before its /proc read (pid 4242 is
      // not in the fake /proc either), so no exe or cgroup path, only the kernel's cgroup id.
      const gone = { cgroupId, exePath: null, cgroupPath: null, procSnapshot: "exited" } as const;
      for (const attributor of [withIndex, without]) attributor.onConnectRecords([connectRecordOf(42000, gone)]);
      const call = event({ clientIp: "10.0.0.10", clientPort: 42000, serverIp: "169.254.169.254", serverPort: 80 });
      const found = await withIndex.attribute(call);
      expect(found.process).toMatchObject({ pid: 4242, comm: "curl", cgroup: path, kubernetesPodUid: podUid });
      expect(found.process?.container).toMatchObject({ id: containerId });
      expect(found.attribution).toEqual({ method: "ebpf", status: "partial", reason: "process-exited" });
      // Without the index (as before) the process has no placement at all.
      expect((await without.attribute(call)).process).toMatchObject({ pid: 4242, cgroup: null, container: null });
      // A reused pid keeps nothing beyond the kernel's record (test/live/pid-reuse.test.ts).
      withIndex.onConnectRecords([connectRecordOf(42001, { ...gone, procSnapshot: "pid-reused" })]);
      const reused = await withIndex.attribute(event({ clientIp: "10.0.0.10", clientPort: 42001, serverIp: "169.254.169.254", serverPort: 80 }));
      expect(reused.process?.cgroup).toBeNull();
    } finally {
      await fake.cleanup();
    }
  });
});
