/**
 * Every capture in captures/ was made by real tools (tcpdump, dumpcap) against the fake IMDS with
 * real clients (scripts/make-captures.sh); its expected events are the fake IMDS's own log of
 * what it received and answered. The analyzer must find exactly those requests, in order.
 *
 * A capture made with a small snaplen (`snaplen` in its expected file) holds only the start of
 * each request: the analyzer must still report every request, but classify only what the cut
 * part proves (token requests by their request line), count none as v1 or v2, and say first
 * that packets were cut at that length and how to recapture.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../src/analyze.js";
import type { ImdsEvent } from "../src/events.js";
import { formatSummaryText } from "../src/sink/summary-text.js";

const capturesDirectory = join(import.meta.dirname, "..", "captures");

/** The instance id the fake IMDS gives out (test/fake-imds/fake-imds.mjs). */
const fakeInstanceId = "i-0123456789abcdef0";
const identityPaths = new Set([
  "/latest/meta-data/instance-id",
  "/latest/dynamic/instance-identity/document",
]);

/**
 * Ground truth for `instanceId`: null until the first answered (200) GET of an identity path,
 * the fake IMDS's id from that call's own event on (its event waits for the body it fetched).
 */
function expectedInstanceIds(events: readonly Record<string, unknown>[]): (string | null)[] {
  const first = events.findIndex((event) => event["method"] === "GET" && event["status"] === 200 && identityPaths.has(event["path"] as string));
  return events.map((_, index) => (first >= 0 && index >= first ? fakeInstanceId : null));
}

interface ExpectedCapture {
  readonly capture: string;
  readonly format: string;
  readonly frames: number;
  /** Every frame was cut at this length (a small snaplen); absent for whole captures. */
  readonly snaplen?: number;
  readonly counts: Record<string, number>;
  readonly events: readonly Record<string, unknown>[];
}

const expectations = readdirSync(capturesDirectory)
  .filter((name) => name.endsWith(".expected.json"))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(capturesDirectory, name), "utf8")) as ExpectedCapture);

describe("golden captures", () => {
  it("exist", () => {
    expect(expectations.length).toBeGreaterThanOrEqual(10);
  });

  it("include answered identity calls, so the instance id check is not vacuous", () => {
    const withId = expectations.filter((expected) => expectedInstanceIds(expected.events).includes(fakeInstanceId));
    expect(withId.map((expected) => expected.capture)).toEqual(expect.arrayContaining([
      "curl-v1-v2-lo.pcap",
      "keepalive-pipelined-lo.pcap",
      "python-urllib-v1-any-sll.pcap",
      "tokens-required-any.pcap",
    ]));
  });

  const whole = expectations.filter((expected) => expected.snaplen === undefined);
  const cut = expectations.filter((expected) => expected.snaplen !== undefined);

  it("include a capture cut by a small snaplen", () => {
    expect(cut.map((expected) => expected.capture)).toContain("curl-snaplen96-lo.pcap");
  });

  it.each(whole.map((expected) => [expected.capture, expected] as const))("%s", async (_name, expected) => {
    const path = join(capturesDirectory, expected.capture);
    const events: ImdsEvent[] = [];
    const { summary, hadErrors } = await analyzeCaptures([path], { onEvent: (event) => events.push(event) });
    expect(hadErrors).toBe(false);
    expect(summary.sources[0]).toMatchObject({ format: expected.format, frames: expected.frames, truncated: null, error: null });
    // Compare every field the ground truth knows, event by event, in order.
    const actual = events.map((event) => {
      const picked: Record<string, unknown> = {};
      for (const key of Object.keys(expected.events[0] ?? {})) picked[key] = event[key as keyof ImdsEvent];
      return picked;
    });
    expect(actual).toEqual(expected.events);
    const instanceIds = expectedInstanceIds(expected.events);
    expect(events.map((event) => event.instanceId)).toEqual(instanceIds);
    expect(summary.instanceId).toBe(instanceIds.includes(fakeInstanceId) ? fakeInstanceId : null);
    expect(summary.sources[0]?.instanceId).toBe(summary.instanceId);
    // Offline events never name a host; the instance id is the host's identity.
    for (const event of events) expect(event.host).toBeNull();
    // Every head was seen whole.
    for (const event of events) expect(event.incomplete).toBeNull();
    expect(summary.requests.unclassified).toBe(0);
    expect(summary.incompleteRequests?.total).toBe(0);
    expect({
      "token-request": summary.requests.tokenRequests,
      v2: summary.requests.v2,
      v1: summary.requests.v1,
    }).toEqual(expected.counts);
    // Capture order: frame numbers never go back (pipelined requests share one), all from this file.
    for (let index = 1; index < events.length; index++) expect(events[index]!.frame).toBeGreaterThanOrEqual(events[index - 1]!.frame);
    for (const event of events) expect(event.source).toBe(path);
    // Nothing the analyzer could not parse in captures made by real tools.
    const counters = summary.diagnostics.counters;
    expect([counters.httpRequestErrors, counters.httpResponseErrors, counters.framesMalformed, counters.gaps]).toEqual([
      undefined, undefined, undefined, undefined,
    ]);
  });

  it.each(cut.map((expected) => [expected.capture, expected] as const))("%s (cut by the snaplen)", async (_name, expected) => {
    const snaplen = expected.snaplen!;
    const path = join(capturesDirectory, expected.capture);
    const events: ImdsEvent[] = [];
    const { summary, hadErrors } = await analyzeCaptures([path], { onEvent: (event) => events.push(event) });
    expect(hadErrors).toBe(false);
    expect(summary.sources[0]).toMatchObject({ format: expected.format, frames: expected.frames, truncated: null, error: null });
    // Every request the fake IMDS received is reported, in order, as far as the cut part proves.
    const truth = expected.events;
    expect(events.map((event) => [event.method, event.clientPort, event.requestOnConnection])).toEqual(
      truth.map((request) => [request["method"], request["clientPort"], request["requestOnConnection"]]),
    );
    expect(events.map((event) => event.kind)).toEqual(truth.map((request) => (request["kind"] === "token-request" ? "token-request" : "unclassified")));
    for (const [index, event] of events.entries()) {
      const truePath = truth[index]!["path"] as string;
      expect(truePath.startsWith(event.path)).toBe(true);
      if (event.incomplete?.pathComplete === true) expect(event.path).toBe(truePath);
      expect(event.incomplete).toMatchObject({ cause: "snaplen", snaplen, parseError: null });
      // Nothing from the lost headers is made up.
      expect([event.userAgent, event.tokenTtlSeconds, event.forwardedFor, event.status]).toEqual([null, null, false, null]);
    }
    const unclassified = (expected.counts["v1"] ?? 0) + (expected.counts["v2"] ?? 0);
    expect(unclassified).toBeGreaterThan(0);
    expect(summary.requests).toEqual({
      total: truth.length,
      v1: 0,
      v2: 0,
      tokenRequests: expected.counts["token-request"],
      unclassified,
    });
    expect(summary.incompleteRequests).toMatchObject({ total: truth.length, unclassified, snaplenBytes: snaplen });
    expect(summary.incompleteRequests?.unclassifiedByCause.snaplen).toBe(unclassified);
    // The summary says so on its first lines, with the length and how to recapture.
    const firstLines = formatSummaryText(summary).split("\n").slice(0, 3).join("\n");
    expect(firstLines).toContain(`${unclassified} of ${truth.length} IMDS requests could not be classified`);
    expect(firstLines).toContain(`cut at ${snaplen} bytes`);
    expect(firstLines).toContain("-s 0");
  });
});
