import type { ImdsEvent } from "../events.js";
import type { AnalysisSummary } from "../summary.js";
import type { CallerAggregate } from "./caller-aggregate.js";
import { compareText, statusRecord } from "./caller-aggregate.js";
import { diagnoseCaller } from "./diagnose.js";
import { secondsBetween } from "./format.js";
import { HostAggregate, MutableTotals, attributionCoverage } from "./host-aggregate.js";
import { hostOfEvent, instanceIdOfHost, localHost, maxHostChars } from "./host-identity.js";
import type {
  CallerReport,
  CaptureHealth,
  Enforcement,
  HostReport,
  ImdsReport,
  MalformedLine,
  ReportLimits,
  ReportWindow,
  Verdict,
} from "./types.js";
import { reportSchema } from "./types.js";
import { defaultMinimumWindowSeconds, enforceCommand, hopLimitCommand, instanceIdPlaceholder, judgeFleet, judgeHost } from "./verdict.js";

/**
 * Memory is bounded by these, whatever the input: hosts x callers x paths. Worst case about
 * 50,000 callers of a few KB each. Calls beyond a limit are still counted (and still make a
 * verdict NOT_READY), just not listed.
 */
export const defaultReportLimits: ReportLimits = {
  maxHosts: 10_000,
  maxCallersPerHost: 500,
  maxCallers: 50_000,
  maxPathsPerCaller: 24,
  maxListedMalformedLines: 100,
};

export interface ReportOptions {
  /** READY needs a window at least this long; default one day (see verdict.ts). */
  readonly minimumWindowSeconds?: number;
  readonly limits?: Partial<ReportLimits>;
}

const verdictOrder: Record<Verdict, number> = { NOT_READY: 0, UNKNOWN: 1, READY: 2 };

/**
 * Folds events (and analysis summaries) from any number of hosts into a readiness report, one
 * event at a time: events are never kept, and every per-host and per-caller list has a limit.
 * Feed it from `analyzeCaptures`' onEvent, from live capture, or from NDJSON files
 * (`readReportSource`); call `build()` at the end (it may be called again after more input).
 */
export class ReportBuilder {
  private readonly hosts = new Map<string, HostAggregate>();
  private callers = 0;
  private readonly untrackedHostCalls = new MutableTotals();
  private readonly malformedLines: MalformedLine[] = [];
  private malformedLinesTotal = 0;
  private readonly limits: ReportLimits;
  private readonly minimumWindowSeconds: number;
  private readonly admitCaller = (): boolean => {
    if (this.callers >= this.limits.maxCallers) return false;
    this.callers++;
    return true;
  };

  constructor(options: ReportOptions = {}) {
    this.limits = { ...defaultReportLimits, ...options.limits };
    this.minimumWindowSeconds = options.minimumWindowSeconds ?? defaultMinimumWindowSeconds;
  }

  /**
   * Adds one event. Its host is the event's own `host` field when it has a usable one, else
   * `host` (the caller's choice: `hostFromPath(file)`, or "local").
   */
  addEvent(event: ImdsEvent, host: string): void {
    const state = this.hostState(hostOfEvent(event) ?? host);
    if (state === null) {
      this.untrackedHostCalls.count(event.kind);
      return;
    }
    state.addEvent(event, Date.parse(event.time), this.admitCaller);
  }

  /** Adds an analysis summary (`--summary-json`): frames read, live drops, the capture window. */
  addSummary(summary: AnalysisSummary, host: string): void {
    this.hostState(host)?.addSummary(summary);
  }

  /** A line of an event file that is not a valid event (it may have been an IMDSv1 call). */
  addMalformedLine(line: MalformedLine, host: string): void {
    this.malformedLinesTotal++;
    if (this.malformedLines.length < this.limits.maxListedMalformedLines) this.malformedLines.push(line);
    const state = this.hostState(host);
    if (state !== null) state.malformedLines++;
  }

  /** A source (event file, capture) that could not be read to its end. */
  addSourceError(host: string, message: string): void {
    this.hostState(host)?.addSourceError(message);
  }

