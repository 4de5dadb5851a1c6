/**
 * Cross-checks against Wireshark's and tcpdump's readers and writers: files converted by
 * editcap/mergecap must read the same as the originals, and tshark/tcpdump must see in our
 * writer's files what our reader sees. Needs editcap, mergecap, tshark and tcpdump; without them
 * the tests are skipped with a printed reason, except under CI=true where that is a failure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatCaptureTime } from "../../src/source/frame.js";
import { openCaptureFile } from "../../src/source/capture-input.js";
import { ethernetFrame, rawFrame, tcpFlags, tcpPacket } from "../../src/wire-format/packets.mjs";
import { writePcap } from "../../src/wire-format/pcap-file.mjs";
import { writePcapngSections } from "../../src/wire-format/pcapng-file.mjs";
import type { CaptureFrame } from "../../src/wire-format/pcap-file.mjs";
import type { Collected, FrameCopy } from "./read-helpers.js";
import { collect } from "./read-helpers.js";
import { expectedNanos, pattern } from "./sample-frames.js";

const tools = ["editcap", "mergecap", "tshark", "tcpdump"] as const;
const missing = tools.filter((tool) => spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined);
if (missing.length > 0) {
  if (process.env["CI"] === "true") throw new Error(`real-tools tests need ${missing.join(", ")} (CI=true)`);
  console.warn(`skipping real-tools tests: ${missing.join(", ")} not installed`);
}

const tempDir = mkdtempSync(join(tmpdir(), "imds-real-tools-"));
afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

function file(name: string, bytes?: Uint8Array): string {
  const path = join(tempDir, name);
  if (bytes) writeFileSync(path, bytes);
  return path;
}

async function readFile(path: string): Promise<Collected> {
  return collect(openCaptureFile(path), { path });
}

/** IPv4 + TCP to 169.254.169.254:80 with a patterned payload. */
function imdsPacket(payloadLength: number, seed: number): Uint8Array {
  return tcpPacket({
    src: "10.0.0.5",
    dst: "169.254.169.254",
    srcPort: 40_000 + seed,
    dstPort: 80,
    seq: 1000 * seed,
    flags: tcpFlags.psh | tcpFlags.ack,
    payload: pattern(payloadLength, seed),
  });
}

function realisticFrames(linkType: 1 | 101, count: number, firstSecond: number): CaptureFrame[] {
  return Array.from({ length: count }, (_, index) => {
    const bytes = linkType === 1 ? ethernetFrame(imdsPacket((index * 37) % 700, index + 1)) : rawFrame(imdsPacket((index * 53) % 500, index + 1));
    const cut = index % 5 === 4; // some frames cut by a snaplen
    return {
      linkType,
      timestampSeconds: firstSecond + index,
      timestampNanos: (index * 123_456_789) % 1_000_000_000,
      bytes: cut ? bytes.subarray(0, 60) : bytes,
      ...(cut ? { originalLength: bytes.length } : {}),
    };
  });
}

/** The fields that must survive a conversion (the record offsets do not). */
function withoutOffsets(frames: readonly FrameCopy[]): FrameCopy[] {
  return frames.map((frame) => ({ ...frame, byteOffset: 0 }));
}

/** tshark's view of a file: number, epoch time (ns), wire length, captured length, interface. */
function tsharkFields(path: string): string[] {
  const output = run("tshark", ["-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id"]);
  return output.trim().split("\n");
}

function ourFields(frames: readonly FrameCopy[]): string[] {
  return frames.map(
    (frame) =>
      `${frame.number}\t${frame.timestampSeconds}.${String(frame.timestampNanos).padStart(9, "0")}\t${frame.originalLength}\t${frame.bytes.length}\t${frame.interfaceId}`,
  );
}

