import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import type { ReportOptions } from "../../src/report/aggregate.js";
import type { CallerReport, ImdsReport } from "../../src/report/types.js";
import { attributedOk, attributionFailed, containerInfo, event, liveSummary, offlineSummary, processInfo, timeAt } from "./event-factory.js";

function build(events: readonly ImdsEvent[], options: ReportOptions & { summary?: Parameters<ReportBuilder["addSummary"]>[0] } = {}): ImdsReport {
  const builder = new ReportBuilder(options);
  for (const item of events) builder.addEvent(item, "web-1");
  if (options.summary) builder.addSummary(options.summary, "web-1");
  return builder.build();
}

function only(report: ImdsReport): CallerReport {
  expect(report.callers).toHaveLength(1);
  return report.callers[0]!;
}

/** A healthy two-day live capture of one host, so verdicts depend on the calls alone. */
const healthyLive = liveSummary();

describe("verdict", () => {
  it("is READY for IMDSv2-only calls in a long, healthy live capture, stating window and health", () => {
    const report = build(
      [
        event({ kind: "token-request", time: timeAt(60), userAgent: "aws-cli/2.15.0", attribution: attributedOk, process: processInfo() }),
        event({ kind: "v2", time: timeAt(61), userAgent: "aws-cli/2.15.0", attribution: attributedOk, process: processInfo() }),
      ],
      { summary: healthyLive },
    );
    expect(report.verdict).toBe("READY");
    expect(report.verdictReasons).toEqual([
      `No IMDSv1 calls in 2 d (${timeAt(0)} to ${timeAt(172_800)}): 1 IMDSv2 call and 1 token request from 1 caller.`,
      "Packets dropped: 0.",
      "Attribution: 100% of live calls named their process.",
      "Whether the window included a boot is unknown (no live capture summary says so): boot-time-only callers (cloud-init, agents starting) may not have been observed.",
    ]);
    expect(report.window).toEqual({ includesBoot: null, start: timeAt(0), end: timeAt(172_800), durationSeconds: 172_800 });
    expect(report.capture).toEqual({
      framesRead: 1000,
      framesDropped: 0,
      attributionCoverage: 1,
      malformedLines: 0,
      possiblyMissedRequests: 0,
      framesSnaplenCut: 0,
      eventsNotWritten: 0,
      secondsWithoutCapture: 0,
      sourceErrors: [],
      unclassifiedRequests: { total: 0, byCause: { snaplen: 0, gap: 0, ended: 0, "parse-error": 0 }, snaplenBytes: null, examples: [] },
    });
    expect(report.enforcement).toEqual({
      commands: ["aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required"],
      hopLimitNeeded: false,
      tokensAlreadyRequired: false,
    });
  });

  it("is READY with no IMDS calls at all in a long, healthy live capture", () => {
    const report = build([], { summary: healthyLive });
    expect(report.verdict).toBe("READY");
    expect(report.verdictReasons[0]).toBe(`No IMDS calls at all in 2 d (${timeAt(0)} to ${timeAt(172_800)}).`);
  });

  it("is UNKNOWN when nothing was observed", () => {
    const report = build([], { summary: offlineSummary() });
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.verdictReasons[0]).toBe("Nothing was observed: no IMDS calls, and no live capture summary says how long was watched.");
    expect(new ReportBuilder().build().verdict).toBe("UNKNOWN");
  });

  it("is UNKNOWN when packets were dropped, and says how many", () => {
    const report = build([event({ kind: "v2", time: timeAt(5) })], { summary: liveSummary({ packetsDroppedByKernel: 7, packetsDroppedByInterface: 2 }) });
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.verdictReasons).toContain("9 packets were dropped by the kernel or interface: they may have held IMDSv1 calls.");
    expect(report.capture.framesDropped).toBe(9);
  });

  it("is UNKNOWN when the window is shorter than the minimum, READY when it is not", () => {
    const calls = [event({ kind: "v2", time: timeAt(0) }), event({ kind: "v2", time: timeAt(3600) })];
    const short = build(calls);
    expect(short.verdict).toBe("UNKNOWN");
    expect(short.verdictReasons[0]).toBe(
      "No IMDSv1 calls seen, but the window (1 h) is shorter than 1 d: boot-time, daily and credential-refresh callers may not have run (capture from boot for at least 1 d).",
    );
    // Offline (drops unknown) with a long enough window: READY, saying drops are unknown.
    const enough = build(calls, { minimumWindowSeconds: 3600 });
    expect(enough.verdict).toBe("READY");
    expect(enough.verdictReasons).toContain("Packet drops unknown: capture files do not record them (tcpdump prints its drop count when it stops).");
    expect(enough.verdictReasons).toContain("No process attribution (offline analysis): callers are known by client address and User-Agent.");
  });

  it("is UNKNOWN when event lines were malformed, sources failed or traffic was lost", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v2" }), "web-1");
    builder.addSummary(healthyLive, "web-1");
    builder.addMalformedLine({ path: "web-1.ndjson", line: 7, problem: "not JSON" }, "web-1");
    builder.addSourceError("web-1", "web-1.ndjson: cannot read events: EIO");
    builder.addSummary(offlineSummary({ diagnostics: { counters: { gaps: 2, httpRequestErrors: 1 }, warnings: [] } }), "web-1");
    const report = builder.build();
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.verdictReasons.slice(0, 3)).toEqual([
      "1 malformed event line was skipped: they may have held IMDSv1 calls.",
      "1 source could not be read to the end: web-1.ndjson: cannot read events: EIO.",
      "The analysis lost track of some IMDS traffic (3 TCP gaps, unparsable requests, evicted connections or requests seen only by their response): IMDSv1 calls may be missing.",
    ]);
    expect(report.malformedLines).toEqual([{ path: "web-1.ndjson", line: 7, problem: "not JSON" }]);
  });

  it("is UNKNOWN when a live capture lost events or was interrupted, and counts the addon's drops and cut frames", () => {
    const summary = liveSummary({ packetsDroppedByAddon: 3, eventsNotWritten: 4, interruptions: { count: 1, secondsDown: 90, lastError: "gone" } });
    const report = build([event({ kind: "v2", time: timeAt(5) })], {
      summary: { ...summary, diagnostics: { counters: { framesSnaplenCut: 6 }, warnings: [] } },
      minimumWindowSeconds: 1,
    });
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.verdictReasons).toEqual(expect.arrayContaining([
      "3 packets were dropped by the kernel or interface: they may have held IMDSv1 calls.",
      "4 events were not written (the events file could not take them): they may have been IMDSv1 calls.",
      "The capture was interrupted for 1 min 30 s (the interface went down or away): calls then were not seen.",
    ]));
    expect(report.capture).toMatchObject({ framesDropped: 3, framesSnaplenCut: 6, eventsNotWritten: 4, secondsWithoutCapture: 90 });
  });

  it("is UNKNOWN when a live capture ended on an error, and names it", () => {
    const report = build([event({ kind: "v2", time: timeAt(5) })], {
      summary: liveSummary({ errors: ["internal error in packet processing: TypeError: x is not a function; the capture stopped"] }),
      minimumWindowSeconds: 1,
    });
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.verdictReasons).toContain(
      "1 source could not be read to the end: live capture on any: internal error in packet processing: TypeError: x is not a function; the capture stopped.",
    );
  });

  it("is NOT_READY as soon as one IMDSv1 call is known, even with dropped packets", () => {
    const report = build([event({ kind: "v1" })], { summary: liveSummary({ packetsDroppedByKernel: 100 }) });
    expect(report.verdict).toBe("NOT_READY");
    expect(report.verdictReasons[0]).toBe("1 IMDSv1 call from 1 caller must change first: 10.0.0.10 curl/7.88.1 (no-token-support, 1 v1).");
  });

  it("is NOT_READY when a summary counts IMDSv1 calls the events do not hold", () => {
    const report = build([event({ kind: "v2" })], { summary: liveSummary({}, { v1: 4, v2: 1, tokenRequests: 0 }) });
    expect(report.verdict).toBe("NOT_READY");
    expect(report.verdictReasons[0]).toBe("The analysis summaries count 4 IMDSv1 calls but the events given hold 0: give every event file to see all callers.");
  });

  it("says when tokens are already required (every IMDSv1 call got 401)", () => {
    const report = build([event({ kind: "v1", status: 401 }), event({ kind: "v1", status: 401, path: "/latest/meta-data/iam/security-credentials/" })]);
    expect(report.enforcement.tokensAlreadyRequired).toBe(true);
    expect(only(report).advice).toMatch(/^Fails today \(IMDS answers its IMDSv1 calls with 401: tokens are required\): curl makes/);
    const mixed = build([event({ kind: "v1", status: 401 }), event({ kind: "v1", status: 200 })]);
    expect(mixed.enforcement.tokensAlreadyRequired).toBe(false);
  });

  it("puts the instance id into the commands only when the host is an instance id", () => {
    const builder = new ReportBuilder();
    builder.addEvent(event({ kind: "v2" }), "i-0123456789abcdef0");
    expect(builder.build().enforcement.commands).toEqual([
      "aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required",
    ]);
    const hostile = new ReportBuilder();
    hostile.addEvent(event({ kind: "v2" }), "i-0123456789abcdef0; rm -rf /");
    expect(hostile.build().enforcement.commands).toEqual(["aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required"]);
  });
});