  private hostState(name: string): HostAggregate | null {
    const host = name.length === 0 ? localHost : name.slice(0, maxHostChars);
    let state = this.hosts.get(host);
    if (state === undefined) {
      if (this.hosts.size >= this.limits.maxHosts) return null;
      state = new HostAggregate(host, this.limits.maxCallersPerHost, this.limits.maxPathsPerCaller);
      this.hosts.set(host, state);
    }
    return state;
  }

  build(): ImdsReport {
    const hostReports: HostReport[] = [];
    const callerReports: CallerReport[] = [];
    for (const state of this.hosts.values()) {
      const callers = state.callers.map(reportCaller).sort(compareCallers);
      const window = state.window();
      const capture = state.capture();
      const judged = judgeHost({
        host: state.name,
        totals: state.totals.snapshot(),
        untrackedCalls: state.untrackedCalls.snapshot(),
        summaryCalls: state.summaryCalls(),
        window,
        capture,
        callers,
        minimumWindowSeconds: this.minimumWindowSeconds,
      });
      hostReports.push({
        host: state.name,
        instanceId: instanceIdOfHost(state.name),
        verdict: judged.verdict,
        verdictReasons: judged.verdictReasons,
        window,
        capture,
        totals: state.totals.snapshot(),
        callers: callers.length,
        v1Callers: callers.filter((caller) => caller.v1 > 0).length,
        untrackedCalls: state.untrackedCalls.snapshot(),
        enforcement: judged.enforcement,
        sources: state.sourceList(),
      });
      callerReports.push(...callers);
    }
    hostReports.sort((a, b) => verdictOrder[a.verdict] - verdictOrder[b.verdict] || compareText(a.host, b.host));
    callerReports.sort((a, b) => b.v1 - a.v1 || compareText(a.host, b.host) || compareCallers(a, b));

    const untrackedHostCalls = this.untrackedHostCalls.snapshot();
    const single = hostReports.length === 1 && untrackedHostCalls.v1 + untrackedHostCalls.v2 + untrackedHostCalls.tokenRequests === 0
      ? hostReports[0]!
      : null;
    const fleet = single ?? judgeFleet(hostReports, untrackedHostCalls);
    const totals = new MutableTotals();
    for (const host of hostReports) totals.add(host.totals);
    totals.add(untrackedHostCalls);
    return {
      schema: reportSchema,
      verdict: fleet.verdict,
      verdictReasons: fleet.verdictReasons,
      minimumWindowSeconds: this.minimumWindowSeconds,
      enforcement: single?.enforcement ?? fleetEnforcement(hostReports),
      window: this.fleetWindow(),
      capture: this.fleetCapture(hostReports),
      totals: totals.snapshot(),
      hosts: hostReports,
      callers: callerReports,
      untrackedHostCalls,
      malformedLines: [...this.malformedLines],
      limits: this.limits,
    };
  }

  private fleetWindow(): ReportWindow {
    let start: { ms: number; text: string } | null = null;
    let end: { ms: number; text: string } | null = null;
    for (const state of this.hosts.values()) {
      const span = state.windowMs();
      const window = state.window();
      if (span === null || window.start === null || window.end === null) continue;
      if (start === null || span.startMs < start.ms) start = { ms: span.startMs, text: window.start };
      if (end === null || span.endMs > end.ms) end = { ms: span.endMs, text: window.end };
    }
    if (start === null || end === null) return { start: null, end: null, durationSeconds: null };
    return { start: start.text, end: end.text, durationSeconds: secondsBetween(start.ms, end.ms) };
  }

