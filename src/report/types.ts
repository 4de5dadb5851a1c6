/**
 * The migration-readiness report (`imds-analyzer/report@1`), documented in docs/REPORT.md.
 * Versioned like the event schema: fields may be added under the same version, never removed or
 * changed in meaning (that takes `imds-analyzer/report@2`). The JSON object is the report; the
 * Markdown and HTML renderings are views of it.
 */
import type { ParentProcess } from "../events.js";
import type { PathCategory } from "./paths.js";
import type { TimelineSnapshot } from "./timeline.js";
import type { SdkInfo } from "./user-agent.js";
import type { UnknownCause } from "./verdict.js";
import type { UnclassifiedRequests } from "./incomplete-requests.js";

export const reportSchema = "imds-analyzer/report@1";

/** READY: safe to require tokens; NOT_READY: IMDSv1 callers must change first; UNKNOWN: cannot tell. */
export type Verdict = "READY" | "NOT_READY" | "UNKNOWN";

/** Why a caller uses IMDSv1 (null on callers that made no IMDSv1 call). */
export type V1Reason = "sdk-too-old" | "fallback" | "no-token-support" | "unknown";

/**
 * What made a caller fall back, most telling first:
 * - `put-forwarded-for`: its token PUT carried X-Forwarded-For and got 403 (a proxy in the path);
 * - `put-unanswered`: its token PUT got no answer (hop limit 1 from a container, or a firewall);
 * - `put-403` / `put-404` / `put-405`: its token PUT got that status;
 * - `put-answer-lost`: its token PUT was answered (the capture saw the answer) yet it never sent a
 *   token: the answer did not reach it (hop limit 1 when captured before the container's hop);
 * - `put-not-seen`: its SDK supports IMDSv2, but no failed token PUT is in the window.
 */
export type FallbackCause =
  | "put-forwarded-for"
  | "put-unanswered"
  | "put-403"
  | "put-404"
  | "put-405"
  | "put-answer-lost"
  | "put-not-seen";

export interface CallTotals {
  readonly v1: number;
  readonly v2: number;
  readonly tokenRequests: number;
}

export interface ReportWindow {
  /** ISO-8601; null when nothing was observed. */
  readonly start: string | null;
  readonly end: string | null;
  readonly durationSeconds: number | null;
  /**
   * Whether a boot was watched (boot-time callers: cloud-init, agents starting): true when a live
   * capture summary says its capture started within minutes of the boot, false when live
   * summaries say none did, null when unknown (offline captures, events without a summary). For
   * the fleet: true when every host's is, false when any host's is false, else null.
   */
  readonly includesBoot: boolean | null;
}

export interface CaptureHealth {
  /** Frames read, from analysis summaries; null when no summary was given. */
  readonly framesRead: number | null;
  /** Packets dropped by the kernel or the interface (live summaries); null when unknown. */
  readonly framesDropped: number | null;
  /** Share (0..1) of live calls whose process was named; null offline (no attribution). */
  readonly attributionCoverage: number | null;
  /** Lines of the event files that were not valid events (skipped). */
  readonly malformedLines: number;
  /** Analysis signs that IMDS requests may be missing: TCP gaps, unparsable requests, evicted flows, responses beyond the requests seen. */
  readonly possiblyMissedRequests: number;
  /** Frames the snaplen cut short (from analysis summaries): a cut request head cannot be classified. */
  readonly framesSnaplenCut: number;
  /** Events a live capture could not write (disk full, file gone): they may have been IMDSv1 calls. */
  readonly eventsNotWritten: number;
  /** Time live captures were interrupted (the interface went down or away): calls then were not seen. */
  readonly secondsWithoutCapture: number;
  /** Capture or event files that could not be read to their end. */
  readonly sourceErrors: readonly string[];
  /**
   * IMDS requests seen only in part (packets cut by the snaplen, bytes missing, malformed heads)
   * that could be neither v1 nor v2: by cause, with the first few flows (and live, processes).
   */
  readonly unclassifiedRequests: UnclassifiedRequests;
}

export interface Enforcement {
  /**
   * Commands to run, in order (the hop limit first when needed). The host's instance id is
   * filled in when known (seen in IMDS's answers, or the host name is one); otherwise the
   * placeholder `INSTANCE_ID`.
   */
  readonly commands: readonly string[];
  /** Containers need a PUT response hop limit of 2 to get tokens. */
  readonly hopLimitNeeded: boolean;
  /** Every IMDSv1 call got 401: tokens already appear to be required here. */
  readonly tokensAlreadyRequired: boolean;
}