describe("why a caller uses IMDSv1", () => {
  const cli1 = "aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44-fc-v657 botocore/1.43.11";

  it("sdk-too-old names the version to upgrade to", () => {
    const caller = only(build([event({ kind: "v1", userAgent: "Botocore/1.12.0 Python/2.7.5 Linux/3.10.0-1160.el7.x86_64" })]));
    expect([caller.reason, caller.fallbackCause, caller.sdk?.supportsImdsV2]).toEqual(["sdk-too-old", null, false]);
    expect(caller.advice).toBe(
      "botocore 1.12.0 predates IMDSv2 support (minimum 1.13.25): upgrade it to botocore 1.13.25 or later (it calls from 10.0.0.10; a live capture would name the process).",
    );
  });

  it("fallback after a token PUT refused for X-Forwarded-For points at the proxy", () => {
    const caller = only(
      build([
        event({ kind: "token-request", status: 403, forwardedFor: true, userAgent: cli1, time: timeAt(0) }),
        event({ kind: "v1", userAgent: cli1, time: timeAt(1), path: "/latest/meta-data/iam/security-credentials/" }),
      ]),
    );
    expect([caller.reason, caller.fallbackCause, caller.credentialPaths]).toEqual(["fallback", "put-forwarded-for", true]);
    expect(caller.advice).toContain("NO_PROXY=169.254.169.254");
  });

  it("fallback is found whatever order the events arrive in (files of a host in any order)", () => {
    const put = event({ kind: "token-request", status: 404, userAgent: cli1, time: timeAt(10) });
    const get = event({ kind: "v1", userAgent: cli1, time: timeAt(11) });
    for (const order of [[put, get], [get, put]]) {
      expect([only(build(order)).reason, only(build(order)).fallbackCause]).toEqual(["fallback", "put-404"]);
    }
    // IMDSv1 calls only before the failed PUT are not a fallback from it: the SDK still supports v2.
    const before = only(build([event({ kind: "v1", userAgent: cli1, time: timeAt(1) }), { ...put, time: timeAt(50) }]));
    expect([before.reason, before.fallbackCause]).toEqual(["fallback", "put-not-seen"]);
  });

  it("fallback from an unanswered PUT in a container names the hop limit, on the instance it does not", () => {
    const inContainer = processInfo({ container: containerInfo("docker", "0123456789abcdef0123456789abcdef"), systemdUnit: null });
    const calls = (process: ReturnType<typeof processInfo>): ImdsEvent[] => [
      event({ kind: "token-request", status: null, userAgent: null, process, attribution: attributedOk, time: timeAt(0) }),
      event({ kind: "v1", userAgent: null, process, attribution: attributedOk, time: timeAt(1) }),
    ];
    const container = build(calls(inContainer));
    const caller = only(container);
    expect([caller.reason, caller.fallbackCause, caller.inContainer]).toEqual(["fallback", "put-unanswered", true]);
    expect(caller.advice).toContain("it runs in docker container 0123456789ab, where a PUT response hop limit of 1 drops the answer");
    expect(caller.advice).toContain("the fix is the hop limit, not the SDK");
    expect(caller.caller).toEqual({ identifiedBy: "process", label: "/usr/bin/python3 /opt/app/sync.py [docker container 0123456789ab]" });
    expect(container.enforcement).toEqual({
      commands: [
        "aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-put-response-hop-limit 2",
        "aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required",
      ],
      hopLimitNeeded: true,
      tokensAlreadyRequired: false,
    });
    const onInstance = build(calls(processInfo()));
    expect(only(onInstance).inContainer).toBe(false);
    expect(only(onInstance).advice).toContain("the hop limit is not the cause");
    expect(onInstance.enforcement.hopLimitNeeded).toBe(false);
  });

  it("asks for the hop limit when a script in a container got no answer to its token PUT", () => {
    const script = processInfo({ container: containerInfo("containerd", "ab".repeat(32)), cmdline: ["/usr/bin/ec2-metadata", "-i"] });
    const report = build([
      event({ kind: "token-request", status: null, process: script, attribution: attributedOk, time: timeAt(0) }),
      event({ kind: "v1", process: script, attribution: attributedOk, time: timeAt(2) }),
    ]);
    expect(only(report).reason).toBe("no-token-support");
    expect(report.enforcement.hopLimitNeeded).toBe(true);
  });

  it("a token PUT whose answer could not be observed (packets lost, capture ended) is no evidence: no hop limit, its status is 'unseen'", () => {
    const inContainer = processInfo({ container: containerInfo("docker", "0123456789abcdef0123456789abcdef"), systemdUnit: null });
    const calls = (responseMissing: ImdsEvent["responseMissing"]): ImdsEvent[] => [
      event({ kind: "token-request", status: null, responseMissing, userAgent: null, process: inContainer, attribution: attributedOk, time: timeAt(0) }),
      event({ kind: "v1", userAgent: null, process: inContainer, attribution: attributedOk, time: timeAt(1) }),
    ];
    const unobserved = build(calls("unobserved"));
    // No User-Agent (the JS SDK v3 sends none, and so do scripts) and no known PUT outcome: unknown, said so.
    expect([only(unobserved).reason, only(unobserved).fallbackCause]).toEqual(["unknown", null]);
    expect(only(unobserved).advice).toContain("The answer to one of its token PUTs could not be observed (packets were lost or the capture ended first)");
    expect(only(unobserved).advice).not.toContain("hop limit");
    expect(only(unobserved).tokenRequestStatuses).toEqual({ unseen: 1 });
    expect(only(unobserved).statuses).toEqual({ "200": 1, unseen: 1 });
    expect(unobserved.enforcement.hopLimitNeeded).toBe(false);
    // The same PUT closed unanswered, or timed out, or from an event written before the field (null): the hop limit.
    for (const cause of ["no-answer", "timeout", null] as const) {
      const unanswered = build(calls(cause));
      expect([only(unanswered).fallbackCause, only(unanswered).tokenRequestStatuses, unanswered.enforcement.hopLimitNeeded]).toEqual(["put-unanswered", { none: 1 }, true]);
    }
  });

  it("fallback when the PUT was answered but the token never used (captured before the container's hop)", () => {
    const caller = only(
      build([
        event({ kind: "token-request", status: 200, userAgent: "aws-sdk-go/1.44.0 (go1.20; linux; amd64)" }),
        event({ kind: "v1", userAgent: "aws-sdk-go/1.44.0 (go1.20; linux; amd64)" }),
      ]),
    );
    expect([caller.reason, caller.fallbackCause]).toEqual(["fallback", "put-answer-lost"]);
  });

  it("no-token-support for hand-written calls points at the command line", () => {
    const curl = processInfo({ exe: "/usr/bin/curl", comm: "curl", cmdline: ["curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id"] });
    const caller = only(build([event({ kind: "v1", process: curl, attribution: attributedOk })]));
    expect(caller.reason).toBe("no-token-support");
    expect(caller.advice).toBe(
      "curl makes IMDSv1 calls written by hand (it runs as: curl -s http://169.254.169.254/latest/meta-data/instance-id): make the command fetch a token first (PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds) and send it as X-aws-ec2-metadata-token on every call.",
    );
  });

  it("unknown for an unrecognised client, and no reason without IMDSv1 calls", () => {
    expect(only(build([event({ kind: "v1", userAgent: "acme-agent/3.1" })])).reason).toBe("unknown");
    const v2Only = only(build([event({ kind: "v2", userAgent: "acme-agent/3.1" })]));
    expect([v2Only.reason, v2Only.advice]).toEqual([null, "Uses IMDSv2 only: nothing to change."]);
  });
});

