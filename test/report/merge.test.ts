import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { ReportBuilder, defaultReportLimits } from "../../src/report/aggregate.js";
import { renderHtml } from "../../src/report/render-html.js";
import { renderMarkdown } from "../../src/report/render-markdown.js";
import { attributedOk, baseTimeMs, event, liveSummary, processInfo, timeAt } from "./event-factory.js";

type MutableEvent = { -readonly [K in keyof ImdsEvent]: ImdsEvent[K] };

describe("fleet", () => {
  /** Three hosts: one with an IMDSv1 caller, one clean for two days, one that dropped packets. */
  function fleet(hosts: readonly ("web" | "db" | "batch")[]): ReportBuilder {
    const builder = new ReportBuilder();
    if (hosts.includes("web")) {
      builder.addEvent(event({ kind: "v1", time: timeAt(100), userAgent: "aws-sdk-java/1.11.600 Linux/4.14 java/1.8.0" }), "i-0aaaaaaaaaaaaaaaa");
      builder.addSummary(liveSummary(), "i-0aaaaaaaaaaaaaaaa");
    }
    if (hosts.includes("db")) {
      const process = processInfo();
      builder.addEvent(event({ kind: "token-request", time: timeAt(50), process, attribution: attributedOk }), "i-0bbbbbbbbbbbbbbbb");
      builder.addEvent(event({ kind: "v2", time: timeAt(51), process, attribution: attributedOk }), "i-0bbbbbbbbbbbbbbbb");
      builder.addSummary(liveSummary({ stoppedAt: timeAt(3 * 86_400) }), "i-0bbbbbbbbbbbbbbbb");
    }
    if (hosts.includes("batch")) {
      builder.addEvent(event({ kind: "v2", time: timeAt(10) }), "batch-7");
      builder.addSummary(liveSummary({ packetsDroppedByKernel: 12 }), "batch-7");
    }
    return builder;
  }

  it("judges each host and the fleet: NOT_READY when one host is", () => {
    const report = fleet(["web", "db", "batch"]).build();
    expect(report.hosts.map((host) => [host.host, host.verdict, host.totals.v1])).toEqual([
      ["i-0aaaaaaaaaaaaaaaa", "NOT_READY", 1],
      ["batch-7", "UNKNOWN", 0],
      ["i-0bbbbbbbbbbbbbbbb", "READY", 0],
    ]);
    expect(report.verdict).toBe("NOT_READY");
    expect(report.verdictReasons).toEqual([
      "1 of 3 hosts NOT READY: i-0aaaaaaaaaaaaaaaa.",
      "1 of 3 hosts UNKNOWN: batch-7.",
      "1 of 3 hosts READY.",
    ]);
    expect(report.totals).toEqual({ v1: 1, v2: 2, tokenRequests: 1 });
    expect(report.window).toEqual({ start: timeAt(0), end: timeAt(3 * 86_400), durationSeconds: 3 * 86_400, includesBoot: null });
    expect(report.capture.framesDropped).toBe(12);
    expect(report.capture.framesRead).toBe(3000);
    // Per host commands carry the instance id; the fleet's has the placeholder.
    expect(report.hosts[2]!.enforcement.commands).toEqual([
      "aws ec2 modify-instance-metadata-options --instance-id i-0bbbbbbbbbbbbbbbb --http-tokens required",
    ]);
    expect(report.enforcement.commands).toEqual(["aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required"]);
    expect(report.callers.map((caller) => [caller.host, caller.reason])).toEqual([
      ["i-0aaaaaaaaaaaaaaaa", "sdk-too-old"],
      ["batch-7", null],
      ["i-0bbbbbbbbbbbbbbbb", null],
    ]);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain("| `i-0aaaaaaaaaaaaaaaa` | NOT READY | 1 | 0 | 0 | 1 | 1 IMDSv1 caller |");
    expect(markdown).toContain("| `batch-7` | UNKNOWN | 0 | 1 | 0 | - | packets dropped |");
    expect(markdown).toContain("Fleet of 3 hosts: 1 NOT READY, 1 UNKNOWN, 1 READY.");
    expect(markdown).toContain("| packets dropped | 1 | `batch-7` |");
    expect(report.hosts.map((host) => host.unknownCauses)).toEqual([[], ["packets-dropped"], []]);
    expect(report.fixes.map((fix) => [fix.reason, fix.hostCount, fix.exampleHosts])).toEqual([["sdk-too-old", 1, ["i-0aaaaaaaaaaaaaaaa"]]]);
  });

  it("is UNKNOWN when no host is NOT_READY but one is UNKNOWN, READY when all are", () => {
    expect(fleet(["db", "batch"]).build().verdict).toBe("UNKNOWN");
    expect(fleet(["db"]).build().verdict).toBe("READY");
  });

  it("counts hosts beyond the host limit in the totals and the verdict", () => {
    const builder = new ReportBuilder({ limits: { maxHosts: 1 } });
    builder.addEvent(event({ kind: "v2" }), "a");
    builder.addSummary(liveSummary(), "a");
    builder.addEvent(event({ kind: "v1" }), "b");
    const report = builder.build();
    expect(report.hosts.map((host) => host.host)).toEqual(["a"]);
    expect(report.untrackedHostCalls).toEqual({ v1: 1, v2: 0, tokenRequests: 0 });
    expect(report.totals).toEqual({ v1: 1, v2: 1, tokenRequests: 0 });
    expect(report.verdict).toBe("NOT_READY");
    expect(report.verdictReasons).toContain("1 IMDSv1 call came from hosts beyond the host limit (not listed).");
  });

  it("merges 1,000,000 events from 1,000 hosts in bounded memory", { timeout: 180_000 }, () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const builder = new ReportBuilder();
    const hostNames = Array.from({ length: 1000 }, (_, index) => `host-${index}`);
    const instanceIds = Array.from({ length: 1000 }, (_, index) => `i-${index.toString(16).padStart(17, "0")}`);
    const clientIps = Array.from({ length: 10 }, (_, index) => `10.0.${index}.1`);
    const kinds = ["v1", "v2", "token-request"] as const;
    // One event object, changed in place: the builder must copy what it keeps.
    const reused = { ...event() } as MutableEvent;
    let heapAfterWarmUp = 0;
    const total = 1_000_000;
    for (let index = 0; index < total; index++) {
      const host = index % 1000;
      const round = Math.floor(index / 1000);
      reused.kind = kinds[index % 3]!;
      reused.time = new Date(baseTimeMs + index * 100).toISOString();
      reused.clientIp = clientIps[round % 10]!;
      // Hosts 0-4 also see a new client every time: far beyond the per-host caller limit.
      reused.userAgent = host < 5 ? `agent/${round}` : "aws-sdk-go/1.44.0 (go1.20; linux; amd64)";
      // A new path for every call of a caller: far beyond the per-caller path limit.
      reused.path = `/latest/meta-data/item-${round}`;
      reused.status = index % 7 === 0 ? 401 : 200;
      // From round 150 on each host's events carry its instance id: the host is renamed to it.
      reused.instanceId = round >= 150 ? instanceIds[host]! : null;
      builder.addEvent(reused, hostNames[host]!);
      if (index === 300_000) {
        gc();
        heapAfterWarmUp = process.memoryUsage().heapUsed;
      }
    }
    gc();
    const heapGrowthBytes = process.memoryUsage().heapUsed - heapAfterWarmUp;
    const report = builder.build();

    // Every cap was reached by the warm-up; 700,000 more events must not grow the heap.
    expect(heapGrowthBytes).toBeLessThan(16 * 1024 * 1024);
    expect(report.hosts).toHaveLength(1000);
    expect(report.totals.v1 + report.totals.v2 + report.totals.tokenRequests).toBe(total);
    expect(report.hosts.every((host) => host.verdict === "NOT_READY")).toBe(true);
    expect(report.hosts.every((host) => host.instanceId === host.host && host.hostname !== null)).toBe(true);
    const crowded = report.hosts.find((host) => host.hostname === "host-0")!;
    expect(crowded.host).toBe(instanceIds[0]);
    expect(crowded.callers).toBe(defaultReportLimits.maxCallersPerHost);
    expect(crowded.untrackedCalls.v1 + crowded.untrackedCalls.v2 + crowded.untrackedCalls.tokenRequests).toBe(1000 - 500);
    const quiet = report.callers.filter((caller) => caller.host === instanceIds[500]);
    expect(quiet).toHaveLength(10);
    expect(quiet.every((caller) => caller.paths.length === defaultReportLimits.maxPathsPerCaller && caller.otherPathCalls === 100 - 24)).toBe(true);
    expect(quiet.every((caller) => caller.reason === "fallback" && caller.timeline !== null)).toBe(true);
    expect(report.callers).toHaveLength(995 * 10 + 5 * 500);

    // The fix list: the 995 quiet hosts share one fix (one SDK, same reason); each crowded
    // host's 500 agents are fixes of their own (a new User-Agent each), counted beyond the limit.
    expect(report.fixes[0]).toMatchObject({ hostCount: 995, callerCount: 995 * 10, reason: "fallback" });
    // The renderers list the first hosts and callers and say how many more the JSON holds.
    const markdown = renderMarkdown(report);
    expect(Buffer.byteLength(markdown)).toBeLessThan(300 * 1024);
    expect(markdown).toMatch(/\(\d+ more hosts, with every host's verdict reasons, in the JSON report, `hosts`\.\)/);
    const html = renderHtml(report);
    // Host rows until the page's share for them is spent; the rest counted, in the JSON.
    const hostRows = html.split("<tr data-search=").length - 1;
    expect(hostRows).toBeGreaterThan(500);
    if (hostRows < 1000) expect(html).toContain(`${1000 - hostRows} more hosts (the best verdicts) in the JSON report`);
    expect(html).toMatch(/\d+ more callers of this host in the JSON report\./);
    expect(Buffer.byteLength(html)).toBeLessThan(2_500_000);
  });
});
