import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { loadEbpfAddon } from "../../src/attribution/ebpf-addon.js";
import { checkRecordLayout, connectRecordLayout, decodeConnectRecords } from "../../src/attribution/ebpf-record.js";
import type { ConnectRecord, RecordDecodeCounters } from "../../src/attribution/ebpf-record.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import type { FakeProcess } from "../helpers/fake-procfs.js";

const L = connectRecordLayout;

interface RecordFields {
  pid?: number;
  tid?: number;
  uid?: number;
  gid?: number;
  comm?: string;
  cgroupId?: bigint;
  family?: number;
  sport?: number;
  dport?: number;
  outcome?: number;
  argvStatus?: number;
  saddr?: readonly number[];
  daddr?: readonly number[];
  saddrV6?: readonly number[];
  daddrV6?: readonly number[];
  argvBytes?: string;
  argvLength?: number;
  connectTimeNs?: bigint;
  endTimeNs?: bigint;
  /** Kernel identity fields: a value sets the field's status to ok (1) unless a status is given. */
  parentPid?: number;
  parentStatus?: number;
  parentComm?: string;
  parentCommStatus?: number;
  startBoottimeNs?: bigint;
  startStatus?: number;
  exeName?: string;
  exeNameStatus?: number;
  /** The addon's /proc part. */
  startTimeTicks?: bigint;
  procStatus?: number;
  exePath?: string;
  exePathLength?: number;
  cgroupPath?: string;
}

const imdsV6 = [0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54];
const mapped = (a: number, b: number, c: number, d: number): number[] => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d];

/** One record as the kernel writes it (little-endian host, as on x86-64 and arm64). */
function record(fields: RecordFields): Uint8Array {
  const bytes = new Uint8Array(L.recordSize);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(L.connectTimeNs, fields.connectTimeNs ?? 1_000_000n, true);
  view.setBigUint64(L.endTimeNs, fields.endTimeNs ?? 1_250_000n, true);
  view.setUint32(L.pidTgid, fields.tid ?? fields.pid ?? 4242, true);
  view.setUint32(L.pidTgid + 4, fields.pid ?? 4242, true);
  view.setUint32(L.uidGid, fields.uid ?? 1000, true);
  view.setUint32(L.uidGid + 4, fields.gid ?? 1001, true);
  view.setBigUint64(L.cgroupId, fields.cgroupId ?? 0x1_0000_0001n, true);
  bytes.set(new TextEncoder().encode(fields.comm ?? "curl"), L.comm);
  view.setUint16(L.family, fields.family ?? 2, true);
  view.setUint16(L.sport, fields.sport ?? 40000, true);
  view.setUint16(L.dport, fields.dport ?? 80, true);
  bytes[L.outcome] = fields.outcome ?? 1;
  bytes[L.argvStatus] = fields.argvStatus ?? 1;
  bytes.set(fields.saddr ?? [10, 0, 0, 10], L.saddr);
  bytes.set(fields.daddr ?? [169, 254, 169, 254], L.daddr);
  bytes.set(fields.saddrV6 ?? mapped(10, 0, 0, 10), L.saddrV6);
  bytes.set(fields.daddrV6 ?? mapped(169, 254, 169, 254), L.daddrV6);
  const argv = new TextEncoder().encode(fields.argvBytes ?? "curl\0-s\0http://169.254.169.254/\0");
  bytes.set(argv.subarray(0, L.argvSize), L.argv);
  view.setUint32(L.argvLength, fields.argvLength ?? Math.min(argv.length, L.argvSize), true);
  const text = new TextEncoder();
  view.setUint32(L.parentTgid, fields.parentPid ?? 0, true);
  bytes[L.parentStatus] = fields.parentStatus ?? (fields.parentPid === undefined ? 0 : 1);
  bytes.set(text.encode(fields.parentComm ?? ""), L.parentComm);
  bytes[L.parentCommStatus] = fields.parentCommStatus ?? (fields.parentComm === undefined ? 0 : 1);
  view.setBigUint64(L.startBoottimeNs, fields.startBoottimeNs ?? 0n, true);
  bytes[L.startStatus] = fields.startStatus ?? (fields.startBoottimeNs === undefined ? 0 : 1);
  bytes.set(text.encode(fields.exeName ?? ""), L.exeName);
  bytes[L.exeNameStatus] = fields.exeNameStatus ?? (fields.exeName === undefined ? 0 : 1);
  view.setBigUint64(L.startTimeTicks, fields.startTimeTicks ?? 0n, true);
  bytes[L.procStatus] = fields.procStatus ?? 0;
  const exePath = text.encode(fields.exePath ?? "");
  bytes.set(exePath.subarray(0, L.pathSize), L.exePath);
  view.setUint16(L.exePathLength, fields.exePathLength ?? exePath.length, true);
  const cgroupPath = text.encode(fields.cgroupPath ?? "");
  bytes.set(cgroupPath, L.cgroupPath);
  view.setUint16(L.cgroupPathLength, cgroupPath.length, true);
  return bytes;
}

