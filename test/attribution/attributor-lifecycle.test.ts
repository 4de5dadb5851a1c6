/**
 * How long the Attributor holds a connection (issue 13's soak): only while its events may still
 * come. Before, every connection stayed until 20,000 newer ones had been made, in the order they
 * were made: a service making one-shot callers held the last 20,000 of them (the bulk of its
 * memory under load), and a keep-alive SDK connection in use was pushed out by newer one-shot
 * ones and read again from /proc every ~200 s of a soak.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import type { FlowEndpoints } from "../../src/reassembly/types.js";
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

const exited = { exePath: null, cgroupPath: null, procSnapshot: "exited" } as const;
const callFrom = (clientPort: number): ReturnType<typeof event> => event({ clientIp: "10.0.0.10", clientPort, serverIp: "169.254.169.254", serverPort: 80 });
const endpointsOf = (clientPort: number): FlowEndpoints =>
  ({ clientAddress: "10.0.0.10", clientPort, serverAddress: "169.254.169.254", serverPort: 80 }) as FlowEndpoints;

describe("Attributor connection lifetime", () => {
  it("forgets a connection once it ended and its events were attributed, whichever came first", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    attributor.onConnectRecords([recordOf(41000, exited), recordOf(41001, exited)]);
    // Ended after its two events.
    const first = attributor.attribute(callFrom(41000));
    expect(attributor.attribute(callFrom(41000))).toBe(first);
    attributor.onConnectionEnded(endpointsOf(41000), 2, "fin");
    // Ended before its two events left the event queue: held until the second.
    attributor.onConnectionEnded(endpointsOf(41001), 2, "fin");
    const other = attributor.attribute(callFrom(41001));
    expect(attributor.connectionsHeld).toBe(1);
    expect(attributor.attribute(callFrom(41001))).toBe(other);
    expect(attributor.connectionsHeld).toBe(0);
    expect([(await first).process?.pid, (await other).process?.pid]).toEqual([4242, 4242]);
    expect(attributor.stats).toMatchObject({ connections: 2, kernelRecords: 2 });
    attributor.close();
  });

  it("forgets a connection that ended without a request at once", () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    attributor.onConnectRecords([recordOf(41002, exited)]);
    attributor.onConnectionSeen(endpointsOf(41002));
    attributor.onConnectionEnded(endpointsOf(41002), 0, "fin");
    expect(attributor.connectionsHeld).toBe(0);
    attributor.close();
  });

  it("keeps a connection in use however many newer ones come (a keep-alive SDK client among one-shot callers)", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20, maxConnections: 3 });
    attributor.onConnectRecords([recordOf(40000, { ...exited, pid: 777 })]);
    const keepAlive = attributor.attribute(callFrom(40000));
    for (let port = 41100; port < 41110; port++) {
      // One-shot callers whose events are still to come (none ended), beyond the bound...
      attributor.onConnectRecords([recordOf(port, exited)]);
      // ...while the keep-alive connection keeps being used.
      expect(attributor.attribute(callFrom(40000))).toBe(keepAlive);
    }
    expect((await keepAlive).process?.pid).toBe(777);
    expect(attributor.connectionsHeld).toBe(3);
    attributor.close();
  });

  it("forgets a kernel record the capture never saw after the unseen-connection time", () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, unseenConnectionTtlMs: 60_000 });
    attributor.onConnectRecords([recordOf(41003, exited), recordOf(41004, exited)]);
    attributor.onConnectionSeen(endpointsOf(41004));
    attributor.forgetStale(Date.now() + 59_000);
    expect(attributor.connectionsHeld).toBe(2);
    attributor.forgetStale(Date.now() + 60_000);
    // 41003's connection was in another namespace: gone; 41004's was seen and has not ended.
    expect(attributor.connectionsHeld).toBe(1);
    expect(attributor.stats).toMatchObject({ connections: 1, kernelRecords: 2 });
    attributor.close();
  });

  it("does not give an ended connection's record to a new connection on the same 4-tuple", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    attributor.onConnectRecords([recordOf(41005, exited)]);
    expect((await attributor.attribute(callFrom(41005))).process?.pid).toBe(4242);
    attributor.onConnectionEnded(endpointsOf(41005), 1, "fin");
    // The port is reused by a connection whose record never comes (lost in a full ring): it is
    // not curl 4242's, so the /proc fallback answers (and finds no owner here).
    const reused = await attributor.attribute(callFrom(41005));
    expect([reused.attribution.method, reused.process]).toEqual(["proc", null]);
    attributor.close();
  });

  it("knows a record arriving after its connection ended and was forgotten as late, not as a new connection", async () => {
    const connectedAtNs = process.hrtime.bigint();
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    const fallback = await attributor.attribute(callFrom(41006));
    expect(fallback.attribution.method).toBe("proc");
    attributor.onConnectionEnded(endpointsOf(41006), 1, "fin");
    attributor.onConnectRecords([recordOf(41006, { ...exited, connectTimeNs: connectedAtNs })]);
    expect(attributor.connectionsHeld).toBe(0);
    expect(attributor.stats).toMatchObject({ connections: 1, kernelRecords: 1, lateKernelRecords: 1 });
    attributor.close();
  });
});

describe("Attributor and connections the capture stopped following while they may live on", () => {
  it("keeps a connection the reassembler ended as idle or evicted: its next request is still the same process's", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 20 });
    attributor.onConnectRecords([recordOf(41007, { ...exited, pid: 888 }), recordOf(41008, { ...exited, pid: 889 })]);
    const idle = attributor.attribute(callFrom(41007));
    const evicted = attributor.attribute(callFrom(41008));
    attributor.onConnectionEnded(endpointsOf(41007), 1, "idle");
    attributor.onConnectionEnded(endpointsOf(41008), 1, "evicted");
    expect(attributor.connectionsHeld).toBe(2);
    expect(attributor.attribute(callFrom(41007))).toBe(idle);
    expect(attributor.attribute(callFrom(41008))).toBe(evicted);
    expect([(await idle).process?.pid, (await evicted).process?.pid]).toEqual([888, 889]);
    attributor.close();
  });
});

describe("Attributor and connections whose end came before anything was known of them", () => {
  it("a connection that ended before its record and events came is forgotten once its events were attributed", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, waitForKernelMs: 5000 });
    const connectedAtNs = process.hrtime.bigint();
    // The flow closed with two events still queued; the kernel's record is late (a busy ring).
    attributor.onConnectionEnded(endpointsOf(41009), 2, "fin");
    attributor.onConnectRecords([recordOf(41009, { ...exited, connectTimeNs: connectedAtNs })]);
    const first = attributor.attribute(callFrom(41009));
    expect(attributor.attribute(callFrom(41009))).toBe(first);
    expect(attributor.connectionsHeld).toBe(0);
    // The same, when the events come before the record.
    attributor.onConnectionEnded(endpointsOf(41010), 1, "fin");
    const waiting = attributor.attribute(callFrom(41010));
    expect(attributor.connectionsHeld).toBe(0);
    attributor.onConnectRecords([recordOf(41010, { ...exited, pid: 4343 })]);
    expect([(await first).process?.pid, (await waiting).process?.pid]).toEqual([4242, 4343]);
    attributor.close();
  });

  it("forgets a connection seen but unused for the unused-connection time (whatever the capture said of its end)", () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, unusedConnectionTtlMs: 600_000 });
    attributor.onConnectRecords([recordOf(41011, exited)]);
    void attributor.attribute(callFrom(41011));
    attributor.onConnectionEnded(endpointsOf(41011), 5, "idle");
    attributor.forgetStale(Date.now() + 599_000);
    expect(attributor.connectionsHeld).toBe(1);
    attributor.forgetStale(Date.now() + 600_000);
    expect(attributor.connectionsHeld).toBe(0);
    attributor.close();
  });
});
