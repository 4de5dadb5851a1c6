import { describe, expect, it } from "vitest";
import { loadEbpfAddon } from "../../src/attribution/ebpf-addon.js";
import { checkRecordLayout, connectRecordLayout, decodeConnectRecords } from "../../src/attribution/ebpf-record.js";
import type { ConnectRecord, RecordDecodeCounters } from "../../src/attribution/ebpf-record.js";

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
    const { records, counters } = decode(record({ pid: 4242, tid: 4250, comm: "aws", cgroupId: 0x1_0000_0001n }));
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
      },
    ]);
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
  });

  const loaded = loadEbpfAddon();
  if (!loaded.ok && process.env["CI"] !== "true") console.warn(`skipping the addon layout check: ${loaded.reason}`);
  it.skipIf(!loaded.ok && process.env["CI"] !== "true")("matches the layout the built addon exports", () => {
    if (!loaded.ok) throw new Error(`eBPF addon not loadable under CI=true: ${loaded.reason}`);
    expect(() => { checkRecordLayout(loaded.addon.layout); }).not.toThrow();
    expect(loaded.addon.layout["recordSize"]).toBe(L.recordSize);
  });
});
