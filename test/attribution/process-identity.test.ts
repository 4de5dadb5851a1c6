import { execFileSync } from "node:child_process";
import { chmod, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { maxParentDepth, readProcessIdentity } from "../../src/attribution/process-identity.js";
import { failureFromProcessError } from "../../src/attribution/procfs-read.js";
import type { ProcessIdentity } from "../../src/attribution/types.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { withLateFifo } from "../helpers/late-fifo.js";

const bootTimeSeconds = 1_700_000_000;
const dockerId = "3f4c8e0a9b2d1c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e";
const imdsToken = "AQAEAH4qGq9Y0ZjUeRb7kL2mXnV8sTw3cP1dQfA6oHi5uJ9eKx4yBzN2gC7tM0rWvE==";

let fake: FakeProcfs;
let options: { procRoot: string; etcRoot: string };

beforeEach(async () => {
  fake = await FakeProcfs.create({ bootTimeSeconds });
  options = { procRoot: fake.procRoot, etcRoot: fake.etcRoot };
  await fake.addProcess({ pid: 1, ppid: 0, comm: "systemd", startTimeTicks: 2, cmdline: ["/sbin/init", "splash"], exe: "/usr/lib/systemd/systemd", cgroup: "0::/init.scope\n" });
});

afterEach(async () => {
  await fake.cleanup();
});

async function identityOf(pid: number, extra: { expectedStartTimeTicks?: number } = {}): Promise<ProcessIdentity> {
  const result = await readProcessIdentity(pid, { ...options, ...extra });
  if ("status" in result) throw new Error(`expected an identity, got ${JSON.stringify(result)}`);
  return result;
}

describe("readProcessIdentity against a fake procfs", () => {
  it("reads every field of a containerised curl and its parents", async () => {
    await fake.addProcess({ pid: 700, ppid: 1, comm: "containerd-shim", startTimeTicks: 500, cmdline: ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"] });
    await fake.addProcess({ pid: 4200, ppid: 700, comm: "bash", startTimeTicks: 90_000, uid: 1000, cmdline: ["bash"], exe: "/usr/bin/bash" });
    await fake.addProcess({
      pid: 4242,
      ppid: 4200,
      comm: "curl",
      startTimeTicks: 123_456,
      uid: 1000,
      cmdline: ["curl", "-s", "-H", `X-aws-ec2-metadata-token: ${imdsToken}`, "http://169.254.169.254/latest/meta-data/"],
      exe: "/usr/bin/curl",
      cgroup: `0::/system.slice/docker-${dockerId}.scope\n`,
    });

    expect(await identityOf(4242)).toEqual({
      pid: 4242,
      startTimeTicks: 123_456,
      startTime: new Date((bootTimeSeconds + 1234.56) * 1000).toISOString(),
      comm: "curl",
      exe: "/usr/bin/curl",
      exeDenied: false,
      cmdline: ["curl", "-s", "-H", "X-aws-ec2-metadata-token: <redacted>", "http://169.254.169.254/latest/meta-data/"],
      uid: 1000,
      user: "ec2-user",
      parents: [
        { pid: 4200, comm: "bash", cmdline: ["bash"] },
        { pid: 700, comm: "containerd-shim", cmdline: ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"] },
        { pid: 1, comm: "systemd", cmdline: ["/sbin/init", "splash"] },
      ],
      cgroupFile: `0::/system.slice/docker-${dockerId}.scope\n`,
    });
  });

  it("reads pid 1 itself: no parents", async () => {
    const identity = await identityOf(1);
    expect(identity).toMatchObject({ pid: 1, comm: "systemd", uid: 0, user: "root", parents: [], cgroupFile: "0::/init.scope\n" });
    expect(identity.startTime).toBe("2023-11-14T22:13:20.020Z");
  });

  it("keeps a comm with ') (' in it whole", async () => {
    await fake.addProcess({ pid: 50, comm: "a) (b", cmdline: ["./weird"] });
    expect(await identityOf(50)).toMatchObject({ comm: "a) (b", cmdline: ["./weird"], parents: [{ pid: 1, comm: "systemd" }] });
  });

  it("answers process-exited for a pid with no directory", async () => {
    expect(await readProcessIdentity(999, options)).toEqual({ status: "failed", reason: "process-exited", detail: `${join(fake.procRoot, "999", "stat")}: ENOENT` });
  });

  it("answers pid-reused when the start time is not the expected one", async () => {
    await fake.addProcess({ pid: 60, startTimeTicks: 777 });
    expect(await readProcessIdentity(60, { ...options, expectedStartTimeTicks: 700 })).toEqual({
      status: "failed",
      reason: "pid-reused",
      detail: "pid 60 started at tick 777, expected 700",
    });
    expect((await identityOf(60, { expectedStartTimeTicks: 777 })).startTimeTicks).toBe(777);
  });

  it("gives exe null when the link cannot be read, and keeps everything else", async () => {
    await fake.addProcess({ pid: 70, comm: "svc", exeNotALink: true, uid: 1001, cmdline: ["svc", "--serve"] });
    expect(await identityOf(70)).toMatchObject({ exe: null, exeDenied: false, comm: "svc", cmdline: ["svc", "--serve"], user: "ssm-user" });
  });

  it("reads a kernel thread: empty cmdline, no exe, parent kthreadd", async () => {
    await fake.addProcess({ pid: 2, ppid: 0, comm: "kthreadd", startTimeTicks: 2, cmdline: [], exe: null });
    await fake.addProcess({ pid: 88, ppid: 2, comm: "kworker/0:1-events", startTimeTicks: 30, cmdline: [], exe: null });
    expect(await identityOf(88)).toMatchObject({ comm: "kworker/0:1-events", exe: null, exeDenied: false, cmdline: [], parents: [{ pid: 2, comm: "kthreadd", cmdline: [] }] });
  });

  it("reads a zombie (empty cmdline, no exe)", async () => {
    await fake.addProcess({ pid: 91, comm: "curl", state: "Z", cmdline: [], exe: null });
    expect(await identityOf(91)).toMatchObject({ pid: 91, comm: "curl", exe: null, cmdline: [] });
  });

  it("keeps a setproctitle'd cmdline without NULs as one argument", async () => {
    await fake.addProcess({ pid: 92, comm: "nginx", cmdlineRaw: "nginx: worker process" });
    expect((await identityOf(92)).cmdline).toEqual(["nginx: worker process"]);
  });

  it("gives user null for a uid not in passwd, and when passwd is missing", async () => {
    await fake.addProcess({ pid: 93, uid: 4321 });
    expect(await identityOf(93)).toMatchObject({ uid: 4321, user: null });
    const other = await FakeProcfs.create();
    try {
      await rm(join(other.etcRoot, "passwd"));
      await other.addProcess({ pid: 5, uid: 0 });
      expect(await readProcessIdentity(5, { procRoot: other.procRoot, etcRoot: other.etcRoot })).toMatchObject({ uid: 0, user: null });
    } finally {
      await other.cleanup();
    }
  });

  it("gives startTime null when /proc/stat has no btime", async () => {
    const other = await FakeProcfs.create();
    try {
      await rm(join(other.procRoot, "stat"));
      await other.addProcess({ pid: 5, startTimeTicks: 100 });
      expect(await readProcessIdentity(5, { procRoot: other.procRoot, etcRoot: other.etcRoot })).toMatchObject({ startTimeTicks: 100, startTime: null });
    } finally {
      await other.cleanup();
    }
  });
});

describe("parent chain", () => {
  it(`stops after ${maxParentDepth} ancestors`, async () => {
    for (let pid = 100; pid < 140; pid++) await fake.addProcess({ pid, ppid: pid === 100 ? 1 : pid - 1, startTimeTicks: pid });
    const identity = await identityOf(139);
    expect(identity.parents).toHaveLength(maxParentDepth);
    expect(identity.parents[0]!.pid).toBe(138);
    expect(identity.parents.at(-1)!.pid).toBe(138 - maxParentDepth + 1);
  });

  it("ends at a parent whose pid now belongs to a younger process", async () => {
    await fake.addProcess({ pid: 200, ppid: 1, startTimeTicks: 50 });
    await fake.addProcess({ pid: 201, ppid: 200, startTimeTicks: 5000 }); // the real parent exited; pid 202 reused
    await fake.addProcess({ pid: 202, ppid: 201, startTimeTicks: 4000 });
    expect((await identityOf(202)).parents).toEqual([]);
    expect((await identityOf(201)).parents.map((parent) => parent.pid)).toEqual([200, 1]);
  });

  it("ends at a parent that has exited", async () => {
    await fake.addProcess({ pid: 300, ppid: 299, startTimeTicks: 50 });
    expect((await identityOf(300)).parents).toEqual([]);
  });

  it("redacts the parents' command lines too", async () => {
    await fake.addProcess({ pid: 400, ppid: 1, comm: "sh", cmdline: ["/bin/sh", "-c", `AWS_SESSION_TOKEN=${imdsToken} ./job`] });
    await fake.addProcess({ pid: 401, ppid: 400, comm: "job" });
    expect((await identityOf(401)).parents[0]).toEqual({ pid: 400, comm: "sh", cmdline: ["/bin/sh", "-c", "AWS_SESSION_TOKEN=<redacted> ./job"] });
  });
});

describe("a process that changes while it is being read", () => {
  // The cmdline is a FIFO: the read blocks until the test writes to it, so the test can
  // replace the process between the first and the final stat read, deterministically.
  async function withBlockedCmdline(pid: number, change: () => Promise<void>): Promise<unknown> {
    await fake.addProcess({ pid, startTimeTicks: 1000, cmdlineRaw: "" });
    const fifo = join(fake.procRoot, String(pid), "cmdline");
    await rm(fifo);
    execFileSync("mkfifo", [fifo]);
    const pending = readProcessIdentity(pid, options);
    const writer = await open(fifo, "w"); // returns once the reader has opened the FIFO
    await change();
    await writer.write("curl\0http://169.254.169.254/\0");
    await writer.close();
    return pending;
  }

  it("answers pid-reused when the pid now names another process", async () => {
    const result = await withBlockedCmdline(500, async () => {
      await fake.removeProcess(500);
      await fake.addProcess({ pid: 500, startTimeTicks: 2000, comm: "other" });
    });
    expect(result).toEqual({ status: "failed", reason: "pid-reused", detail: "pid 500 was reused while it was being read" });
  });

  it("answers process-exited when it vanished", async () => {
    const result = await withBlockedCmdline(501, () => fake.removeProcess(501));
    expect(result).toMatchObject({ status: "failed", reason: "process-exited" });
  });

  it("returns the identity when nothing changed", async () => {
    const result = await withBlockedCmdline(502, async () => {
      // nothing
    });
    expect(result).toMatchObject({ pid: 502, startTimeTicks: 1000, cmdline: ["curl", "http://169.254.169.254/"] });
  });
});

describe("readCmdline: false (the kernel gave argv already)", () => {
  it("leaves the process's cmdline unread, and still reads its parents'", async () => {
    await fake.addProcess({ pid: 300, ppid: 1, comm: "sh", cmdline: ["sh", "job.sh"], startTimeTicks: 30 });
    await fake.addProcess({ pid: 510, ppid: 300, comm: "curl", startTimeTicks: 1000 });
    // An empty cmdline proves the FIFO was not read (a read would have given "late").
    await withLateFifo(join(fake.procRoot, "510", "cmdline"), async () => {
      expect(await readProcessIdentity(510, { ...options, readCmdline: false })).toMatchObject({
        pid: 510, comm: "curl", cmdline: [], exe: "/usr/bin/curl", parents: [{ pid: 300, cmdline: ["sh", "job.sh"] }, { pid: 1 }],
      });
    });
  });
});

describe("permission errors", () => {
  const isRoot = process.getuid?.() === 0;

  // As root, chmod does not stop reads (CAP_DAC_OVERRIDE); the mapping is checked below instead.
  it.skipIf(isRoot)("answers permission-denied for an unreadable process directory", async () => {
    await fake.addProcess({ pid: 600 });
    await chmod(join(fake.procRoot, "600"), 0o000);
    try {
      expect(await readProcessIdentity(600, options)).toMatchObject({ status: "failed", reason: "permission-denied" });
    } finally {
      await chmod(join(fake.procRoot, "600"), 0o755);
    }
  });

  it.each([
    ["EACCES", "permission-denied"],
    ["EPERM", "permission-denied"],
    ["ENOENT", "process-exited"],
    ["ESRCH", "process-exited"],
    ["EIO", "error"],
  ])("maps %s to %s", (code, reason) => {
    const error = Object.assign(new Error(`${code}: failed, open '/proc/1/stat'`), { code });
    expect(failureFromProcessError(error, "/proc/1/stat")).toMatchObject({ status: "failed", reason });
  });

  it("rejects an invalid pid without touching the tree", async () => {
    expect(await readProcessIdentity(0, options)).toEqual({ status: "failed", reason: "error", detail: "invalid pid 0" });
    expect(await readProcessIdentity(1.5, options)).toMatchObject({ reason: "error" });
  });
});

describe("readProcessIdentity's ancestor chains", () => {
  it("reuses the chain above a parent read a moment ago: one stat per new caller, not every ancestor's files", async () => {
    await fake.addProcess({ pid: 200, ppid: 1, comm: "cron", cmdline: ["cron", "-f"], startTimeTicks: 20 });
    await fake.addProcess({ pid: 300, ppid: 200, comm: "sh", cmdline: ["sh", "job.sh"], startTimeTicks: 30 });
    await fake.addProcess({ pid: 401, ppid: 300, comm: "curl", startTimeTicks: 40 });
    await fake.addProcess({ pid: 402, ppid: 300, comm: "curl", startTimeTicks: 41 });
    const first = await readProcessIdentity(401, { procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    // A grandparent's command line changes on disk; the next caller of the same parent shares
    // the chain read for the first (a fresh read of every ancestor would show the change).
    await fake.removeProcess(200);
    await fake.addProcess({ pid: 200, ppid: 1, comm: "cron", cmdline: ["cron", "changed"], startTimeTicks: 20 });
    const second = await readProcessIdentity(402, { procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    const chain = (identity: Awaited<ReturnType<typeof readProcessIdentity>>): unknown => ("parents" in identity ? identity.parents.map((parent) => [parent.pid, parent.cmdline.join(" ")]) : identity);
    expect(chain(first)).toEqual([[300, "sh job.sh"], [200, "cron -f"], [1, "/sbin/init splash"]]);
    expect(chain(second)).toEqual([[300, "sh job.sh"], [200, "cron -f"], [1, "/sbin/init splash"]]);
  });

  it("does not reuse the chain of a parent whose pid now names another process (its start time differs)", async () => {
    await fake.addProcess({ pid: 300, ppid: 1, comm: "sh", cmdline: ["sh", "old.sh"], startTimeTicks: 30 });
    await fake.addProcess({ pid: 401, ppid: 300, comm: "curl", startTimeTicks: 40 });
    await readProcessIdentity(401, { procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    await fake.removeProcess(300);
    await fake.addProcess({ pid: 300, ppid: 1, comm: "sh", cmdline: ["sh", "new.sh"], startTimeTicks: 50 });
    await fake.addProcess({ pid: 402, ppid: 300, comm: "curl", startTimeTicks: 60 });
    const identity = await readProcessIdentity(402, { procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    expect("parents" in identity ? identity.parents[0]?.cmdline : identity).toEqual(["sh", "new.sh"]);
  });
});

