/**
 * The kernel's connect record arriving after the connection's event (the event loop read the
 * packets first, as after the capture was stalled): the waiting entry takes the record, and the
 * connection is counted once and read once (found live: test/live/pid-reuse.test.ts).
 */
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

/**
 * A record whose pid the addon found reused when it read /proc (exe and cgroup dropped), as in
 * the live test; nothing of pid 4242 is in the fake /proc.
 */
function recordOf(clientPort: number, connectTimeNs = process.hrtime.bigint()): ConnectRecord {
  return {
    pid: 4242, tid: 4242, uid: 0, gid: 0, comm: "curl", cgroupId: 1n, ipVersion: 4,
    clientAddress: "10.0.0.10", clientPort, serverAddress: "169.254.169.254", serverPort: 80,
    connectTimeNs, endTimeNs: connectTimeNs + 1000n, outcome: "established",
    argv: ["curl", "http://169.254.169.254/latest/meta-data/"], argvTruncated: false,
    parentPid: 1, parentComm: "systemd", startTimeTicks: 5000, exeName: "curl",
    exePath: null, cgroupPath: null, procSnapshot: "pid-reused",
  };
}

describe("Attributor when the kernel record comes after the event", () => {
  it("gives the record to the waiting connection and counts the connection once", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    const call = event({ clientIp: "10.0.0.10", clientPort: 41000, serverIp: "169.254.169.254", serverPort: 80 });
    const attribution = attributor.attribute(call);
    attributor.onConnectRecords([recordOf(41000)]);
    const result = await attribution;
    expect([result.attribution.method, result.attribution.status, result.attribution.reason, result.process?.pid]).toEqual(["ebpf", "partial", "pid-reused", 4242]);
    // A second request on the same connection shares the one entry.
    expect(await attributor.attribute(call)).toBe(result);
    expect(attributor.stats).toEqual({ connections: 1, attributed: 0, partial: 1, failed: 0, kernelRecords: 1, lateKernelRecords: 0 });
    attributor.close();
  });

  it("still starts a connection for a record nobody waits for, and one more for a new connection on the same 4-tuple", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    attributor.onConnectRecords([recordOf(41001)]);
    const call = event({ clientIp: "10.0.0.10", clientPort: 41001, serverIp: "169.254.169.254", serverPort: 80 });
    const first = await attributor.attribute(call);
    attributor.onConnectRecords([{ ...recordOf(41001), pid: 4343 }]);
    const second = await attributor.attribute(call);
    expect([first.process?.pid, second.process?.pid]).toEqual([4242, 4343]);
    expect(attributor.stats).toEqual({ connections: 2, attributed: 0, partial: 2, failed: 0, kernelRecords: 2, lateKernelRecords: 0 });
    attributor.close();
  });

  it("a record that comes after its wait ran out (the /proc fallback answered) is the same connection: counted once", async () => {
    const connectedAtNs = process.hrtime.bigint();
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    const call = event({ clientIp: "10.0.0.10", clientPort: 41002, serverIp: "169.254.169.254", serverPort: 80 });
    const fallback = await attributor.attribute(call);
    expect([fallback.attribution.method, fallback.attribution.status]).toEqual(["proc", "failed"]);
    attributor.onConnectRecords([recordOf(41002, connectedAtNs)]);
    // Later requests on the connection keep the one answer; nothing is read again.
    expect(await attributor.attribute(call)).toBe(fallback);
    expect(attributor.stats).toEqual({ connections: 1, attributed: 0, partial: 0, failed: 1, kernelRecords: 1, lateKernelRecords: 1 });
    attributor.close();
  });
});
