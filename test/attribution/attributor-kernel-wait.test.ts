/**
 * Waiting for the kernel's connect record: when the event loop was busy past the wait, the
 * record that arrived meanwhile (queued as I/O behind the wait's timer) must still win over the
 * /proc fallback. And a record arriving after its connection's event (the loop read the packets
 * first, as after a stall) goes to the waiting entry: the connection is counted once and read
 * once (found live: test/live/pid-reuse.test.ts).
 */
import { stat } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import { connectRecordOf as recordOf } from "../helpers/connect-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { event } from "../report/event-factory.js";

let fake: FakeProcfs;

beforeEach(async () => {
  fake = await FakeProcfs.withInit();
});

afterEach(async () => {
  await fake.cleanup();
});

/** As the live test sees it: the addon found the pid reused when it read /proc (exe and cgroup dropped). */
const pidReused = { exePath: null, cgroupPath: null, procSnapshot: "pid-reused" } as const;

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

  it("drains the tracer when the wait runs out: a record still in the ring is taken, not the /proc fallback", async () => {
    // A starved process: the addon's thread has not handed the record to the loop yet, so no
    // I/O completion will bring it. Only draining the ring finds it.
    let drains = 0;
    const attributor: Attributor = new Attributor({
      method: "ebpf",
      procRoot: fake.procRoot,
      etcRoot: fake.etcRoot,
      waitForKernelMs: 20,
      drainKernelRecords: () => {
        drains++;
        attributor.onConnectRecords([recordOf(41005)]);
      },
    });
    const result = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41005, serverIp: "169.254.169.254", serverPort: 80 }));
    expect([result.attribution.method, result.process?.pid, drains]).toEqual(["ebpf", 4242, 1]);
    expect(attributor.stats).toMatchObject({ connections: 1, kernelRecords: 1, lateKernelRecords: 0 });
    attributor.close();
  });

  it("does not drain when the record came within the wait, and falls back when a drain finds nothing", async () => {
    let drains = 0;
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20, drainKernelRecords: () => { drains++; } });
    const intime = attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41006, serverIp: "169.254.169.254", serverPort: 80 }));
    attributor.onConnectRecords([recordOf(41006)]);
    expect((await intime).attribution.method).toBe("ebpf");
    expect(drains).toBe(0);
    const missing = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41007, serverIp: "169.254.169.254", serverPort: 80 }));
    expect([missing.attribution.method, drains]).toEqual(["proc", 1]);
    attributor.close();
  });

  it("falls back to /proc when no record comes", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    const result = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41001, serverIp: "169.254.169.254", serverPort: 80 }));
    expect([result.attribution.method, result.attribution.status, result.process]).toEqual(["proc", "failed", null]);
    attributor.close();
  });
});

describe("Attributor when the kernel record comes after the event", () => {
  it("gives the record to the waiting connection and counts the connection once", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    const call = event({ clientIp: "10.0.0.10", clientPort: 41000, serverIp: "169.254.169.254", serverPort: 80 });
    const attribution = attributor.attribute(call);
    attributor.onConnectRecords([recordOf(41000, pidReused)]);
    const result = await attribution;
    expect([result.attribution.method, result.attribution.status, result.attribution.reason, result.process?.pid]).toEqual(["ebpf", "partial", "pid-reused", 4242]);
    // A second request on the same connection shares the one entry.
    expect(await attributor.attribute(call)).toBe(result);
    expect(attributor.stats).toEqual({ connections: 1, attributed: 0, partial: 1, failed: 0, kernelRecords: 1, lateKernelRecords: 0 });
    attributor.close();
  });

  it("still starts a connection for a record nobody waits for, and one more for a new connection on the same 4-tuple", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    attributor.onConnectRecords([recordOf(41001, pidReused)]);
    const call = event({ clientIp: "10.0.0.10", clientPort: 41001, serverIp: "169.254.169.254", serverPort: 80 });
    const first = await attributor.attribute(call);
    attributor.onConnectRecords([recordOf(41001, { ...pidReused, pid: 4343 })]);
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
    attributor.onConnectRecords([recordOf(41002, { ...pidReused, connectTimeNs: connectedAtNs })]);
    // Later requests on the connection keep the one answer; nothing is read again.
    expect(await attributor.attribute(call)).toBe(fallback);
    expect(attributor.stats).toEqual({ connections: 1, attributed: 0, partial: 0, failed: 1, kernelRecords: 1, lateKernelRecords: 1 });
    attributor.close();
  });

  it("counts only connections the capture saw: a record of a connection in another namespace or on another interface is read but not counted", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    // The kernel reports every connect to IMDS on the host; this capture sees only port 41004's.
    attributor.onConnectRecords([recordOf(41003, pidReused), recordOf(41004, pidReused)]);
    const seen = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 41004, serverIp: "169.254.169.254", serverPort: 80 }));
    expect(seen.process?.pid).toBe(4242);
    expect(attributor.stats).toEqual({ connections: 1, attributed: 0, partial: 1, failed: 0, kernelRecords: 2, lateKernelRecords: 0 });
    attributor.close();
  });
});

describe("Attributor cost per call for callers that exited (an analyzer behind its records)", () => {
  it("reads the shared parent of exited one-shot callers once, not once per caller", async () => {
    await fake.addProcess({ pid: 300, ppid: 1, comm: "sh", cmdline: ["sh", "loop.sh"] });
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    const exitedCaller = (pid: number, clientPort: number): ReturnType<typeof recordOf> =>
      recordOf(clientPort, { pid, tid: pid, parentPid: 300, parentComm: "sh", exePath: null, cgroupPath: null, procSnapshot: "exited" });
    attributor.onConnectRecords([exitedCaller(5001, 42001)]);
    const first = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 42001, serverIp: "169.254.169.254", serverPort: 80 }));
    // The parent's command line changes on disk: a second caller of the same parent, within the
    // reuse window, is answered from the first read (a fresh read would show the change).
    await fake.removeProcess(300);
    await fake.addProcess({ pid: 300, ppid: 1, comm: "sh", cmdline: ["sh", "changed.sh"] });
    attributor.onConnectRecords([exitedCaller(5002, 42002)]);
    const second = await attributor.attribute(event({ clientIp: "10.0.0.10", clientPort: 42002, serverIp: "169.254.169.254", serverPort: 80 }));
    expect(first.process?.parents[0]).toMatchObject({ pid: 300, cmdline: ["sh", "loop.sh"] });
    expect(second.process?.parents[0]).toMatchObject({ pid: 300, cmdline: ["sh", "loop.sh"] });
    expect([first.process?.pid, second.process?.pid]).toEqual([5001, 5002]);
    attributor.close();
  });
});
