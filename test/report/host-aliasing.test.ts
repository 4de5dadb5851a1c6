/**
 * Hosts are identified by the instance id IMDS gave out when any of their events or summaries
 * carries one, else by host name, else by file name; events counted under a name before the id
 * was known join the id's host, in bounded memory.
 */
import { describe, expect, it } from "vitest";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { parseEventRecord, parseSummaryRecord } from "../../src/report/event-record.js";
import { renderHtml } from "../../src/report/render-html.js";
import { renderMarkdown } from "../../src/report/render-markdown.js";
import type { ImdsReport } from "../../src/report/types.js";
import { attributedOk, event, liveSummary, offlineSummary, processInfo, timeAt } from "./event-factory.js";

const idA = "i-0aaaaaaaaaaaaaaaa";
const idB = "i-0bbbbbbbbbbbbbbbb";
const enforce = (instanceId: string): string => `aws ec2 modify-instance-metadata-options --instance-id ${instanceId} --http-tokens required`;

function hostsOf(report: ImdsReport): [string, string | null, string | null, number, number, number][] {
  return report.hosts.map((host) => [host.host, host.instanceId, host.hostname, host.totals.v1, host.totals.v2, host.totals.tokenRequests]);
}

describe("host identity by instance id", () => {
  it("live: events before the id (host name only) and after it (id) are one host, shown as id (host name)", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v1", host: "web-1", time: timeAt(0) }), "local");
    builder.addEvent(event({ kind: "token-request", host: "web-1", time: timeAt(1) }), "local");
    builder.addEvent(event({ kind: "v2", host: "web-1", instanceId: idA, time: timeAt(2) }), "local");
    builder.addEvent(event({ kind: "v2", host: "web-1", instanceId: idA, time: timeAt(3) }), "local");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([[idA, idA, "web-1", 1, 2, 1]]);
    expect(report.callers.map((caller) => [caller.host, caller.v1, caller.v2, caller.tokenRequests])).toEqual([[idA, 1, 2, 1]]);
    expect(report.window).toMatchObject({ start: timeAt(0), end: timeAt(3) });
    expect(report.enforcement.commands).toEqual([enforce(idA)]);
    expect(renderMarkdown(report)).toContain(`Host: \`${idA} (web-1)\``);
    expect(renderHtml(report)).toContain(`<p>Host: <code>${idA} (web-1)</code></p>`);
  });

  it("offline: a file's events before the id join it; the file name is the host name", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v1" }), "capture-a");
    builder.addEvent(event({ kind: "v2", instanceId: idA }), "capture-a");
    builder.addSummary(offlineSummary({ instanceId: idA }), "capture-a");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([[idA, idA, "capture-a", 1, 1, 0]]);
    expect(report.hosts[0]!.capture.framesRead).toBe(10);
  });

  it("merges a name's host into an id host that already existed when the alias appeared", () => {
    const builder = new ReportBuilder();
    // A second file of the same instance: its first events (name only) come after the id host exists.
    builder.addEvent(event({ kind: "v2", instanceId: idA, time: timeAt(10) }), "day-1");
    builder.addEvent(event({ kind: "v1", time: timeAt(20), userAgent: "Wget/1.21.3" }), "day-2");
    builder.addEvent(event({ kind: "v1", time: timeAt(21) }), "day-2");
    builder.addSourceError("day-2", "day-2.ndjson: cut short");
    builder.addEvent(event({ kind: "v2", instanceId: idA, time: timeAt(30) }), "day-2");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([[idA, idA, "day-1", 2, 2, 0]]);
    // The same caller (address + User-Agent) under both names is one caller.
    expect(report.callers.map((caller) => [caller.host, caller.userAgents[0], caller.v1, caller.v2, caller.firstSeen, caller.lastSeen])).toEqual([
      [idA, "curl/7.88.1", 1, 2, timeAt(10), timeAt(30)],
      [idA, "Wget/1.21.3", 1, 0, timeAt(20), timeAt(20)],
    ]);
    expect(report.hosts[0]!.capture.sourceErrors).toEqual(["day-2.ndjson: cut short"]);
    expect(report.hosts[0]!.window).toMatchObject({ start: timeAt(10), end: timeAt(30) });
    expect(report.verdict).toBe("NOT_READY");
    expect(report.enforcement.commands).toEqual([enforce(idA)]);
    // Building again changes nothing.
    expect(builder.build()).toEqual(report);
  });

  it("merges process callers and their timelines when a live host's early events are merged", () => {
    const builder = new ReportBuilder();
    const process = processInfo();
    builder.addEvent(event({ kind: "v2", host: "web-1", instanceId: idA, time: timeAt(7200), process, attribution: attributedOk }), "x");
    builder.addEvent(event({ kind: "v1", host: "web-1", time: timeAt(0), process, attribution: attributedOk }), "x");
    builder.addEvent(event({ kind: "v1", host: "web-1", time: timeAt(60), process: { ...process, pid: 7 }, attribution: attributedOk }), "x");
    const report = builder.build();
    expect(report.callers).toHaveLength(1);
    const caller = report.callers[0]!;
    expect([caller.host, caller.v1, caller.v2, caller.process?.pids]).toEqual([idA, 2, 1, [4242, 7]]);
    const timeline = caller.timeline!;
    expect(timeline.v1.reduce((sum, count) => sum + count, 0)).toBe(2);
    expect(timeline.v2.reduce((sum, count) => sum + count, 0)).toBe(1);
    expect(report.hosts[0]!.capture.attributionCoverage).toBe(1);
  });

  it("a summary with the instance id names the host of the events before it", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v2", host: "web-1" }), "web-1");
    builder.addSummary(liveSummary({ windowIncludesBoot: true }, { v1: 0, v2: 1, tokenRequests: 0 }), "web-1");
    builder.addSummary({ ...liveSummary({ windowIncludesBoot: true }, { v1: 0, v2: 1, tokenRequests: 0 }), instanceId: idA }, "web-1");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([[idA, idA, "web-1", 0, 1, 0]]);
    expect(report.hosts[0]!.window.includesBoot).toBe(true);
  });

  it("two instances: each is its own host, and the fleet lists them by label", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v1", host: "web-1", instanceId: idA }), "a");
    builder.addEvent(event({ kind: "v2", host: "web-2", instanceId: idB }), "b");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([
      [idA, idA, "web-1", 1, 0, 0],
      [idB, idB, "web-2", 0, 1, 0],
    ]);
    expect(report.verdictReasons[0]).toBe(`1 of 2 hosts NOT READY: ${idA} (web-1).`);
    expect(report.hosts.map((host) => host.enforcement.commands)).toEqual([[enforce(idA)], [enforce(idB)]]);
    // The fleet's command keeps the placeholder: one command per host is not one command.
    expect(report.enforcement.commands).toEqual([enforce("INSTANCE_ID")]);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain(`| \`${idA} (web-1)\` | NOT READY |`);
    expect(markdown).toContain(`| 1 | \`curl: IMDSv1 calls written without a token\` | no token support | 1 | 1 | no |`);
  });

  it("a host name shared by two instances is ambiguous: its name-only events are given to neither", () => {
    const builder = new ReportBuilder();
    // Host A: its early events are renamed to its id when the id appears (the usual order).
    builder.addEvent(event({ kind: "v2", host: "localhost", time: timeAt(0) }), "a");
    builder.addEvent(event({ kind: "v2", host: "localhost", instanceId: idA, time: timeAt(1) }), "a");
    // Host B, same host name: its early events cannot be told apart from another instance's.
    builder.addEvent(event({ kind: "v1", host: "localhost", time: timeAt(2) }), "b");
    builder.addEvent(event({ kind: "v2", host: "localhost", instanceId: idB, time: timeAt(3) }), "b");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([
      ["localhost", null, "localhost", 1, 0, 0],
      [idA, idA, "localhost", 0, 2, 0],
      [idB, idB, "localhost", 0, 1, 0],
    ]);
    expect(report.hosts[0]!.enforcement.commands).toEqual([enforce("INSTANCE_ID")]);
  });

  it("ignores an instanceId that is not strictly an instance id", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ instanceId: "i-0AAAAAAAAAAAAAAAA" }), "a");
    builder.addEvent(event({ instanceId: "i-0aaaaaaaaaaaaaaaa; rm -rf /" }), "a");
    builder.addSummary({ ...offlineSummary(), instanceId: "$(reboot)" }, "a");
    const report = builder.build();
    expect(hostsOf(report)).toEqual([["a", null, "a", 2, 0, 0]]);
    expect(report.enforcement.commands).toEqual([enforce("INSTANCE_ID")]);
  });

  it("a host named by an instance id keeps working without instanceId fields", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v1" }), idA);
    const report = builder.build();
    expect(hostsOf(report)).toEqual([[idA, idA, null, 1, 0, 0]]);
    expect(report.enforcement.commands).toEqual([enforce(idA)]);
  });
});

