import type { ImdsEvent, ProcessInfo } from "../events.js";
import { withoutNoise } from "./command-line-noise.js";
import { reportContainerOf } from "./container-names.js";
import { categorizePath, reportedPath } from "./paths.js";
import { CallTimeline } from "./timeline.js";
import type { CallerProcess, PathCount } from "./types.js";

/** Small lists kept per caller; more distinct values are only counted as "more". */
export const maxPidsPerCaller = 8;
export const maxClientIpsPerCaller = 8;
export const maxUserAgentsPerCaller = 8;
/** Text kept of attacker-controlled strings (User-Agent, command line), per value. */
export const maxUserAgentChars = 512;
export const maxCommandLineChars = 4096;
const maxCommandLineArgs = 64;
const maxParents = 8;
const maxParentCommandLineChars = 512;

/** Status map keys beside the codes: no answer came (0), or one could not be observed (-1). */
const noAnswerKey = 0;
const unobservedKey = -1;

/** Response status as a map key (a number: no string per call). */
function statusKey(event: ImdsEvent): number {
  if (event.status !== null) return event.status;
  return event.responseMissing === "unobserved" ? unobservedKey : noAnswerKey;
}

/**
 * Keeps the first arguments of a command line within a character budget; a cut argument ends in
 * "..." and dropped arguments are announced by a last "...(N more arguments)".
 */
export function capCommandLine(cmdline: readonly string[], maxChars = maxCommandLineChars): string[] {
  const kept: string[] = [];
  let chars = 0;
  for (const [index, argument] of cmdline.entries()) {
    if (index >= maxCommandLineArgs || chars >= maxChars) {
      kept.push(`...(${cmdline.length - index} more arguments)`);
      break;
    }
    const room = maxChars - chars;
    kept.push(argument.length > room ? `${argument.slice(0, room)}...` : argument);
    chars += Math.min(argument.length, room);
  }
  return kept;
}

export function capUserAgent(userAgent: string | null): string | null {
  return userAgent !== null && userAgent.length > maxUserAgentChars ? `${userAgent.slice(0, maxUserAgentChars)}...` : userAgent;
}

/** A copy of what the report shows of a process, bounded whatever the event held. */
function copyProcess(process: ProcessInfo): Omit<CallerProcess, "pids"> {
  return {
    comm: process.comm.slice(0, 64),
    exe: process.exe === null ? null : process.exe.slice(0, maxParentCommandLineChars),
    cmdline: capCommandLine(process.cmdline),
    uid: process.uid,
    user: process.user,
    cgroup: process.cgroup === null ? null : process.cgroup.slice(0, maxParentCommandLineChars),
    container: reportContainerOf(process.container),
    kubernetesPodUid: process.kubernetesPodUid,
    systemdUnit: process.systemdUnit,
    parents: process.parents.slice(0, maxParents).map((parent) => ({
      pid: parent.pid,
      comm: parent.comm.slice(0, 64),
      cmdline: capCommandLine(parent.cmdline, maxParentCommandLineChars),
    })),
  };
}

/**
 * Identifies a caller whose process is known: the program (executable, command line without
 * per-run noise, container, unit, pod), so many runs of one program (a cron job whose arguments
 * name a new temporary file or pid each time) are one caller. Built from capped text, so a
 * hostile command line cannot make the key huge. (Callers without a process are found by client
 * address and User-Agent, without building a key: see HostAggregate.)
 */
export function processCallerKey(process: ProcessInfo): string {
  return [
    process.exe ?? process.comm,
    capCommandLine(process.cmdline).map(withoutNoise).join("\u0001"),
    process.container?.id ?? "",
    process.systemdUnit ?? "",
    process.kubernetesPodUid ?? "",
  ].join("\u0000");
}

interface MutablePathCount {
  readonly path: string;
  readonly category: PathCount["category"];
  v1: number;
  v2: number;
  tokenRequests: number;
}

/** Token PUT outcomes that make an SDK fall back to IMDSv1. */
export interface FailedTokenRequests {
  unanswered: number;
  status403: number;
  status404: number;
  status405: number;
  /** Of the failed ones, those that carried X-Forwarded-For. */
  forwardedFor: number;
}

/**
 * Everything the report needs about one caller, folded one event at a time; the events
 * themselves are never kept, and every list has a limit.
 */