export interface HostReport {
  /** The host's identity: its instance id when known, else `hostname`. */
  readonly host: string;
  /**
   * The EC2 instance id: from IMDS's answers seen in the capture (events' and summaries'
   * `instanceId`), or the host name itself when it is an instance id; else null.
   */
  readonly instanceId: string | null;
  /**
   * The host's name: the events' `host` field (live capture: the machine's host name), else the
   * name taken from the file name. The same as `host` for a host without an instance id; null
   * when only the instance id is known.
   */
  readonly hostname: string | null;
  readonly verdict: Verdict;
  readonly verdictReasons: readonly string[];
  readonly window: ReportWindow;
  readonly capture: CaptureHealth;
  readonly totals: CallTotals;
  /** Callers listed in `callers` for this host. */
  readonly callers: number;
  readonly v1Callers: number;
  /** Calls from callers beyond the per-host (or whole-report) caller limit: counted, not listed. */
  readonly untrackedCalls: CallTotals;
  readonly enforcement: Enforcement;
  /** Why an UNKNOWN host's window cannot be trusted (codes; empty for other verdicts). */
  readonly unknownCauses: readonly UnknownCause[];
  /** Ids of the listed fixes (`fixes[].id`) with a caller on this host. */
  readonly fixes: readonly string[];
  /** Event sources (capture files or live devices) seen for this host, first ones only. */
  readonly sources: readonly string[];
}

export interface CallerIdentity {
  /** "process": live capture named the process; "client-address": client address + User-Agent. */
  readonly identifiedBy: "process" | "client-address";
  /** One line for people: the command line (with container or unit), or address and User-Agent. */
  readonly label: string;
}

/** A Kubernetes pod as the container runtime's files name it (fields null when not read). */
export interface ReportKubernetesPod {
  readonly namespace: string | null;
  readonly pod: string | null;
  readonly podUid: string | null;
  readonly container: string | null;
}

/** An ECS task as Docker's labels name it (fields null when not read). */
export interface ReportEcsTask {
  readonly cluster: string | null;
  readonly taskArn: string | null;
  readonly taskId: string | null;
  readonly family: string | null;
  readonly revision: string | null;
  readonly container: string | null;
}

/**
 * The container a caller runs in (live events' `process.container`): `runtime` and `id` always
 * (older events carry only these: the other fields are then null); `name`, `image`, the
 * Kubernetes pod and ECS task where the runtime's files named them; `source`: which file did
 * (ending in "-heuristic" when guessed from environment variables).
 */
export interface ReportContainer {
  readonly runtime: string;
  readonly id: string;
  readonly name: string | null;
  readonly image: string | null;
  readonly kubernetes: ReportKubernetesPod | null;
  readonly ecs: ReportEcsTask | null;
  readonly source: string | null;
}

export interface CallerProcess {
  readonly comm: string;
  readonly exe: string | null;
  readonly cmdline: readonly string[];
  readonly uid: number;
  readonly user: string | null;
  readonly cgroup: string | null;
  readonly container: ReportContainer | null;
  readonly kubernetesPodUid: string | null;
  readonly systemdUnit: string | null;
  /** Parent chain of the first process seen, nearest first. */
  readonly parents: readonly ParentProcess[];
  /** Process ids seen (first ones only; a cron job has a new one every run). */
  readonly pids: readonly number[];
}

export interface PathCount {
  /** Without the query string. */
  readonly path: string;
  readonly category: PathCategory | null;
  readonly v1: number;
  readonly v2: number;
  readonly tokenRequests: number;
}

export interface CallerReport {
  readonly host: string;
  readonly caller: CallerIdentity;
  /** Null offline (and when live attribution failed). */
  readonly process: CallerProcess | null;
  readonly clientIps: readonly string[];
  /** null stands for "no User-Agent header". */
  readonly userAgents: readonly (string | null)[];
  readonly sdk: SdkInfo | null;
  readonly v1: number;
  readonly v2: number;
  readonly tokenRequests: number;
  /** Response status counts of all calls ("none": no response seen). */
  readonly statuses: Readonly<Record<string, number>>;
  /** Response status counts of the IMDSv1 calls only (401: tokens already required). */
  readonly v1Statuses: Readonly<Record<string, number>>;
  /** Response status counts of the token requests only. */
  readonly tokenRequestStatuses: Readonly<Record<string, number>>;
  /** A credential path was requested with IMDSv1. */
  readonly credentialPaths: boolean;
  /** Most-called paths first; at most the per-caller path limit. */
  readonly paths: readonly PathCount[];
  /** Calls to paths beyond the per-caller path limit. */
  readonly otherPathCalls: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly reason: V1Reason | null;
  /** Set when `reason` is "fallback". */
  readonly fallbackCause: FallbackCause | null;
  /** true: in a container (live); false: on the instance itself (live); null: unknown (offline). */
  readonly inContainer: boolean | null;
  readonly advice: string;
  readonly timeline: TimelineSnapshot | null;
}

/** How a fix's program is recognised on every host (see program-identity.ts). */
export type ProgramIdentifiedBy =
  | "image"
  | "kubernetes-workload"
  | "ecs-task-family"
  | "container-name"
  | "command-line"
  | "user-agent"
  | "unidentified";