describe("callers", () => {
  it("are one row per program live (many pids of a cron job), per address + User-Agent offline", () => {
    const run = (pid: number): ImdsEvent =>
      event({ kind: "v1", process: processInfo({ pid, cmdline: ["/bin/sh", "/etc/cron.hourly/report"] }), attribution: attributedOk });
    const report = build([
      run(100),
      run(200),
      run(300),
      event({ kind: "v1", clientIp: "10.0.0.11" }),
      event({ kind: "v1", clientIp: "10.0.0.11" }),
      event({ kind: "v1", clientIp: "10.0.0.11", userAgent: "Wget/1.21.3" }),
      // Live, but attribution failed: known by address.
      event({ kind: "v2", attribution: attributionFailed }),
    ]);
    expect(report.callers.map((caller) => [caller.caller.identifiedBy, caller.caller.label, caller.v1 + caller.v2])).toEqual([
      ["process", "/bin/sh /etc/cron.hourly/report [unit app-sync.service]", 3],
      ["client-address", "10.0.0.11 curl/7.88.1", 2],
      ["client-address", "10.0.0.11 Wget/1.21.3", 1],
      ["client-address", "10.0.0.10 curl/7.88.1", 1],
    ]);
    expect(report.callers[0]!.process?.pids).toEqual([100, 200, 300]);
    expect(report.capture.attributionCoverage).toBe(0.75);
  });

  it("count statuses per kind, first and last seen, and flag credential paths only for IMDSv1", () => {
    const report = build([
      event({ kind: "token-request", status: null, time: timeAt(3) }),
      event({ kind: "v2", status: 200, path: "/latest/meta-data/iam/security-credentials/role", time: timeAt(1) }),
      event({ kind: "v1", status: 401, path: "/latest/user-data", time: timeAt(7) }),
    ]);
    const caller = only(report);
    expect(caller.statuses).toEqual({ "200": 1, "401": 1, none: 1 });
    expect(caller.v1Statuses).toEqual({ "401": 1 });
    expect(caller.tokenRequestStatuses).toEqual({ none: 1 });
    expect([caller.firstSeen, caller.lastSeen]).toEqual([timeAt(1), timeAt(7)]);
    expect(caller.credentialPaths).toBe(false);
    expect(caller.paths.map((path) => [path.path, path.category])).toEqual([
      ["/latest/user-data", "user-data"],
      ["/latest/api/token", null],
      ["/latest/meta-data/iam/security-credentials/role", "credentials"],
    ]);
  });

  it("keep at most maxPathsPerCaller paths and count the rest", () => {
    const events = Array.from({ length: 30 }, (_, index) => event({ kind: "v1", path: `/latest/meta-data/item-${index}?q=${index}` }));
    events.push(event({ kind: "v1", path: "/latest/meta-data/iam/security-credentials/late" }));
    const caller = only(build(events, { limits: { maxPathsPerCaller: 5 } }));
    expect(caller.paths.map((path) => path.path)).toEqual([0, 1, 2, 3, 4].map((index) => `/latest/meta-data/item-${index}`));
    expect(caller.otherPathCalls).toBe(26);
    // A credential path beyond the limit is still flagged.
    expect(caller.credentialPaths).toBe(true);
  });

  it("beyond the caller limit are counted, still make the host NOT_READY, and are said to be unlisted", () => {
    const events = [event({ kind: "v2", clientIp: "10.0.0.1" }), event({ kind: "v1", clientIp: "10.0.0.2" }), event({ kind: "v1", clientIp: "10.0.0.3" })];
    const report = build(events, { limits: { maxCallersPerHost: 1 } });
    expect(report.callers).toHaveLength(1);
    expect(report.hosts[0]!.untrackedCalls).toEqual({ v1: 2, v2: 0, tokenRequests: 0 });
    expect(report.totals).toEqual({ v1: 2, v2: 1, tokenRequests: 0 });
    expect(report.verdict).toBe("NOT_READY");
    expect(report.verdictReasons[0]).toBe("2 IMDSv1 calls came from callers beyond the caller limit (not listed).");
    const mixed = build([event({ kind: "v1", clientIp: "10.0.0.1" }), event({ kind: "v1", clientIp: "10.0.0.2" })], { limits: { maxCallersPerHost: 1 } });
    expect(mixed.verdictReasons.slice(0, 2)).toEqual([
      "1 IMDSv1 call from 1 caller must change first: 10.0.0.1 curl/7.88.1 (no-token-support, 1 v1).",
      "1 further IMDSv1 call came from callers beyond the caller limit (not listed).",
    ]);
  });

  it("keep bounded copies of hostile command lines and User-Agents", () => {
    const huge = processInfo({ cmdline: ["/bin/x", "y".repeat(100_000), ...Array.from({ length: 500 }, () => "z")] });
    const report = build([event({ kind: "v1", process: huge, attribution: attributedOk, userAgent: "u".repeat(100_000) })]);
    const caller = only(report);
    expect(caller.process!.cmdline.join(" ").length).toBeLessThan(4200);
    expect(caller.process!.cmdline.at(-1)).toBe("...(500 more arguments)");
    expect(caller.userAgents[0]!.length).toBe(515);
  });

  it("do not hold on to the events given (one mutable event object reused)", () => {
    const reused = { ...event({ kind: "v1", path: "/a" }) } as { -readonly [K in keyof ImdsEvent]: ImdsEvent[K] };
    const builder = new ReportBuilder();
    builder.addEvent(reused, "h");
    reused.path = "/b";
    reused.kind = "v2";
    builder.addEvent(reused, "h");
    const caller = builder.build().callers[0]!;
    expect(caller.paths.map((path) => [path.path, path.v1, path.v2])).toEqual([["/a", 1, 0], ["/b", 0, 1]]);
  });
});

describe("hosts", () => {
  it("take the event's reserved host field over the host given", () => {
    const builder = new ReportBuilder();
    builder.addEvent({ ...event({ kind: "v1" }), host: "i-0aaaaaaaaaaaaaaaa" }, "fallback-name");
    builder.addEvent(event({ kind: "v2" }), "fallback-name");
    builder.addEvent({ ...event({ kind: "v2" }), host: "" }, "fallback-name");
    const report = builder.build();
    expect(report.hosts.map((host) => [host.host, host.totals])).toEqual([
      ["i-0aaaaaaaaaaaaaaaa", { v1: 1, v2: 0, tokenRequests: 0 }],
      ["fallback-name", { v1: 0, v2: 2, tokenRequests: 0 }],
    ]);
    expect(report.hosts[0]!.instanceId).toBe("i-0aaaaaaaaaaaaaaaa");
    expect(report.hosts[0]!.enforcement.commands).toEqual([
      "aws ec2 modify-instance-metadata-options --instance-id i-0aaaaaaaaaaaaaaaa --http-tokens required",
    ]);
  });
});