export class CallerAggregate {
  readonly process: Omit<CallerProcess, "pids"> | null;
  readonly pids: number[] = [];
  readonly clientIps: string[] = [];
  readonly userAgents: (string | null)[] = [];
  v1 = 0;
  v2 = 0;
  tokenRequests = 0;
  /** Response status counts by code (0: no response seen). */
  readonly statuses = new Map<number, number>();
  readonly v1Statuses = new Map<number, number>();
  readonly tokenRequestStatuses = new Map<number, number>();
  private readonly paths = new Map<string, MutablePathCount>();
  otherPathCalls = 0;
  credentialPaths = false;
  firstMs = Number.POSITIVE_INFINITY;
  firstText = "";
  lastMs = Number.NEGATIVE_INFINITY;
  lastText = "";
  /** When the first failed token PUT was made (for "a failed PUT, then IMDSv1 calls"). */
  earliestFailedTokenRequestMs = Number.POSITIVE_INFINITY;
  latestV1Ms = Number.NEGATIVE_INFINITY;
  readonly failedTokenRequests: FailedTokenRequests = { unanswered: 0, status403: 0, status404: 0, status405: 0, forwardedFor: 0 };
  /** Token PUTs answered with 200. */
  answeredTokenRequests = 0;
  readonly timeline = new CallTimeline();

  constructor(
    firstEvent: ImdsEvent,
    private readonly maxPaths: number,
  ) {
    this.process = firstEvent.process === null ? null : copyProcess(firstEvent.process);
  }

  add(event: ImdsEvent, timeMs: number): void {
    if (event.kind === "v1") this.v1++;
    else if (event.kind === "v2") this.v2++;
    else this.tokenRequests++;

    const status = statusKey(event);
    increment(this.statuses, status);
    if (event.kind === "v1") increment(this.v1Statuses, status);
    else if (event.kind === "token-request") increment(this.tokenRequestStatuses, status);

    if (event.process !== null) addDistinct(this.pids, event.process.pid, maxPidsPerCaller);
    addDistinct(this.clientIps, event.clientIp, maxClientIpsPerCaller);
    addDistinct(this.userAgents, capUserAgent(event.userAgent), maxUserAgentsPerCaller);
    this.countPath(event);

    if (!Number.isNaN(timeMs)) {
      if (timeMs < this.firstMs) {
        this.firstMs = timeMs;
        this.firstText = event.time;
      }
      if (timeMs >= this.lastMs) {
        this.lastMs = timeMs;
        this.lastText = event.time;
      }
      this.timeline.add(timeMs, event.kind === "v1");
      if (event.kind === "v1" && timeMs > this.latestV1Ms) this.latestV1Ms = timeMs;
    }
    if (event.kind === "token-request") this.countTokenRequest(event, timeMs);
  }

  private countTokenRequest(event: ImdsEvent, timeMs: number): void {
    const failed = this.failedTokenRequests;
    switch (event.status) {
      case null:
        // A PUT whose answer could not be observed (packets lost, the capture ended) failed
        // only as far as anyone knows: it is no evidence of a hop limit or a firewall.
        if (event.responseMissing === "unobserved") return;
        failed.unanswered++;
        break;
      case 403:
        failed.status403++;
        break;
      case 404:
        failed.status404++;
        break;
      case 405:
        failed.status405++;
        break;
      case 200:
        this.answeredTokenRequests++;
        return;
      default:
        // 400 (bad TTL) and others: SDKs stop there instead of falling back.
        return;
    }
    if (event.forwardedFor) failed.forwardedFor++;
    if (timeMs < this.earliestFailedTokenRequestMs) this.earliestFailedTokenRequestMs = timeMs;
  }

  private countPath(event: ImdsEvent): void {
    const path = reportedPath(event.path);
    let entry = this.paths.get(path);
    if (entry === undefined) {
      if (this.paths.size >= this.maxPaths) {
        this.otherPathCalls++;
        if (event.kind === "v1" && categorizePath(path) === "credentials") this.credentialPaths = true;
        return;
      }
      entry = { path, category: categorizePath(path), v1: 0, v2: 0, tokenRequests: 0 };
      this.paths.set(path, entry);
    }
    if (event.kind === "v1") {
      entry.v1++;
      if (entry.category === "credentials") this.credentialPaths = true;
    } else if (event.kind === "v2") entry.v2++;
    else entry.tokenRequests++;
  }

