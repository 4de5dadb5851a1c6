/**
 * The arm64 prebuilt addons (prebuilds/linux-arm64, `node native/build.mjs --prebuild --arch
 * arm64`) in an arm64 Node 20 under qemu-aarch64-static (test/helpers/arm64.ts), next to the x64
 * prebuilds in this machine's Node: both load with RTLD_NOW (every symbol bound at load), export
 * the same functions and the same record layout, and the eBPF addon's /proc reader fills a
 * record from a fake /proc tree to the same bytes. The C sources are the same for both
 * architectures; this is the part that can run under qemu-user.
 *
 * What cannot: qemu-user has no bpf() and does not pass on libpcap's packet-socket ioctls, so
 * on arm64 here opening a capture and probing eBPF fail, and must fail with a clear error (not
 * a crash). Live capture on Graviton itself is not shown by this machine. Both runs happen in a
 * network namespace of their own (lo up), so the x64 capture that opens sees nothing of the host.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { arm64Prerequisites, runArm64Node } from "../helpers/arm64.js";
import { FakeProcfs } from "../helpers/fake-procfs.js";
import { shouldSkipRootTests } from "../helpers/netns.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const packageRoot = join(import.meta.dirname, "..", "..");
const inCi = process.env["CI"] === "true";
const prebuilt = (arch: string, file: string): string => join(packageRoot, "prebuilds", `linux-${arch}`, file);
const addonFiles = ["imds_pcap.node", "imds_ebpf.node"] as const;

function unavailable(): string | null {
  const prerequisites = arm64Prerequisites();
  if (!prerequisites.ok) return prerequisites.reason;
  for (const arch of ["x64", "arm64"]) {
    const missing = addonFiles.map((file) => prebuilt(arch, file)).filter((path) => !existsSync(path));
    if (missing.length > 0) return `${missing.join(", ")} missing: run node native/build.mjs --prebuild --arch ${arch}`;
  }
  return null;
}

function shouldSkip(): boolean {
  if (shouldSkipRootTests("the arm64 addon tests (network namespace, eBPF probe)")) return true;
  const reason = unavailable();
  if (reason === null) return false;
  if (inCi) throw new Error(`the arm64 addon tests cannot run under CI=true: ${reason}`);
  console.warn(`skipping the arm64 addon tests: ${reason}`);
  return true;
}
const skip = shouldSkip();

/** Loaded by each Node (CommonJS: the same text runs in both); prints one JSON line. */
const probeScript = `
const os = require("node:os");
const fs = require("node:fs");
const [pcapPath, ebpfPath, recordPath, procRoot] = process.argv.slice(2);
function load(path) { const module = { exports: {} }; process.dlopen(module, path, os.constants.dlopen.RTLD_NOW); return module.exports; }
function attempt(run) { try { return { ok: run() }; } catch (error) { return { name: error.name, code: error.code, message: error.message }; } }
const pcap = load(pcapPath);
const ebpf = load(ebpfPath);
const record = fs.readFileSync(recordPath);
ebpf.fillProcSnapshot(record, procRoot);
console.log(JSON.stringify({
  arch: process.arch,
  pcapExports: Object.keys(pcap).sort(),
  ebpfExports: Object.keys(ebpf).sort(),
  layout: ebpf.layout,
  libpcapVersion: attempt(() => pcap.libpcapVersion()),
  open: attempt(() => { const handle = pcap.open("lo", { filter: "tcp port 80" }); handle.close(); return handle.linkTypeName; }),
  badArgument: attempt(() => pcap.open(42, {})),
  probe: ebpf.probe(),
  filledRecord: record.toString("base64"),
}));
`;

interface ProbeResult {
  readonly arch: string;
  readonly pcapExports: string[];
  readonly ebpfExports: string[];
  readonly layout: Record<string, number>;
  readonly libpcapVersion: { ok?: string; code?: string; message?: string };
  readonly open: { ok?: string; name?: string; code?: string; message?: string };
  readonly badArgument: { name?: string; code?: string; message?: string };
  readonly probe: { ok: boolean; code?: string; reason?: string };
  readonly filledRecord: string;
}

/** In a network namespace of its own with lo up: `unshare --net`, then the command. */
function inOwnNetwork(command: readonly string[]): readonly string[] {
  return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...command];
}