describe("includesBoot", () => {
  const readyInput = (builder: ReportBuilder, host: string, windowIncludesBoot: boolean | null | undefined): void => {
    builder.addEvent(event({ kind: "v2", host, attribution: attributedOk, process: processInfo() }), host);
    const overrides = windowIncludesBoot === undefined ? {} : { windowIncludesBoot, bootTime: timeAt(-60) };
    builder.addSummary(liveSummary(overrides, { v1: 0, v2: 1, tokenRequests: 0 }), host);
  };

  it("a long window through a boot is READY and says the boot was watched", () => {
    const builder = new ReportBuilder();
    readyInput(builder, "web-1", true);
    const report = builder.build();
    expect(report.verdict).toBe("READY");
    expect(report.window.includesBoot).toBe(true);
    expect(report.verdictReasons.at(-1)).toBe(
      "The window included a boot (the capture started within 10 min of it): boot-time callers (cloud-init, agents starting) were watched.",
    );
    expect(renderMarkdown(report)).toContain("| Boot in window | yes (the capture started within 10 min of a boot) |");
    expect(renderHtml(report)).toContain("<tr><th>Boot in window</th><td>yes (the capture started within 10 min of a boot)</td></tr>");
  });

  it("a long window without a boot is still READY, with the caveat", () => {
    const builder = new ReportBuilder();
    readyInput(builder, "web-1", false);
    const report = builder.build();
    expect(report.verdict).toBe("READY");
    expect(report.window.includesBoot).toBe(false);
    expect(report.verdictReasons.at(-1)).toMatch(/^The window did not include a boot: boot-time-only callers \(cloud-init, agents starting\) may not have been observed/);
    expect(renderMarkdown(report)).toContain("| Boot in window | no: boot-time-only callers (cloud-init, agents starting) may not have been observed |");
  });

  it("older summaries and offline analysis: unknown, said so", () => {
    const builder = new ReportBuilder();
    readyInput(builder, "web-1", undefined);
    const report = builder.build();
    expect(report.verdict).toBe("READY");
    expect(report.window.includesBoot).toBeNull();
    expect(report.verdictReasons.at(-1)).toMatch(/^Whether the window included a boot is unknown/);
    const offline = new ReportBuilder();
    offline.addEvent(event(), "x");
    offline.addSummary(offlineSummary(), "x");
    expect(offline.build().window.includesBoot).toBeNull();
  });

  it("a short window stays UNKNOWN whatever the boot", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v2" }), "web-1");
    builder.addSummary(liveSummary({ stoppedAt: timeAt(600), durationSeconds: 600, windowIncludesBoot: true }), "web-1");
    const report = builder.build();
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.window.includesBoot).toBe(true);
  });

  it("any capture of a host through a boot counts; the fleet needs every host to have one", () => {
    const builder = new ReportBuilder();
    readyInput(builder, "web-1", false);
    readyInput(builder, "web-1", true);
    readyInput(builder, "web-2", true);
    expect(builder.build().window.includesBoot).toBe(true);
    readyInput(builder, "web-3", false);
    const report = builder.build();
    expect(report.hosts.map((host) => [host.host, host.window.includesBoot])).toEqual([
      ["web-1", true],
      ["web-2", true],
      ["web-3", false],
    ]);
    expect(report.window.includesBoot).toBe(false);
  });
});

describe("event and summary records", () => {
  it("accept instanceId absent, null or a string, and summaries' boot fields; reject other types", () => {
    const { instanceId: _dropped, ...older } = event();
    expect(typeof parseEventRecord(older)).toBe("object");
    expect(typeof parseEventRecord(event({ instanceId: idA }))).toBe("object");
    // A string that is not an instance id parses (the report ignores it), a number does not.
    expect(typeof parseEventRecord(event({ instanceId: "web-1" }))).toBe("object");
    expect(parseEventRecord({ ...event(), instanceId: 42 })).toBe('field "instanceId" is missing or has the wrong type');
    expect(typeof parseSummaryRecord(liveSummary({ bootTime: timeAt(0), windowIncludesBoot: false }))).toBe("object");
    expect(parseSummaryRecord({ ...liveSummary(), instanceId: 1 })).toBe('field "instanceId" is missing or has the wrong type');
    expect(parseSummaryRecord(liveSummary({ windowIncludesBoot: "yes" as never }))).toBe('field "live" is missing or has the wrong type');
  });
});
