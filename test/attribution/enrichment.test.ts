/**
 * The enricher seam: the Attributor places every process it names (from /proc, or from the
 * kernel's record when the process is gone) by running its enrichers in order.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Attributor } from "../../src/attribution/attributor.js";
import type { ConnectRecord } from "../../src/attribution/ebpf-record.js";
import { emptyPlacement, enrichProcess, type ProcessEnricher } from "../../src/attribution/enrichment.js";
import { connectRecordOf as recordOf } from "../helpers/connect-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { event } from "../report/event-factory.js";

const containerId = "a8f1d2c3b4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f";
const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";

let fake: FakeProcfs;

beforeEach(async () => {
  fake = await FakeProcfs.withInit();
});

afterEach(async () => {
  await fake.cleanup();
});

async function attributeRecord(attributor: Attributor, record: ConnectRecord): Promise<Awaited<ReturnType<Attributor["attribute"]>>> {
  attributor.onConnectRecords([record]);
  const result = await attributor.attribute(event({ clientIp: record.clientAddress, clientPort: record.clientPort, serverIp: "169.254.169.254", serverPort: 80 }));
  attributor.close();
  return result;
}

describe("Attributor places processes through its enrichers", () => {
  it("reads a live process's whole cgroup file: container and pod from cgroup v1 lines (cgroup v2 path null)", async () => {
    await fake.addProcess({
      pid: 4242,
      ppid: 1,
      comm: "curl",
      startTimeTicks: 5000,
      cgroup: `11:memory:/kubepods/burstable/pod${podUid}/${containerId}\n1:name=systemd:/kubepods/burstable/pod${podUid}/${containerId}\n`,
    });
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    const result = await attributeRecord(attributor, recordOf(41000));
    expect(result.attribution).toEqual({ method: "ebpf", status: "ok", reason: null });
    expect(result.process).toMatchObject({ pid: 4242, cgroup: null, container: { runtime: "unknown", id: containerId }, kubernetesPodUid: podUid, systemdUnit: null });
  });

  it("places a process that exited before /proc was read by the cgroup path the kernel recorded", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    const result = await attributeRecord(attributor, recordOf(41001, { cgroupPath: `/kubepods/besteffort/pod${podUid}/${containerId}` }));
    expect(result.attribution.method).toBe("ebpf");
    expect(result.process).toMatchObject({
      pid: 4242,
      cgroup: `/kubepods/besteffort/pod${podUid}/${containerId}`,
      container: { runtime: "unknown", id: containerId },
      kubernetesPodUid: podUid,
      systemdUnit: null,
    });
  });

  it("places a process that exited before even the addon read /proc by the path an earlier record of its cgroup id carried", async () => {
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot });
    const path = `/kubepods/besteffort/pod${podUid}/${containerId}`;
    const gone = { exePath: null, cgroupPath: null, procSnapshot: "exited", cgroupId: 77n } as const;
    attributor.onConnectRecords([recordOf(41010, { cgroupPath: path, cgroupId: 77n }), recordOf(41011, { cgroupPath: "/elsewhere", cgroupId: 78n, procSnapshot: "unverified" })]);
    const first = await attributeRecord(attributor, recordOf(41012, gone));
    expect(first.process).toMatchObject({ cgroup: path, container: { id: containerId } });
    // An unverified read (no kernel start time to check it against) may be another process's: not learned.
    const second = await attributeRecord(attributor, recordOf(41013, { ...gone, cgroupId: 78n }));
    expect(second.process).toMatchObject({ cgroup: null, container: null });
    // A reused pid: nothing but the kernel's record, not even a path learned from another caller.
    const reused = await attributeRecord(attributor, recordOf(41014, { ...gone, procSnapshot: "pid-reused" }));
    expect(reused.process).toMatchObject({ cgroup: null, container: null });
  });

  it("runs the given enrichers in order, each seeing what the earlier found; one that throws is counted and skipped", async () => {
    await fake.addProcess({ pid: 4242, ppid: 1, comm: "curl", startTimeTicks: 5000, cgroup: "0::/system.slice/app.service\n" });
    const seen: (string | null)[] = [];
    const enrichers: ProcessEnricher[] = [
      { name: "unit", enrich: (input, placement) => ({ ...placement, systemdUnit: input.cgroupFile === null ? null : "app.service" }) },
      { name: "broken", enrich: () => { throw new Error("hostile file"); } },
      { name: "observer", enrich: (_input, placement) => { seen.push(placement.systemdUnit); return placement; } },
    ];
    const attributor = new Attributor({ method: "ebpf", procRoot: fake.procRoot, etcRoot: fake.etcRoot, enrichers });
    const result = await attributeRecord(attributor, recordOf(41002));
    expect(result.process).toMatchObject({ cgroup: null, container: null, kubernetesPodUid: null, systemdUnit: "app.service" });
    expect(seen).toEqual(["app.service"]);
    expect(Object.fromEntries(attributor.enricherFailures)).toEqual({ broken: 1 });
  });

  it("starts from nothing known", async () => {
    expect(await enrichProcess([], { pid: 1, cgroupFile: "0::/x.service\n", parents: [] }, new Map())).toEqual(emptyPlacement);
  });
});