function parse(result: { status: number | null; stdout: string; stderr: string }, what: string): ProbeResult {
  expect(result.status, `${what}: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "") as ProbeResult;
}

describe.skipIf(skip)("arm64 prebuilt addons under qemu-aarch64-static, next to the x64 ones", () => {
  it("load, have the x64 shape and layout, read /proc alike, and fail clearly where qemu-user cannot go", { timeout: 600_000 }, async () => {
    const directory = makeTempDir("imds-arm64-");
    const script = join(directory, "probe.cjs");
    writeFileSync(script, probeScript);
    // A record of pid 4242 whose kernel start time matches the fake /proc (the "confirmed" path:
    // stat parsing, tick division, exe and cgroup reads).
    const fake = await FakeProcfs.create();
    const startTicks = 425_118;
    await fake.addProcess({ pid: 4242, comm: "curl", startTimeTicks: startTicks, exe: "/usr/bin/curl", cgroup: "0::/system.slice/cron.service\n" });

    const { layout } = createRequire(import.meta.url)(prebuilt("x64", "imds_ebpf.node")) as { layout: Record<string, number> };
    const at = (name: string): number => layout[name] ?? Number.NaN;
    const runProbe = (arch: "x64" | "arm64"): ProbeResult => {
      const recordPath = join(directory, `record-${arch}.bin`);
      const bytes = Buffer.alloc(at("recordSize"));
      bytes.writeUInt32LE(4242, at("pidTgid"));
      bytes.writeUInt32LE(4242, at("pidTgid") + 4);
      // 10 ms ticks (USER_HZ 100), plus a remainder the division floors away.
      bytes.writeBigUInt64LE(BigInt(startTicks) * 10_000_000n + 9_999_999n, at("startBoottimeNs"));
      bytes[at("startStatus")] = 1;
      bytes.write("curl", at("exeName"));
      bytes[at("exeNameStatus")] = 1;
      writeFileSync(recordPath, bytes);
      const args = [script, prebuilt(arch, "imds_pcap.node"), prebuilt(arch, "imds_ebpf.node"), recordPath, fake.procRoot];
      const command = arch === "x64" ? inOwnNetwork([process.execPath, ...args]) : null;
      const result = command === null ? runArm64Node(args, { timeoutMs: 300_000, wrap: inOwnNetwork }) : spawnSync(command[0]!, command.slice(1), { encoding: "utf8", timeout: 60_000 });
      return parse(result, `${arch} probe`);
    };

    const x64 = runProbe("x64");
    const arm64 = runProbe("arm64");

    expect(x64.arch).toBe("x64");
    expect(arm64.arch).toBe("arm64");
    expect(arm64.pcapExports).toEqual(x64.pcapExports);
    expect(arm64.ebpfExports).toEqual(x64.ebpfExports);
    expect(arm64.layout).toEqual(x64.layout);
    expect(arm64.badArgument).toEqual(x64.badArgument);
    expect(x64.badArgument).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE" });

    // The /proc reader gives the same bytes on both, and really confirmed the process.
    expect(arm64.filledRecord).toBe(x64.filledRecord);
    const filled = Buffer.from(x64.filledRecord, "base64");
    expect(filled.readBigUInt64LE(at("startTimeTicks"))).toBe(BigInt(startTicks));
    expect(filled.toString("latin1", at("exePath"), at("exePath") + filled.readUInt16LE(at("exePathLength")))).toBe("/usr/bin/curl");

    // libpcap: dlopened by soname on both (Debian's arm64 libpcap0.8 under qemu).
    expect(x64.libpcapVersion.ok).toMatch(/^libpcap version /);
    expect(arm64.libpcapVersion.ok).toMatch(/^libpcap version /);

    // x64 opens a capture and probes eBPF (root); arm64 under qemu-user cannot, and says so.
    expect(x64.open).toEqual({ ok: "EN10MB" });
    expect(x64.probe).toEqual({ ok: true });
    expect(arm64.open.code).toMatch(/^E_PCAP_(CREATE|ACTIVATE)$/);
    expect(arm64.open.message).toMatch(/^cannot open capture device lo: ./);
    expect(arm64.probe).toMatchObject({ ok: false, code: "E_EBPF_SYSTEM", reason: expect.stringMatching(/^bpf\(.*\): Function not implemented$/) as unknown });
    console.log(`arm64 under qemu: open() -> ${arm64.open.code}: ${arm64.open.message}; eBPF probe -> ${arm64.probe.code}: ${arm64.probe.reason}`);
    expect(readFileSync(prebuilt("arm64", "imds_pcap.node")).readUInt16LE(18)).toBe(183); // EM_AARCH64
  });
});