function decode(...records: Uint8Array[]): { records: ConnectRecord[]; counters: RecordDecodeCounters } {
  const batch = new Uint8Array(records.length * L.recordSize);
  records.forEach((one, index) => { batch.set(one, index * L.recordSize); });
  const out: ConnectRecord[] = [];
  const counters = { unknownRecords: 0 };
  decodeConnectRecords(batch, records.length, out, counters);
  return { records: out, counters };
}

describe("decodeConnectRecords", () => {
  it("decodes an IPv4 connect with every field", () => {
    const { records, counters } = decode(
      record({
        pid: 4242,
        tid: 4250,
        comm: "aws",
        cgroupId: 0x1_0000_0001n,
        parentPid: 4100,
        parentComm: "bash",
        startBoottimeNs: 4_251_239_999_999n,
        startTimeTicks: 425_123n,
        exeName: "python3.11",
        procStatus: 1,
        exePath: "/usr/bin/python3.11",
        cgroupPath: "/system.slice/cron.service",
      }),
    );
    expect(counters.unknownRecords).toBe(0);
    expect(records).toEqual([
      {
        pid: 4242,
        tid: 4250,
        uid: 1000,
        gid: 1001,
        comm: "aws",
        cgroupId: 0x1_0000_0001n,
        ipVersion: 4,
        clientAddress: "10.0.0.10",
        clientPort: 40000,
        serverAddress: "169.254.169.254",
        serverPort: 80,
        connectTimeNs: 1_000_000n,
        endTimeNs: 1_250_000n,
        outcome: "established",
        argv: ["curl", "-s", "http://169.254.169.254/"],
        argvTruncated: false,
        parentPid: 4100,
        parentComm: "bash",
        startTimeTicks: 425_123,
        exeName: "python3.11",
        exePath: "/usr/bin/python3.11",
        cgroupPath: "/system.slice/cron.service",
        procSnapshot: "confirmed",
      },
    ]);
  });

  it("gives each kernel identity field null unless its status is ok, independently", () => {
    const full = { parentPid: 7, parentComm: "sh", startBoottimeNs: 10_000_000n, startTimeTicks: 1n, exeName: "curl" };
    const { records } = decode(
      record({ ...full, parentStatus: 2 }),
      record({ ...full, parentCommStatus: 0 }),
      record({ ...full, startStatus: 2 }),
      record({ ...full, exeNameStatus: 2 }),
      record({}),
    );
    expect(records.map((r) => [r.parentPid, r.parentComm, r.startTimeTicks, r.exeName])).toEqual([
      [null, "sh", 1, "curl"],
      [7, null, 1, "curl"],
      [7, "sh", null, "curl"],
      [7, "sh", 1, null],
      [null, null, null, null],
    ]);
  });

  it("keeps a 15-byte parent comm and a 63-byte exe name whole (NUL-terminated in the kernel)", () => {
    const { records } = decode(record({ parentComm: "x".repeat(15), exeName: "e".repeat(63) }));
    expect([records[0]!.parentComm, records[0]!.exeName]).toEqual(["x".repeat(15), "e".repeat(63)]);
  });

  it("decodes the /proc outcome and gives a path of length 0 as null", () => {
    const { records } = decode(
      record({ procStatus: 2, exePath: "/bin/x", cgroupPath: "/" }),
      record({ procStatus: 3 }),
      record({ procStatus: 4 }),
      record({ procStatus: 0 }),
      record({ procStatus: 77, exePath: "/bin/x", exePathLength: 0 }),
    );
    expect(records.map((r) => [r.procSnapshot, r.exePath, r.cgroupPath])).toEqual([
      ["unverified", "/bin/x", "/"],
      ["exited", null, null],
      ["pid-reused", null, null],
      ["not-read", null, null],
      ["not-read", null, null],
    ]);
  });

  it("never reads a path past the path buffer, whatever the length says", () => {
    const { records } = decode(record({ exePath: "/".repeat(L.pathSize), exePathLength: 0xffff }));
    expect(records[0]!.exePath).toBe("/".repeat(L.pathSize));
  });

  it("decodes an IPv6 connect from the v6 fields", () => {
    const { records } = decode(
      record({
        family: 10,
        saddr: [127, 0, 0, 6],
        daddr: [127, 0, 0, 6],
        saddrV6: [0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10],
        daddrV6: imdsV6,
      }),
    );
    expect(records.map((r) => [r.ipVersion, r.clientAddress, r.serverAddress])).toEqual([[6, "2001:db8:77::10", "fd00:ec2::254"]]);
  });

  it("reports an IPv6 socket talking to ::ffff:169.254.169.254 as IPv4 (what the wire shows)", () => {
    const { records } = decode(record({ family: 10, saddrV6: mapped(10, 0, 0, 10), daddrV6: mapped(169, 254, 169, 254) }));
    expect(records.map((r) => [r.ipVersion, r.clientAddress, r.serverAddress])).toEqual([[4, "10.0.0.10", "169.254.169.254"]]);
  });

  it("decodes failed and connecting outcomes", () => {
    const { records } = decode(record({ outcome: 2 }), record({ outcome: 3, sport: 0 }));
    expect(records.map((r) => [r.outcome, r.clientPort])).toEqual([["failed", 40000], ["connecting", 0]]);
  });

  it("keeps a cut-short last argument and flags truncation", () => {
    const long = `curl\0-H\0${"x".repeat(300)}`;
    const { records } = decode(record({ argvBytes: long, argvStatus: 2, argvLength: L.argvSize }));
    expect(records[0]!.argvTruncated).toBe(true);
    expect(records[0]!.argv).toEqual(["curl", "-H", "x".repeat(L.argvSize - 8)]);
  });

  it("gives argv null when capture was off, failed, or had no user memory", () => {
    const { records } = decode(record({ argvStatus: 0 }), record({ argvStatus: 3 }), record({ argvStatus: 4 }));
    expect(records.map((r) => r.argv)).toEqual([null, null, null]);
  });

  it("never reads past argvLength (the environment follows argv in memory)", () => {
    const { records } = decode(record({ argvBytes: "curl\0x\0SECRET=1\0", argvLength: 7 }));
    expect(records[0]!.argv).toEqual(["curl", "x"]);
  });

  it("stops the comm at its NUL and decodes UTF-8", () => {
    const { records } = decode(record({ comm: "wörker" }));
    expect(records[0]!.comm).toBe("wörker");
  });

  it("counts records with an unknown outcome or family instead of guessing", () => {
    const { records, counters } = decode(record({ outcome: 9 }), record({ family: 1 }), record({}));
    expect(records).toHaveLength(1);
    expect(counters.unknownRecords).toBe(2);
  });

  it("decodes no more records than the buffer holds", () => {
    const out: ConnectRecord[] = [];
    const counters = { unknownRecords: 0 };
    decodeConnectRecords(record({}), 3, out, counters);
    expect(out).toHaveLength(1);
  });
});

