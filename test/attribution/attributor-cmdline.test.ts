/**
 * With a kernel record, the event's command line is the argv the kernel read at connect time:
 * the caller's /proc cmdline (the one file of an identity read through the thread pool) is read
 * only for a record without argv.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import { parseProcStat } from "../../src/attribution/procfs-process-files.js";
import { connectRecordOf as recordOf } from "../helpers/connect-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { withLateFifo } from "../helpers/late-fifo.js";
import { event } from "../report/event-factory.js";

let fake: FakeProcfs;

beforeEach(async () => {
  fake = await FakeProcfs.withInit();
});

afterEach(async () => {
  await fake.cleanup();
});

async function attributed(clientPort: number, argv: readonly string[] | null): Promise<Awaited<ReturnType<Attributor["attribute"]>>> {
  const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 1000 });
  try {
    attributor.onConnectRecords([recordOf(clientPort, { argv })]);
    return await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort, serverIp: "169.254.169.254", serverPort: 80 }));
  } finally {
    attributor.close();
  }
}

/** The process exists and is not a zombie (real /proc). */
function isRunning(pid: number): boolean {
  try {
    return parseProcStat(readFileSync(`/proc/${String(pid)}/stat`, "utf8"))?.state !== "Z";
  } catch {
    return false;
  }
}

describe("Attributor and the caller's /proc cmdline", () => {
  it("does not read it when the kernel record carries argv", async () => {
    await fake.addProcess({ pid: 4242, ppid: 1, comm: "curl", startTimeTicks: 5000 });
    // Its writer still alive when the answer is there proves the FIFO was not read.
    await withLateFifo(join(fake.procRoot, "4242", "cmdline"), async (writer) => {
      const result = await attributed(41100, ["curl", "http://169.254.169.254/latest/meta-data/"]);
      expect([result.attribution.method, result.attribution.status, result.process?.pid, result.process?.cmdline]).toEqual(["ebpf", "ok", 4242, ["curl", "http://169.254.169.254/latest/meta-data/"]]);
      expect(isRunning(writer.pid!)).toBe(true);
    });
  });

  it("reads it when the record has no argv", async () => {
    await fake.addProcess({ pid: 4242, ppid: 1, comm: "curl", startTimeTicks: 5000, cmdline: ["curl", "-s", "http://169.254.169.254/from-proc"] });
    const result = await attributed(41101, null);
    expect([result.attribution.method, result.process?.cmdline]).toEqual(["ebpf", ["curl", "-s", "http://169.254.169.254/from-proc"]]);
  });
});
