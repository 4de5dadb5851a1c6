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

  it("says first how many requests could not be classified, why, and how to capture them whole; parse errors by reason", async () => {
    const { summary } = await analyzeCaptures([join(captures, "curl-v1-v2-lo.pcap")]);
    const incomplete = {
      total: 7,
      unclassified: 6,
      byCause: { snaplen: 5, gap: 1, ended: 0, "parse-error": 1 },
      unclassifiedByCause: { snaplen: 4, gap: 1, ended: 0, "parse-error": 1 },
      snaplenBytes: 96,
      connectionsWithUnreadRequestBytes: 2,
      requestsSeenOnlyByResponse: 3,
    };
    const lines = formatSummaryText({
      ...summary,
      requests: { total: 16, v1: 3, v2: 3, tokenRequests: 4, unclassified: 6 },
      incompleteRequests: incomplete,
      httpParseErrors: { requests: { "bad-header": 1 }, responses: { "bad-status-line": 2 } },
    }).split("\n");
    expect(lines.slice(0, 5)).toEqual([
      "WARNING: 6 of 16 IMDS requests could not be classified as IMDSv1 or IMDSv2 (4: packets cut at 96 bytes by the capture's snaplen, so their headers were not captured; 1: bytes of their heads missing from the capture (packets not captured); 1: malformed after the request line). They are counted as neither.",
      "WARNING: 2 IMDS connection(s) lost request bytes where no request line was visible: whole requests may be missing.",
      "WARNING: 3 IMDS response(s) answered requests that were not seen at all (lost whole, or sent before the capture started): any of them may have been IMDSv1.",
      "  Packets were cut at 96 bytes: recapture without a size limit (tcpdump -s 0, dumpcap -s 0).",
      "  1 request(s) seen in part were still classified from what was seen (token requests by their request line, v2 by a whole token header); their other headers are unknown.",
    ]);
    expect(lines).toContain("IMDS requests: 16 (v1: 3, v2: 3, token requests: 4, unclassified: 6)");
    expect(lines).toContain("HTTP requests that failed to parse: bad-header 1");
    expect(lines).toContain("HTTP responses that failed to parse: bad-status-line 2");
    // A live capture cannot be "recaptured with tcpdump".
    const live = formatSummaryText({ ...summary, incompleteRequests: incomplete, live: { ...liveSummary } }).split("\n");
    expect(live[3]).toBe("  Packets were cut at 96 bytes, all the live capture keeps of a packet: a request head beyond that cannot be classified.");
  });

  it("says nothing of it when every request was seen whole", async () => {
    const { summary } = await analyzeCaptures([join(captures, "curl-v1-v2-lo.pcap")]);
    expect(formatSummaryText(summary).split("\n")[0]).toMatch(/^imds-analyzer: 1 file\(s\)/);
  });
});

const liveSummary: LiveCaptureSummary = {
  device: "lo", linkType: 1, filter: "f", startedAt: "2026-11-24T05:00:00.000Z", stoppedAt: "2026-11-24T06:00:00.000Z",
  durationSeconds: 3600, packetsReceived: 10, packetsDroppedByKernel: 0, packetsDroppedByInterface: 0, framesNotSaved: 0,
  attribution: { method: "ebpf", fallbackReason: null, connections: 1, attributed: 1, partial: 0, failed: 0 },
};