describe("checkRecordLayout", () => {
  it("rejects a layout that differs", () => {
    expect(() => { checkRecordLayout({ ...connectRecordLayout, argv: 120 }); }).toThrow(/argv: 120 vs 112/);
    expect(() => { checkRecordLayout({ ...connectRecordLayout, exeNameSize: 16 }); }).toThrow(/exeNameSize: 16 vs 64/);
  });

  const loaded = loadEbpfAddon();
  if (!loaded.ok && process.env["CI"] !== "true") console.warn(`skipping the addon layout check: ${loaded.reason}`);
  it.skipIf(!loaded.ok && process.env["CI"] !== "true")("matches the layout the built addon exports", () => {
    if (!loaded.ok) throw new Error(`eBPF addon not loadable under CI=true: ${loaded.reason}`);
    expect(() => { checkRecordLayout(loaded.addon.layout); }).not.toThrow();
    expect(loaded.addon.layout["recordSize"]).toBe(L.recordSize);
  });
});

/**
 * The consumer's /proc reads (native/ebpf/src/proc_snapshot.c), run by the addon on a fake /proc
 * tree exactly as its consumer thread runs them on the real one for each record.
 */
describe("the addon's /proc snapshot of a record's process", () => {
  const loaded = loadEbpfAddon();
  const skip = !loaded.ok && process.env["CI"] !== "true";
  if (!loaded.ok && skip) console.warn(`skipping the /proc snapshot tests: ${loaded.reason}`);
  const ticksPerSecond = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim());
  const nsPerTick = BigInt(1_000_000_000 / ticksPerSecond);
  let fake: FakeProcfs | null = null;

  afterEach(async () => {
    await fake?.cleanup();
    fake = null;
  });

  /** A kernel record for `pid` that started at `startTicks` (plus a sub-tick remainder the kernel floors away). */
  async function snapshot(pid: number, kernel: RecordFields, processes: readonly FakeProcess[]): Promise<ConnectRecord> {
    if (!loaded.ok) throw new Error(`eBPF addon not loadable under CI=true: ${loaded.reason}`);
    fake = await FakeProcfs.create();
    for (const one of processes) await fake.addProcess(one);
    const bytes = Buffer.from(record({ pid, ...kernel }));
    loaded.addon.fillProcSnapshot(bytes, fake.procRoot);
    const { records } = decode(bytes);
    return records[0]!;
  }

  const startTicks = 425_118;
  const kernelStart = { startBoottimeNs: BigInt(startTicks) * nsPerTick + nsPerTick - 1n, exeName: "curl" };
  const hybridCgroup = "12:pids:/user.slice\n1:name=systemd:/user.slice/session-3.scope\n0::/system.slice/cron.service\n";
  const fields = (r: ConnectRecord): unknown[] => [r.procSnapshot, r.startTimeTicks, r.exePath, r.cgroupPath];

  it.skipIf(skip)("keeps exe and cgroup v2 paths when stat's start time equals the kernel's (floored to ticks)", async () => {
    const r = await snapshot(4242, kernelStart, [{ pid: 4242, comm: "curl", startTimeTicks: startTicks, exe: "/usr/bin/curl", cgroup: hybridCgroup }]);
    expect(fields(r)).toEqual(["confirmed", startTicks, "/usr/bin/curl", "/system.slice/cron.service"]);
  });

  it.skipIf(skip)("drops both paths when the pid names a process with another start time", async () => {
    const r = await snapshot(4242, kernelStart, [{ pid: 4242, comm: "curl", startTimeTicks: startTicks + 1, exe: "/usr/bin/curl" }]);
    expect(fields(r)).toEqual(["pid-reused", startTicks, null, null]);
  });

  it.skipIf(skip)("says exited when the process is gone", async () => {
    const r = await snapshot(4242, kernelStart, [{ pid: 4243, startTimeTicks: startTicks }]);
    expect(fields(r)).toEqual(["exited", startTicks, null, null]);
  });

  it.skipIf(skip)("keeps the paths, unverified, when the kernel had no start time", async () => {
    const r = await snapshot(4242, { exeName: "curl" }, [{ pid: 4242, comm: "curl", startTimeTicks: startTicks, exe: "/usr/bin/curl" }]);
    expect(fields(r)).toEqual(["unverified", null, "/usr/bin/curl", "/"]);
  });

  it.skipIf(skip)("drops an exe path whose file name is not the kernel's exe name (exec since connect)", async () => {
    const r = await snapshot(4242, { ...kernelStart, exeName: "bash" }, [{ pid: 4242, startTimeTicks: startTicks, exe: "/usr/bin/curl" }]);
    expect(fields(r)).toEqual(["confirmed", startTicks, null, "/"]);
  });

  it.skipIf(skip)("matches a deleted executable and a kernel exe name cut to 63 bytes", async () => {
    const deleted = await snapshot(4242, kernelStart, [{ pid: 4242, startTimeTicks: startTicks, exe: "/usr/bin/curl (deleted)" }]);
    expect(deleted.exePath).toBe("/usr/bin/curl (deleted)");
    const longName = "n".repeat(80);
    const cut = await snapshot(4242, { ...kernelStart, exeName: longName.slice(0, 63) }, [{ pid: 4242, startTimeTicks: startTicks, exe: `/opt/${longName}` }]);
    expect(cut.exePath).toBe(`/opt/${longName}`);
  });

  it.skipIf(skip)("finds field 22 after a comm holding spaces and parentheses", async () => {
    const r = await snapshot(4242, kernelStart, [{ pid: 4242, comm: "a) (b) 7 8", startTimeTicks: startTicks, exe: "/usr/bin/curl" }]);
    expect(fields(r)).toEqual(["confirmed", startTicks, "/usr/bin/curl", "/"]);
  });

  it.skipIf(skip)("drops paths that do not fit the record instead of cutting them, and a missing cgroup v2 line", async () => {
    const longDirectory = `/${"d".repeat(L.pathSize)}`;
    const r = await snapshot(4242, kernelStart, [
      { pid: 4242, startTimeTicks: startTicks, exe: `${longDirectory}/curl`, cgroup: `0::${longDirectory}\n` },
    ]);
    expect(fields(r)).toEqual(["confirmed", startTicks, null, null]);
    const v1Only = await snapshot(4242, kernelStart, [{ pid: 4242, startTimeTicks: startTicks, cgroup: "4:memory:/x\n1:cpu:/\n" }]);
    expect(v1Only.cgroupPath).toBeNull();
    const longest = `/${"p".repeat(L.pathSize - 7)}/curl`; // L.pathSize - 1 bytes: fits
    const fits = await snapshot(4242, kernelStart, [{ pid: 4242, startTimeTicks: startTicks, exe: longest }]);
    expect(fits.exePath).toBe(longest);
  });

  it.skipIf(skip)("gives exePath null when the exe link is unreadable (kernel thread, zombie)", async () => {
    const r = await snapshot(4242, kernelStart, [{ pid: 4242, startTimeTicks: startTicks, exeNotALink: true }]);
    expect(fields(r)).toEqual(["confirmed", startTicks, null, "/"]);
  });
});
