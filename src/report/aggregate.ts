import type { ImdsEvent } from "../events.js";
import { sumUnclassified } from "./incomplete-requests.js";
import { isInstanceId } from "../events.js";
import type { AnalysisSummary } from "../summary.js";
import type { CallerAggregate } from "./caller-aggregate.js";
import { compareText, statusRecord } from "./caller-aggregate.js";
import { describeContainer } from "./container-names.js";
import { diagnoseCaller } from "./diagnose.js";
import { buildFixList } from "./fixes.js";
import { secondsBetween } from "./format.js";
import { HostAggregate, MutableTotals, attributionCoverage } from "./host-aggregate.js";
import { hostLabel, hostOfEvent, instanceIdOfEvent, localHost, maxHostChars } from "./host-identity.js";
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
import { CallTimeline } from "./timeline.js";
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
  maxFixes: 5_000,
};

export interface ReportOptions {
  /** READY needs a window at least this long; default one day (see verdict.ts). */
  readonly minimumWindowSeconds?: number;
  readonly limits?: Partial<ReportLimits>;
}

/** Buckets of the fleet's calls-over-time chart. */
export const fleetTimelineBucketCount = 120;

const verdictOrder: Record<Verdict, number> = { NOT_READY: 0, UNKNOWN: 1, READY: 2 };

/**
 * Folds events (and analysis summaries) from any number of hosts into a readiness report, one
 * event at a time: events are never kept, and every per-host and per-caller list has a limit.
 * Feed it from `analyzeCaptures`' onEvent, from live capture, or from NDJSON files
 * (`readReportSource`); call `build()` at the end (it may be called again after more input).
 *
 * Host identity: an event or summary that carries an instance id is filed under that id, and
 * its name (host name, or the name from the file) becomes an alias of the id. Anything without
 * an id is filed under its name. The events a capture wrote before it saw the id are so filed
 * under the name: when the alias appears, that host is renamed to the id if the id has no host
 * yet (the usual order), otherwise the two are merged by `build()`. A name that turns out to
 * belong to two instance ids (a host name such as "localhost" used by many) is ambiguous: what
 * was filed under it alone stays a host of its own, rather than being given to either id.
 */
export class ReportBuilder {
  /** By instance id, or by name for hosts whose id is not known. */
  private readonly hosts = new Map<string, HostAggregate>();
  /** Name -> the instance id it belongs to; null when the name was seen with two ids. */
  private readonly aliases = new Map<string, string | null>();
  /** The last alias noted, so a stream of events from one host costs one comparison each. */
  private lastAliasName = "";
  private lastAliasId = "";
  private callers = 0;
  private readonly untrackedHostCalls = new MutableTotals();
  /** Every call of the fleet over time (hosts beyond the limit too), for the dashboard's chart. */
  private readonly timeline = new CallTimeline(fleetTimelineBucketCount);
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
   * Adds one event. Its host is its `instanceId` when it carries one; else its name: the event's
   * own `host` field when it has a usable one, else `host` (the caller's choice:
   * `hostFromPath(file)`, or "local").
   */
  addEvent(event: ImdsEvent, host: string): void {
    const name = hostOfEvent(event) ?? host;
    const instanceId = instanceIdOfEvent(event);
    const state = instanceId === null ? this.hostState(name) : this.identifiedHostState(instanceId, name);
    const timeMs = Date.parse(event.time);
    // Unclassified requests are no call of a kind: the chart shows v1 against v2 and tokens.
    if (event.kind !== "unclassified") this.timeline.add(timeMs, event.kind === "v1");
    if (state === null) {
      this.untrackedHostCalls.count(event.kind);
      return;
    }
    state.addEvent(event, timeMs, this.admitCaller);
  }

