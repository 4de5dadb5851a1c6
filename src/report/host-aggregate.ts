import type { ImdsEvent, ProcessInfo } from "../events.js";
import type { AnalysisSummary } from "../summary.js";
import { CallerAggregate, capUserAgent, processCallerKey } from "./caller-aggregate.js";
import { secondsBetween } from "./format.js";
import { instanceIdOfHost } from "./host-identity.js";
import { UnclassifiedRequestsAggregate } from "./incomplete-requests.js";
import type { CallTotals, CaptureHealth, ReportWindow } from "./types.js";

/** Process caller keys remembered per host (a cache: cleared when full). */
const maxCachedProcessKeys = 8;

/** Sources and source errors listed per host (more are counted). */
export const maxSourcesPerHost = 16;
const maxSourceErrorsPerHost = 10;

export class MutableTotals implements CallTotals {
  v1 = 0;
  v2 = 0;
  tokenRequests = 0;

  /** Unclassified requests are no call of a kind: they are counted apart (UnclassifiedRequestsAggregate). */
  count(kind: ImdsEvent["kind"]): void {
    if (kind === "v1") this.v1++;
    else if (kind === "v2") this.v2++;
    else if (kind === "token-request") this.tokenRequests++;
  }

  add(other: CallTotals): void {
    this.v1 += other.v1;
    this.v2 += other.v2;
    this.tokenRequests += other.tokenRequests;
  }

  snapshot(): CallTotals {
    return { v1: this.v1, v2: this.v2, tokenRequests: this.tokenRequests };
  }
}

/** A time and its original text (the text keeps the capture's precision). */
interface TimePoint {
  ms: number;
  text: string;
}

/** Decides whether a new caller may be tracked (the whole-report caller limit lives in the builder). */
export type CallerAdmission = () => boolean;

/** Everything the report knows about one host, folded incrementally. */
export class HostAggregate {
  readonly callers: CallerAggregate[] = [];
  /** Callers with a known process, by program (see processCallerKey). */
  private readonly byProgram = new Map<string, CallerAggregate>();
  /** Recent processes' caller keys, by pid and start time (see processKey). */
  private readonly processKeys = new Map<string, { readonly exe: string | null; readonly comm: string; readonly key: string }>();
  /**
   * Callers without a process, by client address then User-Agent: the event's own strings are
   * the keys, so the common lookup builds no string (their hashes are cached by the engine).
   */
  private readonly byAddress = new Map<string, Map<string | null, CallerAggregate>>();
  /** All calls of the host, listed callers or not. */
  readonly totals = new MutableTotals();
  readonly untrackedCalls = new MutableTotals();
  private first: TimePoint | null = null;
  private last: TimePoint | null = null;
  private readonly sources: string[] = [];
  private lastSource = "";
  private summaries = 0;
  private framesRead = 0;
  private liveSummaries = 0;
  private framesDropped = 0;
  private summaryAttributed = 0;
  private summaryConnections = 0;
  /** Calls seen by live capture (attribution present) and those with a process named. */
  private liveCalls = 0;
  private attributedCalls = 0;
  malformedLines = 0;
  private possiblyMissedRequests = 0;
  private framesSnaplenCut = 0;
  private eventsNotWritten = 0;
  private secondsWithoutCapture = 0;
  private readonly sourceErrors: string[] = [];
  private moreSourceErrors = 0;
  private readonly unclassified = new UnclassifiedRequestsAggregate();
  private readonly summaryTotals = new MutableTotals();
  /** Live summaries that say their capture watched the boot, and those that say it did not. */
  private bootsWatched = 0;
  private bootsMissed = 0;
  /** The EC2 instance id, once known (then it is also the key the builder files this host under). */
  instanceId: string | null;
  /** The first name (host name or file name) other than the instance id this host was known by. */
  hostname: string | null;

  /** `key` is an instance id or a name: the other field starts null. */
  constructor(
    key: string,
    private readonly maxCallers: number,
    private readonly maxPathsPerCaller: number,
  ) {
    this.instanceId = instanceIdOfHost(key);
    this.hostname = this.instanceId === null ? key : null;
  }

  /** The host's identity: its instance id when known, else its name. */
  get key(): string {
    return this.instanceId ?? this.hostname ?? "";
  }

  /** The instance id is now known (`name`: a name it was known by, which is kept if none was). */
  identify(instanceId: string, name: string | null): void {
    this.instanceId = instanceId;
    if (this.hostname === null && name !== null && name !== instanceId) this.hostname = name;
  }

  addEvent(event: ImdsEvent, timeMs: number, admit: CallerAdmission): void {
    this.totals.count(event.kind);
    if (!Number.isNaN(timeMs)) {
      if (this.first === null || timeMs < this.first.ms) this.first = { ms: timeMs, text: event.time };
      if (this.last === null || timeMs >= this.last.ms) this.last = { ms: timeMs, text: event.time };
    }
    if (event.attribution !== null) {
      this.liveCalls++;
      if (event.process !== null) this.attributedCalls++;
    }
    if (event.source !== this.lastSource) {
      this.lastSource = event.source;
      if (this.sources.length < maxSourcesPerHost && !this.sources.includes(event.source)) this.sources.push(event.source);
    }
    if (event.kind === "unclassified") this.unclassified.addEvent(event);
    // A request seen in part names no caller: offline its caller is known by its User-Agent,
    // which was not seen (a token request classified by its line alone is in the totals only).
    if (event.incomplete !== null) return;
    const caller = this.findCaller(event, admit);
    if (caller === null) this.untrackedCalls.count(event.kind);
    else caller.add(event, timeMs);
  }

