/**
 * Waiting for the kernel's connect record: when the event loop was busy past the wait, the
 * record that arrived meanwhile (queued as I/O behind the wait's timer) must still win over the
 * /proc fallback.
 */
import { stat } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import type { ConnectRecord } from "../../src/attribution/ebpf-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { event } from "../report/event-factory.js";

let fake: FakeProcfs;

beforeEach(async () => {
  fake = await FakeProcfs.create();
  await fake.addProcess({ pid: 1, ppid: 0, comm: "systemd", startTimeTicks: 2 });
  await fake.setSelf(1);
});

afterEach(async () => {
  await fake.cleanup();
});

/** A record of a process that has exited (nothing of it in the fake /proc). */
function recordOf(clientPort: number): ConnectRecord {
  return {
    pid: 4242, tid: 4242, uid: 0, gid: 0, comm: "curl", cgroupId: 1n, ipVersion: 4,
    clientAddress: "10.0.0.10", clientPort, serverAddress: "169.254.169.254", serverPort: 80,
    connectTimeNs: 1n, endTimeNs: 2n, outcome: "established",
    argv: ["curl", "http://169.254.169.254/latest/meta-data/"], argvTruncated: false,
    parentPid: 1, parentComm: "systemd", startTimeTicks: 5000, exeName: "curl",
    exePath: "/usr/bin/curl", cgroupPath: "/system.slice/test.service", procSnapshot: "confirmed",
  };
}

function busyFor(milliseconds: number): void {
  const until = Date.now() + milliseconds;
  while (Date.now() < until) {
    // The event loop is blocked, as when a burst of packets is being parsed.
  }
}

describe("Attributor waiting for the kernel", () => {
  it("takes a record delivered after its wait expired while the loop was busy, not the /proc fallback", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    const call = event({ clientIp: "10.0.0.10", clientPort: 41000, serverIp: "169.254.169.254", serverPort: 80 });
    const attribution = attributor.attribute(call);
    // One I/O completion (as the eBPF addon's callback is) that hands over the record: it
    // completes while the loop is blocked past the wait, so it is queued behind the timer.
    const delivered = new Promise<void>((resolve) => {
      stat(fake.procRoot, () => {
        attributor.onConnectRecords([recordOf(41000)]);
        resolve();
      });
    });
    busyFor(200);
    await delivered;
    const result = await attribution;
    expect([result.attribution.method, result.process?.pid, result.process?.comm]).toEqual(["ebpf", 4242, "curl"]);
    attributor.close();
  });

  it("falls back to /proc when no record comes", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    const result = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41001, serverIp: "169.254.169.254", serverPort: 80 }));
    expect([result.attribution.method, result.attribution.status, result.process]).toEqual(["proc", "failed", null]);
    attributor.close();
  });
});
