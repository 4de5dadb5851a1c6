import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import { formatSummaryText } from "../../src/sink/summary-text.js";
import type { AnalysisSummary, LiveCaptureSummary } from "../../src/summary.js";

const captures = join(import.meta.dirname, "..", "..", "captures");

describe("formatSummaryText", () => {
  it("names the instance IMDS named in the capture", async () => {
    const { summary } = await analyzeCaptures([join(captures, "curl-v1-v2-lo.pcap")]);
    const text = formatSummaryText(summary);
    expect(text).toContain("\nInstance: i-0123456789abcdef0 (as IMDS named it in this capture)\n");
    expect(text).not.toContain("Live capture");
  });

  it("states the live capture's health: drops, boot, attribution, interruptions, lost events, capabilities", async () => {
    const { summary } = await analyzeCaptures([join(captures, "curl-v1-v2-lo.pcap")]);
    const live: LiveCaptureSummary = {
      device: "any", linkType: 276, filter: "f", startedAt: "2026-11-24T05:00:00.000Z", stoppedAt: "2026-11-24T06:00:00.000Z",
      durationSeconds: 3600, packetsReceived: 1234, packetsDroppedByKernel: 5, packetsDroppedByInterface: 0, framesNotSaved: 2,
      bootTime: "2026-11-24T04:58:00.000Z", windowIncludesBoot: true, eventsNotWritten: 3,
      interruptions: { count: 1, secondsDown: 2.5, lastError: "The interface went down" },
      capabilities: { kept: ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"], threadsNotDropped: 0, problem: null },
      attribution: { method: "ebpf", fallbackReason: null, connections: 10, attributed: 9, partial: 1, failed: 0 },
    };
    const lines = formatSummaryText({ ...summary, live } satisfies AnalysisSummary).split("\n");
    const start = lines.findIndex((line) => line.startsWith("Live capture"));
    expect(lines.slice(start, start + 7)).toEqual([
      "Live capture on any: 3600 s from 2026-11-24T05:00:00.000Z, 1234 packets, dropped 5 by the kernel, 0 by the interface and 0 by the capture addon",
      "  host booted 2026-11-24T04:58:00.000Z: the capture includes boot",
      "  attribution (ebpf): 9 of 10 connections, 1 partial, 0 failed",
      "  interrupted 1 time(s), 2.5 s without capture",
      "  3 events could not be written",
      "  2 frames not saved to --write-pcap",
      "  capabilities kept after start: CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH",
    ]);
  });
});