  /**
   * Adds everything `other` counted (the same caller, counted under another name of its host
   * before the host's instance id was known). `other` is left as it was. Bounded like `add`:
   * distinct paths beyond the limit become `otherPathCalls`. The timeline is merged bucket by
   * bucket, so calls keep the resolution of the coarser of the two.
   */
  absorb(other: CallerAggregate): void {
    this.v1 += other.v1;
    this.v2 += other.v2;
    this.tokenRequests += other.tokenRequests;
    for (const [target, source] of [
      [this.statuses, other.statuses],
      [this.v1Statuses, other.v1Statuses],
      [this.tokenRequestStatuses, other.tokenRequestStatuses],
    ] as const) {
      for (const [status, count] of source) target.set(status, (target.get(status) ?? 0) + count);
    }
    for (const pid of other.pids) addDistinct(this.pids, pid, maxPidsPerCaller);
    for (const clientIp of other.clientIps) addDistinct(this.clientIps, clientIp, maxClientIpsPerCaller);
    for (const userAgent of other.userAgents) addDistinct(this.userAgents, userAgent, maxUserAgentsPerCaller);
    for (const entry of other.paths.values()) {
      const mine = this.paths.get(entry.path);
      if (mine !== undefined) {
        mine.v1 += entry.v1;
        mine.v2 += entry.v2;
        mine.tokenRequests += entry.tokenRequests;
      } else if (this.paths.size < this.maxPaths) {
        this.paths.set(entry.path, { ...entry });
      } else {
        this.otherPathCalls += entry.v1 + entry.v2 + entry.tokenRequests;
      }
    }
    this.otherPathCalls += other.otherPathCalls;
    this.credentialPaths ||= other.credentialPaths;
    if (other.firstMs < this.firstMs) {
      this.firstMs = other.firstMs;
      this.firstText = other.firstText;
    }
    if (other.lastMs >= this.lastMs && other.lastText !== "") {
      this.lastMs = other.lastMs;
      this.lastText = other.lastText;
    }
    this.earliestFailedTokenRequestMs = Math.min(this.earliestFailedTokenRequestMs, other.earliestFailedTokenRequestMs);
    this.latestV1Ms = Math.max(this.latestV1Ms, other.latestV1Ms);
    const failed = this.failedTokenRequests;
    const otherFailed = other.failedTokenRequests;
    failed.unanswered += otherFailed.unanswered;
    failed.status403 += otherFailed.status403;
    failed.status404 += otherFailed.status404;
    failed.status405 += otherFailed.status405;
    failed.forwardedFor += otherFailed.forwardedFor;
    this.answeredTokenRequests += other.answeredTokenRequests;
    this.timeline.absorb(other.timeline);
  }

  /** Token PUTs whose answers could not be observed: neither answered nor failed, as far as is known. */
  get unseenTokenAnswers(): number {
    return this.tokenRequestStatuses.get(unobservedKey) ?? 0;
  }

  /** A token PUT failed (no answer, 403, 404, 405) and IMDSv1 calls came at or after it. */
  get fellBackAfterFailedTokenRequest(): boolean {
    return this.latestV1Ms >= this.earliestFailedTokenRequestMs;
  }

  pathCounts(): PathCount[] {
    return [...this.paths.values()]
      .map((entry) => ({ ...entry }))
      .sort((a, b) => b.v1 - a.v1 || b.v1 + b.v2 + b.tokenRequests - (a.v1 + a.v2 + a.tokenRequests) || compareText(a.path, b.path));
  }
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function addDistinct<T>(list: T[], value: T, max: number): void {
  if (list.length < max && !list.includes(value)) list.push(value);
}

/** Code-point order: the same on every machine (localeCompare is not). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A status map as a plain object: "200", "401", ... in ascending order, then "none" (no answer
 * came) and "unseen" (an answer may have come but could not be observed: event `responseMissing`
 * "unobserved").
 */
export function statusRecord(map: ReadonlyMap<number, number>): Record<string, number> {
  const record: Record<string, number> = {};
  for (const code of [...map.keys()].filter((key) => key > 0).sort((a, b) => a - b)) record[String(code)] = map.get(code)!;
  const none = map.get(noAnswerKey);
  if (none !== undefined) record["none"] = none;
  const unseen = map.get(unobservedKey);
  if (unseen !== undefined) record["unseen"] = unseen;
  return record;
}