export interface ProgramIdentity {
  readonly identifiedBy: ProgramIdentifiedBy;
  /** The identity itself: image reference, "namespace/workload", normalised command line, client name, ... */
  readonly name: string;
  /** From what it was read: which field or file, and the rule when derived. */
  readonly from: string;
  /** Inferred rather than read (a workload from its pod name; a client assumed for a missing User-Agent). */
  readonly derived: boolean;
}

/** Where a fix's program runs, as far as containers were named (each list capped, with a count). */
export interface FixPlacement {
  /** Kubernetes "namespace/workload" (the pod when no workload is evident), derived ones marked "(derived)". */
  readonly workloads: readonly string[];
  readonly workloadCount: number;
  /** Container images. */
  readonly images: readonly string[];
  readonly imageCount: number;
  /** ECS "cluster family:revision container". */
  readonly ecsTasks: readonly string[];
  readonly ecsTaskCount: number;
}

/**
 * One distinct thing to change: the callers, on any number of hosts, of one program (see
 * ProgramIdentity) that use IMDSv1 for one reason. Counts are over every caller of the fix.
 */
export interface FixReport {
  /** Stable for the same program and reason (a hash of both): "fix-" and 8 hex digits. */
  readonly id: string;
  /** One line for people: the program and what is wrong ("PROGRAM: PROBLEM"). */
  readonly title: string;
  /** What is wrong and the change, in a few words (the title's end). */
  readonly problem: string;
  readonly reason: V1Reason;
  readonly fallbackCause: FallbackCause | null;
  readonly program: ProgramIdentity;
  /** The client named by the User-Agent of the fix's first caller (null: unrecognised). */
  readonly sdk: SdkInfo | null;
  readonly placement: FixPlacement;
  /** Hosts with at least one caller of this fix: each is blocked (NOT_READY) until it is done. */
  readonly hostCount: number;
  /** The first hosts by label order (host labels: `i-0abc... (web-1)`). */
  readonly exampleHosts: readonly string[];
  /** Callers (one program on one host) grouped here. */
  readonly callerCount: number;
  readonly v1: number;
  readonly v2: number;
  readonly tokenRequests: number;
  /** Credentials were fetched with IMDSv1 by some caller of the fix. */
  readonly credentialPaths: boolean;
  /** Hosts on which they were. */
  readonly credentialHostCount: number;
  /** true: every caller runs in a container; false: none does; null: unknown or mixed. */
  readonly inContainer: boolean | null;
  /** The hosts of this fix need the PUT response hop limit raised to 2 (containers). */
  readonly hopLimitNeeded: boolean;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly advice: string;
}

/** Fixes beyond the listed limit: counted, not listed. */
export interface FixesNotListed {
  readonly fixes: number;
  readonly callers: number;
  readonly v1: number;
}

export interface MalformedLine {
  readonly path: string;
  /** 1-based line number. */
  readonly line: number;
  readonly problem: string;
}

export interface ReportLimits {
  readonly maxHosts: number;
  readonly maxCallersPerHost: number;
  readonly maxCallers: number;
  readonly maxPathsPerCaller: number;
  readonly maxListedMalformedLines: number;
  /** Fixes listed in `fixes` (the rest are counted in `fixesNotListed`). */
  readonly maxFixes: number;
}

export interface ImdsReport {
  readonly schema: typeof reportSchema;
  readonly verdict: Verdict;
  readonly verdictReasons: readonly string[];
  /** READY needs a window at least this long (boot-time, daily and credential-refresh callers). */
  readonly minimumWindowSeconds: number;
  /** For a single host its commands; for a fleet the commands with `INSTANCE_ID` to fill in. */
  readonly enforcement: Enforcement;
  readonly window: ReportWindow;
  /** Every call (hosts beyond the limit too) over time, 120 buckets at most; null without calls. */
  readonly timeline: TimelineSnapshot | null;
  readonly capture: CaptureHealth;
  readonly totals: CallTotals;
  /** Worst verdict first, then by name. */
  readonly hosts: readonly HostReport[];
  /** Most IMDSv1 calls first. */
  readonly callers: readonly CallerReport[];
  /**
   * What must change, over every host: IMDSv1 callers grouped by program and reason. Most
   * hosts blocked first (ties: most IMDSv1 calls).
   */
  readonly fixes: readonly FixReport[];
  readonly fixesNotListed: FixesNotListed;
  /** IMDSv1 calls in no fix: from callers beyond the caller limits (counted per host in `untrackedCalls`). */
  readonly v1CallsNotInFixes: number;
  /** Calls from hosts beyond the host limit: counted in `totals`, not listed. */
  readonly untrackedHostCalls: CallTotals;
  readonly malformedLines: readonly MalformedLine[];
  readonly limits: ReportLimits;
}