describe.skipIf(missing.length > 0)("real tools", () => {
  const ethernet = realisticFrames(1, 40, 1_700_000_000);
  const raw = realisticFrames(101, 25, 1_700_000_000);

  it("editcap pcap -> pcapng -> pcap keeps every frame (ns and µs)", async () => {
    for (const precision of ["nanoseconds", "microseconds"] as const) {
      const original = file(`a-${precision}.pcap`, writePcap(ethernet, { timestampPrecision: precision }));
      const ng = file(`a-${precision}.pcapng`);
      const back = file(`a-${precision}-back.pcap`);
      run("editcap", ["-F", "pcapng", original, ng]);
      run("editcap", ["-F", precision === "nanoseconds" ? "nsecpcap" : "pcap", ng, back]);
      const fromOriginal = await readFile(original);
      const fromNg = await readFile(ng);
      const fromBack = await readFile(back);
      const digits = precision === "nanoseconds" ? 9 : 6;
      expect(fromOriginal.frames.map((frame) => frame.timestampNanos)).toEqual(ethernet.map((frame) => expectedNanos(frame.timestampNanos, digits)));
      expect(fromNg.result.format).toBe("pcapng");
      expect(withoutOffsets(fromNg.frames)).toEqual(withoutOffsets(fromOriginal.frames));
      expect(withoutOffsets(fromBack.frames)).toEqual(withoutOffsets(fromOriginal.frames));
      const cut = ethernet.filter((frame) => frame.bytes.length < (frame.originalLength ?? 0)).length;
      expect(cut).toBe(7);
      const cutAfterConversion = fromNg.frames.filter((frame) => frame.bytes.length < frame.originalLength).length;
      expect([fromNg.result.frames, cutAfterConversion, fromNg.result.linkTypes]).toEqual([40, cut, [1]]);
      expect(ourFields(fromNg.frames)).toEqual(tsharkFields(ng));
    }
  });

  it("mergecap's multi-interface pcapng reads as tshark reads it", async () => {
    const a = file("eth.pcap", writePcap(ethernet, { timestampPrecision: "nanoseconds" }));
    const b = file("raw.pcap", writePcap(raw));
    const merged = file("merged.pcapng");
    run("mergecap", ["-F", "pcapng", "-w", merged, a, b]);
    const { frames, result } = await readFile(merged);
    expect(result.frames).toBe(65);
    expect(result.linkTypes).toEqual([1, 101]);
    expect(ourFields(frames)).toEqual(tsharkFields(merged));
    expect(new Set(frames.map((frame) => `${frame.interfaceId}:${frame.linkType}:${frame.timePrecisionDigits}`))).toEqual(new Set(["0:1:9", "1:101:6"]));
  });

  it("skips a decryption secrets block written by editcap --inject-secrets", async () => {
    const original = file("s.pcap", writePcap(ethernet));
    const keys = file("keys.txt", new TextEncoder().encode(`CLIENT_RANDOM ${"ab".repeat(32)} ${"cd".repeat(48)}\n`));
    const withSecrets = file("s.pcapng");
    run("editcap", ["--inject-secrets", `tls,${keys}`, original, withSecrets]);
    const bytes = readFileSync(withSecrets);
    expect(bytes.includes(Buffer.from("CLIENT_RANDOM"))).toBe(true);
    const { frames, result, warnings } = await readFile(withSecrets);
    expect(withoutOffsets(frames)).toEqual(withoutOffsets((await readFile(original)).frames));
    expect([result.unknownBlocksSkipped, warnings]).toEqual([0, []]);
  });

  it("tcpdump and tshark see in our writer's big-endian pcapng what our reader sees", async () => {
    const path = file("ours-be.pcapng", writePcapngSections([
      {
        byteOrder: "big-endian",
        interfaces: [{ linkType: 1, tsresol: 9 }],
        records: ethernet.map((frame) => ({ kind: "enhanced-packet" as const, frame })),
      },
    ]));
    const { frames } = await readFile(path);
    expect(ourFields(frames)).toEqual(tsharkFields(path));
    const tcpdump = run("tcpdump", ["-r", path, "-tt", "-nn", "--time-stamp-precision=nano"]);
    const times = tcpdump.split("\n").filter((line) => /^\d+\.\d{9} /.test(line)).map((line) => line.slice(0, line.indexOf(" ")));
    expect(times).toEqual(frames.map((frame) => `${frame.timestampSeconds}.${String(frame.timestampNanos).padStart(9, "0")}`));
    expect(formatCaptureTime(frames[1]!.timestampSeconds, frames[1]!.timestampNanos, 9)).toBe("2023-11-14T22:13:21.123456789Z");
  });

  it("tcpdump counts the same frames in our writer's pcap", async () => {
    const path = file("ours.pcap", writePcap(raw, { byteOrder: "big-endian" }));
    const { frames } = await readFile(path);
    const tcpdump = run("tcpdump", ["-r", path, "-tt", "-nn"]);
    const times = tcpdump.split("\n").filter((line) => /^\d+\.\d{6} /.test(line)).map((line) => line.slice(0, line.indexOf(" ")));
    expect(times).toEqual(frames.map((frame) => `${frame.timestampSeconds}.${String(frame.timestampNanos / 1000).padStart(6, "0")}`));
  });
});