  private fleetCapture(hosts: readonly HostReport[]): CaptureHealth {
    const counts = { liveCalls: 0, attributedCalls: 0, summaryConnections: 0, summaryAttributed: 0 };
    for (const state of this.hosts.values()) {
      const host = state.attributionCounts();
      counts.liveCalls += host.liveCalls;
      counts.attributedCalls += host.attributedCalls;
      counts.summaryConnections += host.summaryConnections;
      counts.summaryAttributed += host.summaryAttributed;
    }
    const known = (values: (number | null)[]): number | null =>
      values.length === 0 || values.some((value) => value === null) ? null : values.reduce<number>((sum, value) => sum + (value ?? 0), 0);
    const framesRead = hosts.map((host) => host.capture.framesRead);
    return {
      framesRead: framesRead.every((value) => value === null) ? null : framesRead.reduce<number>((sum, value) => sum + (value ?? 0), 0),
      // Unknown for the fleet as soon as one host's drops are unknown: a partial sum would mislead.
      framesDropped: known(hosts.map((host) => host.capture.framesDropped)),
      attributionCoverage: attributionCoverage(counts),
      malformedLines: this.malformedLinesTotal,
      possiblyMissedRequests: hosts.reduce((sum, host) => sum + host.capture.possiblyMissedRequests, 0),
      sourceErrors: hosts.flatMap((host) => host.capture.sourceErrors.map((error) => `${host.host}: ${error}`)).slice(0, 20),
    };
  }
}

function fleetEnforcement(hosts: readonly HostReport[]): Enforcement {
  const hopLimitNeeded = hosts.some((host) => host.enforcement.hopLimitNeeded);
  const withV1 = hosts.filter((host) => host.totals.v1 > 0);
  return {
    commands: hopLimitNeeded
      ? [hopLimitCommand(instanceIdPlaceholder), enforceCommand(instanceIdPlaceholder)]
      : [enforceCommand(instanceIdPlaceholder)],
    hopLimitNeeded,
    tokensAlreadyRequired: withV1.length > 0 && withV1.every((host) => host.enforcement.tokensAlreadyRequired),
  };
}

function reportCaller(caller: CallerAggregate): CallerReport {
  const diagnosis = diagnoseCaller(caller);
  const process = caller.process;
  return {
    host: caller.host,
    caller: { identifiedBy: process === null ? "client-address" : "process", label: callerLabel(caller) },
    process: process === null ? null : { ...process, pids: [...caller.pids] },
    clientIps: [...caller.clientIps],
    userAgents: [...caller.userAgents],
    sdk: diagnosis.sdk,
    v1: caller.v1,
    v2: caller.v2,
    tokenRequests: caller.tokenRequests,
    statuses: statusRecord(caller.statuses),
    v1Statuses: statusRecord(caller.v1Statuses),
    tokenRequestStatuses: statusRecord(caller.tokenRequestStatuses),
    credentialPaths: caller.credentialPaths,
    paths: caller.pathCounts(),
    otherPathCalls: caller.otherPathCalls,
    firstSeen: caller.firstText,
    lastSeen: caller.lastText,
    reason: diagnosis.reason,
    fallbackCause: diagnosis.fallbackCause,
    inContainer: diagnosis.inContainer,
    advice: diagnosis.advice,
    timeline: caller.timeline.snapshot(),
  };
}

/**
 * One line naming the caller: the command line (or executable) with its container, pod or
 * systemd unit; offline the client address and User-Agent.
 */
function callerLabel(caller: CallerAggregate): string {
  const process = caller.process;
  if (process === null) {
    const userAgent = caller.userAgents[0];
    return `${caller.clientIps[0] ?? "?"} ${userAgent === null || userAgent === undefined ? "(no User-Agent)" : userAgent}`;
  }
  const command = process.cmdline.length > 0 ? process.cmdline.join(" ") : (process.exe ?? process.comm);
  const context: string[] = [];
  if (process.container !== null) context.push(`container ${process.container.runtime} ${process.container.id.slice(0, 12)}`);
  if (process.kubernetesPodUid !== null) context.push(`pod ${process.kubernetesPodUid}`);
  if (process.systemdUnit !== null) context.push(`unit ${process.systemdUnit}`);
  return context.length === 0 ? command : `${command} [${context.join(", ")}]`;
}

function compareCallers(a: CallerReport, b: CallerReport): number {
  return b.v1 - a.v1 || b.v1 + b.v2 + b.tokenRequests - (a.v1 + a.v2 + a.tokenRequests) || compareText(a.caller.label, b.caller.label);
}
