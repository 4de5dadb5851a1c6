/**
 * The /proc fallback (`--attribution proc`) when the process changes under it: the socket owner is
 * found through its fd links, and only then is the process read. Between the two it may exit, or
 * exit and have its pid taken by a new process: neither may crash, and neither may name the new
 * process as the caller. A FIFO in the fake procfs blocks the first read of the owner's stat file
 * until the test has changed the process, so each case happens at exactly that moment.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { open, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import type { Attribution } from "../../src/attribution/attributor.js";
import { readProcessIdentity, readUptimeTicks } from "../../src/attribution/process-identity.js";
import { clockTicksPerSecond } from "../../src/attribution/procfs-process-files.js";
import { FakeProcfs, defaultNetns, statLine, tcpLine } from "../helpers/fake-procfs.js";
import { event } from "../report/event-factory.js";

/** 10.0.0.10:40000 -> 169.254.169.254:80, hand-encoded as the kernel prints it. */
const imdsLine = tcpLine(0, "0A00000A:9C40", "FEA9FEA9:0050", "01", 77_001);
const callerPid = 4321;
const callerStartTicks = 50_000;
const callerFds = { 0: "/dev/null", 5: "socket:[77001]" } as const;
const imdsCall = event({ clientIp: "10.0.0.10", clientPort: 40000, serverIp: "169.254.169.254", serverPort: 80 });

let fake: FakeProcfs;

beforeEach(async () => {
  fake = await FakeProcfs.create();
  await fake.setSocketTables(defaultNetns, { tcp: [imdsLine] });
  await fake.addProcess({ pid: 1, ppid: 0, comm: "systemd", startTimeTicks: 2 });
  await fake.setSelf(1);
});

afterEach(async () => {
  await fake.cleanup();
});

function attributor(): Attributor {
  return new Attributor({ method: "proc", procRoot: fake.procRoot, etcRoot: fake.etcRoot });
}

/** /proc/uptime: seconds since boot (the clock of stat's start time) and idle seconds. */
async function setUptimeTicks(ticks: number): Promise<void> {
  await writeFile(join(fake.procRoot, "uptime"), `${(ticks / clockTicksPerSecond).toFixed(2)} 1234.00\n`);
}

/**
 * Adds the caller with a FIFO for its stat file, starts the attribution, and once the attribution
 * has opened that FIFO (it found the socket and is now reading the process) runs `change`, then
 * answers the read with `statText` (what the kernel would have printed at that moment).
 */
async function attributeWhileChanging(change: () => Promise<void>, statText: () => string): Promise<Attribution> {
  await fake.addProcess({ pid: callerPid, comm: "curl", startTimeTicks: callerStartTicks, fds: callerFds, cmdline: ["curl", "http://169.254.169.254/"] });
  const statPath = join(fake.procRoot, String(callerPid), "stat");
  await rm(statPath);
  execFileSync("mkfifo", [statPath]);
  const pending = attributor().attribute(imdsCall);
  const writer = await open(statPath, "w"); // returns once the reader has opened the FIFO
  await change();
  // Later reads of stat must not block: the path becomes a plain file (unless the process is
  // gone), while the reader already holding the FIFO gets the same text through it.
  if (existsSync(join(fake.procRoot, String(callerPid)))) {
    await rm(statPath, { force: true });
    await writeFile(statPath, statText());
  }
  await writer.write(statText());
  await writer.close();
  return pending;
}