  private findCaller(event: ImdsEvent, admit: CallerAdmission): CallerAggregate | null {
    if (event.process !== null) {
      const key = this.processKey(event.process);
      const known = this.byProgram.get(key);
      if (known !== undefined) return known;
      const caller = this.newCaller(event, admit);
      if (caller !== null) this.byProgram.set(key, caller);
      return caller;
    }
    let byUserAgent = this.byAddress.get(event.clientIp);
    const userAgent = capUserAgent(event.userAgent);
    let caller = byUserAgent?.get(userAgent);
    if (caller === undefined) {
      caller = this.newCaller(event, admit) ?? undefined;
      if (caller === undefined) return null;
      if (byUserAgent === undefined) {
        byUserAgent = new Map();
        this.byAddress.set(event.clientIp, byUserAgent);
      }
      byUserAgent.set(userAgent, caller);
    }
    return caller;
  }

  /**
   * The caller key of a process, computed once per process: taking the noise out of a command
   * line costs a dozen regular expressions per argument, and a process makes many calls. Cached
   * by pid and start time (and checked against the executable: a reused pid without a start
   * time), at most `maxCachedProcessKeys` at once.
   */
  private processKey(process: ProcessInfo): string {
    const id = `${process.pid} ${process.startTime ?? ""}`;
    const cached = this.processKeys.get(id);
    if (cached !== undefined && cached.exe === process.exe && cached.comm === process.comm) return cached.key;
    if (this.processKeys.size >= maxCachedProcessKeys) this.processKeys.clear();
    const key = processCallerKey(process);
    this.processKeys.set(id, { exe: process.exe, comm: process.comm, key });
    return key;
  }

  private newCaller(event: ImdsEvent, admit: CallerAdmission): CallerAggregate | null {
    if (this.callers.length >= this.maxCallers || !admit()) return null;
    const caller = new CallerAggregate(event, this.maxPathsPerCaller);
    this.callers.push(caller);
    return caller;
  }

  addSummary(summary: AnalysisSummary): void {
    this.summaries++;
    this.framesRead += summary.framesRead;
    this.summaryTotals.add(summary.requests);
    const counters = summary.diagnostics.counters;
    this.possiblyMissedRequests +=
      (counters.gaps ?? 0) + (counters.httpRequestErrors ?? 0) + (counters.flowsEvictedLimit ?? 0) + (counters.requestsSeenOnlyByResponse ?? 0);
    this.framesSnaplenCut += counters.framesSnaplenCut ?? 0;
    this.unclassified.addSummary(summary);
    for (const source of summary.sources) {
      if (source.error !== null) this.addSourceError(`${source.path}: ${source.error.message}`);
    }
    const live = summary.live;
    if (live !== null) {
      this.liveSummaries++;
      // Older summaries do not say (undefined): unknown, like offline.
      if (live.windowIncludesBoot === true) this.bootsWatched++;
      else if (live.windowIncludesBoot === false) this.bootsMissed++;
      this.framesDropped += live.packetsDroppedByKernel + live.packetsDroppedByInterface + (live.packetsDroppedByAddon ?? 0);
      this.eventsNotWritten += live.eventsNotWritten ?? 0;
      this.secondsWithoutCapture += live.interruptions?.secondsDown ?? 0;
      // A capture that ended on an error did not watch the whole window it names.
      for (const error of live.errors ?? []) this.addSourceError(`live capture on ${live.device}: ${error}`);
      this.summaryConnections += live.attribution.connections;
      this.summaryAttributed += live.attribution.attributed;
      const startMs = Date.parse(live.startedAt);
      const stopMs = Date.parse(live.stoppedAt);
      if (!Number.isNaN(startMs) && (this.first === null || startMs < this.first.ms)) this.first = { ms: startMs, text: live.startedAt };
      if (!Number.isNaN(stopMs) && (this.last === null || stopMs >= this.last.ms)) this.last = { ms: stopMs, text: live.stoppedAt };
    }
  }

  addSourceError(message: string): void {
    if (this.sourceErrors.length < maxSourceErrorsPerHost) this.sourceErrors.push(message.slice(0, 500));
    else this.moreSourceErrors++;
  }

  /** Calls counted by the analysis summaries given for this host, or null without a summary. */
  summaryCalls(): CallTotals | null {
    return this.summaries === 0 ? null : this.summaryTotals.snapshot();
  }

  /** From the first to the last thing seen: calls, and live captures' start and stop. */
  window(): ReportWindow {
    const includesBoot = this.bootsWatched > 0 ? true : this.bootsMissed > 0 ? false : null;
    if (this.first === null || this.last === null) return { start: null, end: null, durationSeconds: null, includesBoot };
    return { start: this.first.text, end: this.last.text, durationSeconds: secondsBetween(this.first.ms, this.last.ms), includesBoot };
  }