  /**
   * Adds an analysis summary (`--summary-json`): frames read, live drops, the capture window,
   * whether it watched a boot; filed under its `instanceId` when it has one, else under `host`.
   */
  addSummary(summary: AnalysisSummary, host: string): void {
    const instanceId: unknown = (summary as { readonly instanceId?: unknown }).instanceId;
    const state = isInstanceId(instanceId) ? this.identifiedHostState(instanceId, host) : this.hostState(host);
    state?.addSummary(summary);
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

  /** The host of an instance id, after noting that `name` is an alias of it. */
  private identifiedHostState(instanceId: string, name: string): HostAggregate | null {
    const host = cleanName(name);
    if (host !== instanceId && (host !== this.lastAliasName || instanceId !== this.lastAliasId)) {
      this.noteAlias(host, instanceId);
      this.lastAliasName = host;
      this.lastAliasId = instanceId;
    }
    const state = this.hostState(instanceId);
    state?.identify(instanceId, host === instanceId ? null : host);
    return state;
  }

  private noteAlias(name: string, instanceId: string): void {
    const known = this.aliases.get(name);
    if (known === undefined) {
      // As many aliases as hosts: past that, names are simply not merged (still bounded).
      if (this.aliases.size >= this.limits.maxHosts) return;
      this.aliases.set(name, instanceId);
      // The usual order: a capture's first events, before the id was seen, are filed under the
      // name and the id has no host yet, so the name's host simply becomes the id's.
      const named = this.hosts.get(name);
      if (named !== undefined && !this.hosts.has(instanceId)) {
        this.hosts.delete(name);
        named.identify(instanceId, name);
        this.hosts.set(instanceId, named);
      }
    } else if (known !== null && known !== instanceId) {
      this.aliases.set(name, null);
    }
  }

  /** Files each name's host under its instance id, merging it into the id's host if it has one. */
  private mergeAliases(): void {
    for (const [name, instanceId] of this.aliases) {
      if (instanceId === null) continue;
      const named = this.hosts.get(name);
      if (named === undefined) continue;
      this.hosts.delete(name);
      const identified = this.hosts.get(instanceId);
      if (identified === undefined) {
        named.identify(instanceId, name);
        this.hosts.set(instanceId, named);
      } else {
        identified.identify(instanceId, name);
        identified.absorb(named);
      }
    }
  }

  private hostState(name: string): HostAggregate | null {
    const host = cleanName(name);
    let state = this.hosts.get(host);
    if (state === undefined) {
      if (this.hosts.size >= this.limits.maxHosts) return null;
      state = new HostAggregate(host, this.limits.maxCallersPerHost, this.limits.maxPathsPerCaller);
      this.hosts.set(host, state);
    }
    return state;
  }

  /** The report so far. Merges hosts whose instance id became known (see the class comment). */
  build(): ImdsReport {
    this.mergeAliases();
    const hostReports: Omit<HostReport, "fixes">[] = [];
    const callerReports: CallerReport[] = [];
    for (const state of this.hosts.values()) {
      const host = state.key;
      const callers = state.callers.map((caller) => reportCaller(caller, host)).sort(compareCallers);
      const window = state.window();
      const capture = state.capture();
      const judged = judgeHost({
        host,
        instanceId: state.instanceId,
        totals: state.totals.snapshot(),
        untrackedCalls: state.untrackedCalls.snapshot(),
        summaryCalls: state.summaryCalls(),
        window,
        capture,
        callers,
        minimumWindowSeconds: this.minimumWindowSeconds,
      });
      hostReports.push({
        host,
        instanceId: state.instanceId,
        hostname: state.hostname,
        verdict: judged.verdict,
        verdictReasons: judged.verdictReasons,
        window,
        capture,
        totals: state.totals.snapshot(),
        callers: callers.length,
        v1Callers: callers.filter((caller) => caller.v1 > 0).length,
        untrackedCalls: state.untrackedCalls.snapshot(),
        enforcement: judged.enforcement,
        unknownCauses: judged.unknownCauses,
        sources: state.sourceList(),
      });
      callerReports.push(...callers);
    }
    callerReports.sort((a, b) => b.v1 - a.v1 || compareText(a.host, b.host) || compareCallers(a, b));
    const fixList = buildFixList(callerReports, new Map(hostReports.map((host) => [host.host, hostLabel(host)])), this.limits.maxFixes);
    const hosts: HostReport[] = hostReports
      .map((host) => ({ ...host, fixes: fixList.fixesByHost.get(host.host) ?? [] }))
      .sort((a, b) => verdictOrder[a.verdict] - verdictOrder[b.verdict] || compareText(a.host, b.host));

    const untrackedHostCalls = this.untrackedHostCalls.snapshot();
    const single = hosts.length === 1 && untrackedHostCalls.v1 + untrackedHostCalls.v2 + untrackedHostCalls.tokenRequests === 0
      ? hosts[0]!
      : null;
    const fleet = single ?? judgeFleet(hosts.map((host) => ({ host: hostLabel(host), verdict: host.verdict })), untrackedHostCalls);
    const totals = new MutableTotals();
    for (const host of hosts) totals.add(host.totals);
    totals.add(untrackedHostCalls);
    return {
      schema: reportSchema,
      verdict: fleet.verdict,
      verdictReasons: fleet.verdictReasons,
      minimumWindowSeconds: this.minimumWindowSeconds,
      enforcement: single?.enforcement ?? fleetEnforcement(hosts),
      window: this.fleetWindow(),
      timeline: this.timeline.snapshot(),
      capture: this.fleetCapture(hosts),
      totals: totals.snapshot(),
      hosts,
      callers: callerReports,
      fixes: fixList.fixes,
      fixesNotListed: fixList.fixesNotListed,
      v1CallsNotInFixes: hosts.reduce((sum, host) => sum + host.untrackedCalls.v1, 0) + untrackedHostCalls.v1,
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
    // Every host watched a boot, or one did not (then some boot-time callers may be unseen).
    const boots = [...this.hosts.values()].map((state) => state.window().includesBoot);
    const includesBoot = boots.length > 0 && boots.every((boot) => boot === true) ? true : boots.includes(false) ? false : null;
    if (start === null || end === null) return { start: null, end: null, durationSeconds: null, includesBoot };
    return { start: start.text, end: end.text, durationSeconds: secondsBetween(start.ms, end.ms), includesBoot };
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
      framesSnaplenCut: hosts.reduce((sum, host) => sum + host.capture.framesSnaplenCut, 0),
      eventsNotWritten: hosts.reduce((sum, host) => sum + host.capture.eventsNotWritten, 0),
      secondsWithoutCapture: hosts.reduce((sum, host) => sum + host.capture.secondsWithoutCapture, 0),
      sourceErrors: hosts.flatMap((host) => host.capture.sourceErrors.map((error) => `${host.host}: ${error}`)).slice(0, 20),
      unclassifiedRequests: sumUnclassified(hosts.map((host) => host.capture.unclassifiedRequests)),
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

function cleanName(name: string): string {
  return name.length === 0 ? localHost : name.slice(0, maxHostChars);
}

function reportCaller(caller: CallerAggregate, host: string): CallerReport {
  const diagnosis = diagnoseCaller(caller);
  const process = caller.process;
  return {
    host,
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
  if (process.container !== null) context.push(describeContainer(process.container));
  if (process.kubernetesPodUid !== null && (process.container?.kubernetes?.pod ?? null) === null) context.push(`pod ${process.kubernetesPodUid}`);
  if (process.systemdUnit !== null) context.push(`unit ${process.systemdUnit}`);
  return context.length === 0 ? command : `${command} [${context.join(", ")}]`;
}

function compareCallers(a: CallerReport, b: CallerReport): number {
  return b.v1 - a.v1 || b.v1 + b.v2 + b.tokenRequests - (a.v1 + a.v2 + a.tokenRequests) || compareText(a.caller.label, b.caller.label);
}