describe("/proc attribution when the caller changes mid-lookup", () => {
  it("attributes a caller that stays (the baseline)", async () => {
    await fake.addProcess({ pid: callerPid, comm: "curl", startTimeTicks: callerStartTicks, fds: callerFds, cmdline: ["curl", "http://169.254.169.254/"] });
    const result = await attributor().attribute(imdsCall);
    expect(result.attribution).toEqual({ method: "proc", status: "ok", reason: null });
    expect(result.process).toMatchObject({ pid: callerPid, comm: "curl", cmdline: ["curl", "http://169.254.169.254/"] });
  });

  it("answers process-exited when the caller exits after its socket was found", async () => {
    const result = await attributeWhileChanging(
      () => fake.removeProcess(callerPid),
      () => statLine(callerPid, "curl", "S", 1, callerStartTicks),
    );
    expect(result).toEqual({ process: null, attribution: { method: "proc", status: "failed", reason: "process-exited" } });
  });

  it("answers pid-reused, and names nobody, when a new process took the pid after the socket was found", async () => {
    const result = await attributeWhileChanging(
      async () => {
        await fake.removeProcess(callerPid);
        await fake.addProcess({ pid: callerPid, comm: "intruder", startTimeTicks: callerStartTicks + 500, cmdline: ["intruder"] });
      },
      () => statLine(callerPid, "intruder", "S", 1, callerStartTicks + 500),
    );
    expect(result).toEqual({ process: null, attribution: { method: "proc", status: "failed", reason: "pid-reused" } });
  });

  it("answers pid-reused when the new process has the same name and even an fd with another socket", async () => {
    const result = await attributeWhileChanging(
      async () => {
        await fake.removeProcess(callerPid);
        await fake.addProcess({ pid: callerPid, comm: "curl", startTimeTicks: callerStartTicks + 1, fds: { 5: "socket:[77002]" } });
      },
      () => statLine(callerPid, "curl", "S", 1, callerStartTicks + 1),
    );
    expect(result.attribution).toEqual({ method: "proc", status: "failed", reason: "pid-reused" });
  });

  it("still names a caller that started before the lookup and closed its socket in the meantime", async () => {
    // A daemon making one call per connection: by the time its stat is read the socket is
    // closed, but it started before the lookup began, so the pid cannot have been reused.
    await setUptimeTicks(callerStartTicks + 10_000);
    const result = await attributeWhileChanging(
      async () => {
        await rm(join(fake.procRoot, String(callerPid), "fd", "5"));
      },
      () => statLine(callerPid, "curl", "S", 1, callerStartTicks),
    );
    expect(result.attribution).toEqual({ method: "proc", status: "ok", reason: null });
    expect(result.process).toMatchObject({ pid: callerPid, comm: "curl" });
  });

  it("names a caller that started during the lookup when it still holds the socket", async () => {
    await setUptimeTicks(callerStartTicks - 1);
    const result = await attributeWhileChanging(
      async () => {
        // nothing changes
      },
      () => statLine(callerPid, "curl", "S", 1, callerStartTicks),
    );
    expect(result.attribution).toEqual({ method: "proc", status: "ok", reason: null });
  });

  it("answers pid-reused when the caller started during the lookup and no longer holds the socket", async () => {
    await setUptimeTicks(callerStartTicks - 1);
    const result = await attributeWhileChanging(
      async () => {
        await rm(join(fake.procRoot, String(callerPid), "fd", "5"));
      },
      () => statLine(callerPid, "curl", "S", 1, callerStartTicks),
    );
    expect(result.attribution).toEqual({ method: "proc", status: "failed", reason: "pid-reused" });
  });

  it("answers process-exited for an unparsable stat read at the moment the process went away", async () => {
    const result = await attributeWhileChanging(
      () => fake.removeProcess(callerPid),
      () => "",
    );
    expect(result.process).toBeNull();
    expect(result.attribution.status).toBe("failed");
    expect(["process-exited", "error"]).toContain(result.attribution.reason);
  });
});

describe("readUptimeTicks", () => {
  it("reads /proc/uptime in stat's clock, and null without it", async () => {
    expect(await readUptimeTicks(fake.procRoot)).toBeNull();
    await writeFile(join(fake.procRoot, "uptime"), "350735.47 2781438.12\n");
    expect(await readUptimeTicks(fake.procRoot)).toBe(35_073_547);
    await writeFile(join(fake.procRoot, "uptime"), "garbage\n");
    expect(await readUptimeTicks(fake.procRoot)).toBeNull();
  });

  it("is later than this process's own start time on the real /proc", async () => {
    const own = await readProcessIdentity(process.pid);
    const now = await readUptimeTicks("/proc");
    if ("status" in own) throw new Error(`cannot read this process: ${JSON.stringify(own)}`);
    expect(now).not.toBeNull();
    expect(own.startTimeTicks).toBeLessThanOrEqual(now!);
  });
});
