import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateCapture } from "../../bench/generate-capture.mjs";
import { analyzeCaptures } from "../../src/analyze.js";
import { defaultPipelineLimits } from "../../src/pipeline/capture-pipeline.js";

const dir = mkdtempSync(join(tmpdir(), "imds-bench-test-"));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const tcpdumpAvailable = spawnSync("tcpdump", ["--version"]).status === 0;
if (!tcpdumpAvailable && process.env["CI"] !== "true") console.log("skipping the tcpdump checks: tcpdump is not installed");

/** Frames tcpdump reads from the file that match the BPF filter ("" for all). */
function tcpdumpPacketCount(path: string, filter: string): number {
  const result = spawnSync("tcpdump", ["-r", path, "-nn", "--count", filter], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  const match = /^(\d+) packets?/m.exec(result.stdout);
  expect(match).not.toBeNull();
  return Number(match?.[1]);
}

describe("bench capture generator", () => {
  it("writes a mixed pcap and pcapng whose IMDS requests, by kind, are exactly what it reports", async () => {
    const pcapPath = join(dir, "mixed.pcap");
    const pcapngPath = join(dir, "mixed.pcapng");
    const manifest = await generateCapture({ pcapPath, pcapngPath, sizeBytes: 5 * 1024 * 1024, imdsEveryFrames: 100 });

    // 5 MiB of ~1 KB frames with one conversation per 100 background frames; shapes rotate in fives.
    expect(manifest.frames).toBe(5347);
    expect(manifest.imdsConnections).toBe(53);
    expect(manifest.requests).toEqual({ total: 64, v1: 22, v2: 21, tokenRequests: 21 });
    expect(manifest.splitRequests).toBe(31);
    expect(manifest.outOfOrderRequests).toBe(20);
    expect(statSync(pcapPath).size).toBe(manifest.pcapBytes);
    expect(statSync(pcapngPath).size).toBe(manifest.pcapngBytes);
    expect(manifest.pcapBytes).toBeGreaterThanOrEqual(5 * 1024 * 1024);

    for (const path of [pcapPath, pcapngPath]) {
      const { summary, hadErrors } = await analyzeCaptures([path]);
      expect(hadErrors).toBe(false);
      expect(summary.framesRead).toBe(manifest.frames);
      expect(summary.requests).toEqual({ ...manifest.requests, unclassified: 0 });
      expect(summary.diagnostics.counters.segmentsOutOfOrder).toBe(manifest.outOfOrderRequests);
    }
  });

  it("writes an all-IMDS capture of short connections", async () => {
    const pcapPath = join(dir, "imds-only.pcap");
    const manifest = await generateCapture({ pcapPath, sizeBytes: 1024 * 1024, mode: "imds-only" });
    expect(manifest.pcapngBytes).toBeNull();
    expect(manifest.imdsConnections).toBe(975);
    expect(manifest.requests).toEqual({ total: 1170, v1: 390, v2: 390, tokenRequests: 390 });

    const { summary } = await analyzeCaptures([pcapPath]);
    expect(summary.framesRead).toBe(manifest.frames);
    expect(summary.requests).toEqual({ ...manifest.requests, unclassified: 0 });
    expect(summary.diagnostics.counters.flowsOpened).toBe(975);
    expect(summary.diagnostics.counters.framesNotImds).toBeUndefined();
  });

  it("writes a SYN flood: one half-open connection per distinct client address and port", async () => {
    const pcapPath = join(dir, "syn-flood.pcap");
    const manifest = await generateCapture({ pcapPath, sizeBytes: 0, mode: "syn-flood", synFlows: 70_000 });
    expect([manifest.frames, manifest.synFlows, manifest.requests.total]).toEqual([70_000, 70_000, 0]);
    // 24-byte file header, then 16-byte record headers and 54-byte Ethernet/IPv4/TCP frames.
    expect(statSync(pcapPath).size).toBe(24 + 70_000 * 70);

    const { summary } = await analyzeCaptures([pcapPath], {
      limits: {
        ...defaultPipelineLimits,
        reassembly: { ...defaultPipelineLimits.reassembly, maxFlows: 50_000 },
      },
    });
    expect(summary.diagnostics.counters.flowsOpened).toBe(70_000);
    expect(summary.diagnostics.counters.flowsEvictedLimit).toBe(20_000);
    expect(summary.requests.total).toBe(0);
  });

  it.skipIf(!tcpdumpAvailable)("produces files tcpdump reads to the end, with one request-start segment per request", async () => {
    const pcapPath = join(dir, "tcpdump.pcap");
    const pcapngPath = join(dir, "tcpdump.pcapng");
    const manifest = await generateCapture({ pcapPath, pcapngPath, sizeBytes: 2 * 1024 * 1024, imdsEveryFrames: 100 });
    const requestStart = "(host 169.254.169.254 or host fd00:ec2::254) and tcp port 80 and "
      + "(tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420 or tcp[((tcp[12] & 0xf0) >> 2):4] = 0x50555420)";
    for (const path of [pcapPath, pcapngPath]) {
      expect(tcpdumpPacketCount(path, "")).toBe(manifest.frames);
      expect(tcpdumpPacketCount(path, requestStart)).toBe(manifest.requests.total);
    }
  });
});