  /**
   * Adds everything `other` counted: the same host, counted under a name before its instance id
   * was known. Callers are matched as `addEvent` would match them; a caller beyond this host's
   * limit becomes untracked calls. `other` must not be used afterwards.
   */
  absorb(other: HostAggregate): void {
    if (this.hostname === null) this.hostname = other.hostname;
    this.totals.add(other.totals);
    this.untrackedCalls.add(other.untrackedCalls);
    if (other.first !== null && (this.first === null || other.first.ms < this.first.ms)) this.first = other.first;
    if (other.last !== null && (this.last === null || other.last.ms >= this.last.ms)) this.last = other.last;
    for (const source of other.sources) {
      if (this.sources.length < maxSourcesPerHost && !this.sources.includes(source)) this.sources.push(source);
    }
    this.summaries += other.summaries;
    this.framesRead += other.framesRead;
    this.liveSummaries += other.liveSummaries;
    this.framesDropped += other.framesDropped;
    this.summaryAttributed += other.summaryAttributed;
    this.summaryConnections += other.summaryConnections;
    this.liveCalls += other.liveCalls;
    this.attributedCalls += other.attributedCalls;
    this.malformedLines += other.malformedLines;
    this.possiblyMissedRequests += other.possiblyMissedRequests;
    this.framesSnaplenCut += other.framesSnaplenCut;
    this.unclassified.absorb(other.unclassified);
    this.eventsNotWritten += other.eventsNotWritten;
    this.secondsWithoutCapture += other.secondsWithoutCapture;
    for (const message of other.sourceErrors) this.addSourceError(message);
    this.moreSourceErrors += other.moreSourceErrors;
    this.summaryTotals.add(other.summaryTotals);
    this.bootsWatched += other.bootsWatched;
    this.bootsMissed += other.bootsMissed;
    for (const [key, caller] of other.byProgram) {
      const mine = this.byProgram.get(key);
      if (mine !== undefined) mine.absorb(caller);
      else if (this.adopt(caller)) this.byProgram.set(key, caller);
    }
    for (const [clientIp, byUserAgent] of other.byAddress) {
      for (const [userAgent, caller] of byUserAgent) {
        let mine = this.byAddress.get(clientIp);
        const known = mine?.get(userAgent);
        if (known !== undefined) known.absorb(caller);
        else if (this.adopt(caller)) {
          if (mine === undefined) {
            mine = new Map();
            this.byAddress.set(clientIp, mine);
          }
          mine.set(userAgent, caller);
        }
      }
    }
  }

  /** Takes over a caller of an absorbed host, within this host's caller limit. */
  private adopt(caller: CallerAggregate): boolean {
    if (this.callers.length >= this.maxCallers) {
      this.untrackedCalls.add(caller);
      return false;
    }
    this.callers.push(caller);
    return true;
  }

  windowMs(): { startMs: number; endMs: number } | null {
    return this.first === null || this.last === null ? null : { startMs: this.first.ms, endMs: this.last.ms };
  }

  /** Sum of the attributed and live-call counts, for the fleet's coverage. */
  attributionCounts(): { liveCalls: number; attributedCalls: number; summaryConnections: number; summaryAttributed: number } {
    return {
      liveCalls: this.liveCalls,
      attributedCalls: this.attributedCalls,
      summaryConnections: this.summaryConnections,
      summaryAttributed: this.summaryAttributed,
    };
  }

  capture(): CaptureHealth {
    const sourceErrors = this.moreSourceErrors > 0 ? [...this.sourceErrors, `...and ${this.moreSourceErrors} more`] : [...this.sourceErrors];
    return {
      framesRead: this.summaries === 0 ? null : this.framesRead,
      framesDropped: this.liveSummaries === 0 ? null : this.framesDropped,
      attributionCoverage: attributionCoverage(this.attributionCounts()),
      malformedLines: this.malformedLines,
      possiblyMissedRequests: this.possiblyMissedRequests,
      framesSnaplenCut: this.framesSnaplenCut,
      eventsNotWritten: this.eventsNotWritten,
      secondsWithoutCapture: this.secondsWithoutCapture,
      sourceErrors,
      unclassifiedRequests: this.unclassified.snapshot(),
    };
  }

  sourceList(): readonly string[] {
    return [...this.sources];
  }
}

/**
 * Share of live calls whose process was named (from the events); from the live summaries'
 * connection counts when only summaries are known; null offline.
 */
export function attributionCoverage(counts: {
  liveCalls: number;
  attributedCalls: number;
  summaryConnections: number;
  summaryAttributed: number;
}): number | null {
  if (counts.liveCalls > 0) return roundShare(counts.attributedCalls / counts.liveCalls);
  if (counts.summaryConnections > 0) return roundShare(counts.summaryAttributed / counts.summaryConnections);
  return null;
}

function roundShare(share: number): number {
  return Math.round(share * 10_000) / 10_000;
}
