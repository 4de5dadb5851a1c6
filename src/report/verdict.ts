import { bootWindowToleranceSeconds } from "../summary.js";
import { formatDuration, formatShare, plural, truncateText } from "./format.js";
import { describeUnclassified } from "./incomplete-requests.js";
import type { CallerReport, CallTotals, CaptureHealth, Enforcement, ReportWindow, Verdict } from "./types.js";

/**
 * The shortest window that can be READY by default: a day covers daily jobs, hourly credential
 * refreshes and agents' periodic calls. Boot-time callers (cloud-init, agents starting) are seen
 * only when the capture ran through a boot: the capture service starts at boot, and its summary
 * says whether it did (`window.includesBoot`). A long window without a boot is still READY, with
 * that caveat in the reasons: a boot cannot be waited for, and the daily callers matter more.
 */
export const defaultMinimumWindowSeconds = 86_400;

export const instanceIdPlaceholder = "INSTANCE_ID";

export function enforceCommand(instanceId: string): string {
  return `aws ec2 modify-instance-metadata-options --instance-id ${instanceId} --http-tokens required`;
}

export function hopLimitCommand(instanceId: string): string {
  return `aws ec2 modify-instance-metadata-options --instance-id ${instanceId} --http-put-response-hop-limit 2`;
}

/** What the verdict of one host rests on. */
export interface HostVerdictInput {
  readonly host: string;
  /** Put into the enforcement commands; null gives the `INSTANCE_ID` placeholder. */
  readonly instanceId: string | null;
  /** All calls (listed callers and callers beyond the limit). */
  readonly totals: CallTotals;
  readonly untrackedCalls: CallTotals;
  /** Calls counted by the analysis summaries, or null without a summary. */
  readonly summaryCalls: CallTotals | null;
  readonly window: ReportWindow;
  readonly capture: CaptureHealth;
  /** This host's callers, most IMDSv1 calls first. */
  readonly callers: readonly CallerReport[];
  readonly minimumWindowSeconds: number;
}

export interface HostVerdict {
  readonly verdict: Verdict;
  readonly verdictReasons: string[];
  readonly enforcement: Enforcement;
  /** Why an UNKNOWN host cannot be trusted, as codes (empty otherwise): the fleet groups hosts by them. */
  readonly unknownCauses: UnknownCause[];
}

/** Why a window without IMDSv1 calls cannot be trusted. */
export type UnknownCause =
  | "nothing-observed" | "short-window" | "packets-dropped" | "events-not-written" | "capture-interrupted" | "malformed-lines" | "source-errors"
  | "lost-traffic" | "unclassified-requests";

interface Doubt {
  readonly cause: UnknownCause;
  readonly text: string;
}

/** Callers named in a NOT READY reason; the rest are counted. */
const maxNamedCallers = 3;

/**
 * NOT_READY when any IMDSv1 call is known (calls in the events, or counted by a summary):
 * dropped packets can only hide more callers. Otherwise UNKNOWN when the window cannot be
 * trusted: nothing observed, shorter than the minimum, packets dropped, event lines malformed,
 * sources unreadable, or the analysis lost track of traffic. Otherwise READY. Every verdict
 * states the window and the capture health.
 */
export function judgeHost(input: HostVerdictInput): HostVerdict {
  const reasons: string[] = [];
  const v1Callers = input.callers.filter((caller) => caller.v1 > 0);
  const summaryV1 = input.summaryCalls?.v1 ?? 0;
  const knownV1 = Math.max(input.totals.v1, summaryV1);
  const hopLimitNeeded = v1Callers.some(needsHopLimit);
  const trackedV1 = v1Callers.reduce((sum, caller) => sum + caller.v1, 0);
  const refusedV1 = v1Callers.reduce((sum, caller) => sum + (caller.v1Statuses["401"] ?? 0), 0);
  const tokensAlreadyRequired = knownV1 > 0 && input.untrackedCalls.v1 === 0 && summaryV1 <= input.totals.v1 && refusedV1 === trackedV1;

  let verdict: Verdict;
  let unknownCauses: UnknownCause[] = [];
  if (knownV1 > 0) {
    verdict = "NOT_READY";
    if (v1Callers.length > 0) reasons.push(describeV1Callers(trackedV1, v1Callers));
    if (input.untrackedCalls.v1 > 0) {
      const calls = plural(input.untrackedCalls.v1, v1Callers.length > 0 ? "further IMDSv1 call" : "IMDSv1 call");
      reasons.push(`${calls} came from callers beyond the caller limit (not listed).`);
    }
    if (summaryV1 > input.totals.v1) {
      reasons.push(
        `The analysis summaries count ${plural(summaryV1, "IMDSv1 call")} but the events given hold ${input.totals.v1}: give every event file to see all callers.`,
      );
    }
    if (tokensAlreadyRequired) {
      reasons.push("Every IMDSv1 call got 401: tokens already appear to be required here, and these callers fail today.");
    }
    if (hopLimitNeeded) reasons.push("Containers here need the PUT response hop limit raised to 2 to get tokens.");
  } else {
    const doubts = windowDoubts(input);
    verdict = doubts.length > 0 ? "UNKNOWN" : "READY";
    if (verdict === "READY") reasons.push(describeQuietWindow(input));
    reasons.push(...doubts.map((doubt) => doubt.text));
    unknownCauses = doubts.map((doubt) => doubt.cause);
  }
  reasons.push(...describeHealth(input, verdict === "READY"));

  const instanceId = input.instanceId ?? instanceIdPlaceholder;
  const commands = hopLimitNeeded ? [hopLimitCommand(instanceId), enforceCommand(instanceId)] : [enforceCommand(instanceId)];
  return { verdict, verdictReasons: reasons, enforcement: { commands, hopLimitNeeded, tokensAlreadyRequired }, unknownCauses };
}

/** A container (known, or possible offline) whose token PUT answers are lost needs hop limit 2. */
function needsHopLimit(caller: CallerReport): boolean {
  if (caller.v1 === 0) return false;
  if (caller.reason === "fallback" && (caller.fallbackCause === "put-unanswered" || caller.fallbackCause === "put-answer-lost")) {
    return caller.inContainer !== false;
  }
  if (caller.inContainer !== true) return false;
  // In a container: an SDK that falls back or must be upgraded needs the hop limit to get
  // tokens, and so does a script whose token PUT went unanswered.
  return caller.reason === "fallback" || caller.reason === "sdk-too-old" || (caller.tokenRequestStatuses["none"] ?? 0) > 0;
}

function describeV1Callers(v1Calls: number, v1Callers: readonly CallerReport[]): string {
  const named = v1Callers
    .slice(0, maxNamedCallers)
    .map((caller) => `${truncateText(caller.caller.label, 100)} (${caller.reason ?? "unknown"}, ${caller.v1} v1)`);
  const more = v1Callers.length > maxNamedCallers ? ` and ${plural(v1Callers.length - maxNamedCallers, "more caller")}` : "";
  return `${plural(v1Calls, "IMDSv1 call")} from ${plural(v1Callers.length, "caller")} must change first: ${named.join("; ")}${more}.`;
}

function describeQuietWindow(input: HostVerdictInput): string {
  const { window, totals } = input;
  const span = `${formatDuration(window.durationSeconds ?? 0)} (${window.start ?? "?"} to ${window.end ?? "?"})`;
  const calls = totals.v2 + totals.tokenRequests;
  if (calls === 0) return `No IMDS calls at all in ${span}.`;
  return `No IMDSv1 calls in ${span}: ${plural(totals.v2, "IMDSv2 call")} and ${plural(totals.tokenRequests, "token request")} from ${plural(input.callers.length, "caller")}.`;
}

/** Why a window without IMDSv1 calls cannot be trusted; empty when it can. */
function windowDoubts(input: HostVerdictInput): Doubt[] {
  const doubts: Doubt[] = [];
  const doubt = (cause: UnknownCause, text: string): void => { doubts.push({ cause, text }); };
  const { window, capture } = input;
  const minimum = formatDuration(input.minimumWindowSeconds);
  const unclassified = capture.unclassifiedRequests;
  if (unclassified.total > 0) {
    // First: it is about calls that were seen, and says how to see them whole.
    doubt(
      "unclassified-requests",
      `${plural(unclassified.total, "IMDS request")} could not be classified as IMDSv1 or IMDSv2: ${describeUnclassified(unclassified)}. Any of them may be IMDSv1.`,
    );
  }
  if (window.durationSeconds === null) {
    doubt("nothing-observed", "Nothing was observed: no IMDS calls, and no live capture summary says how long was watched.");
  } else if (window.durationSeconds < input.minimumWindowSeconds) {
    const calls = input.totals.v2 + input.totals.tokenRequests;
    const seen = calls === 0 ? "No IMDS calls seen" : "No IMDSv1 calls seen";
    doubt(
      "short-window",
      `${seen}, but the window (${formatDuration(window.durationSeconds)}) is shorter than ${minimum}: boot-time, daily and credential-refresh callers may not have run (capture from boot for at least ${minimum}).`,
    );
  }
  if (capture.framesDropped !== null && capture.framesDropped > 0) {
    doubt("packets-dropped", `${plural(capture.framesDropped, "packet was", "packets were")} dropped by the kernel or interface: they may have held IMDSv1 calls.`);
  }
  if (capture.eventsNotWritten > 0) {
    doubt("events-not-written", `${plural(capture.eventsNotWritten, "event was", "events were")} not written (the events file could not take them): they may have been IMDSv1 calls.`);
  }
  if (capture.secondsWithoutCapture > 0) {
    doubt("capture-interrupted", `The capture was interrupted for ${formatDuration(capture.secondsWithoutCapture)} (the interface went down or away): calls then were not seen.`);
  }
  if (capture.malformedLines > 0) {
    doubt("malformed-lines", `${plural(capture.malformedLines, "malformed event line was", "malformed event lines were")} skipped: they may have held IMDSv1 calls.`);
  }
  if (capture.sourceErrors.length > 0) {
    doubt("source-errors", `${plural(capture.sourceErrors.length, "source")} could not be read to the end: ${truncateText(capture.sourceErrors[0]!, 200)}.`);
  }
  if (capture.possiblyMissedRequests > 0) {
    doubt(
      "lost-traffic",
      `The analysis lost track of some IMDS traffic (${capture.possiblyMissedRequests} TCP gaps, unparsable requests, evicted connections or requests seen only by their response): IMDSv1 calls may be missing.`,
    );
  }
  return doubts;
}

/** The window and capture health, stated with every verdict. */
function describeHealth(input: HostVerdictInput, ready: boolean): string[] {
  const { window, capture } = input;
  const lines: string[] = [];
  if (window.durationSeconds !== null && !ready) {
    lines.push(`Observed ${formatDuration(window.durationSeconds)} (${window.start ?? "?"} to ${window.end ?? "?"}).`);
  }
  lines.push(
    capture.framesDropped === null
      ? "Packet drops unknown: capture files do not record them (tcpdump prints its drop count when it stops)."
      : `Packets dropped: ${capture.framesDropped}.`,
  );
  lines.push(
    capture.attributionCoverage === null
      ? "No process attribution (offline analysis): callers are known by client address and User-Agent."
      : `Attribution: ${formatShare(capture.attributionCoverage)} of live calls named their process.`,
  );
  if (ready) lines.push(describeBoot(window.includesBoot));
  return lines;
}

/** Whether boot-time callers were watched: said with every READY verdict. */
export function describeBoot(includesBoot: boolean | null): string {
  const tolerance = formatDuration(bootWindowToleranceSeconds);
  if (includesBoot === true) {
    return `The window included a boot (the capture started within ${tolerance} of it): boot-time callers (cloud-init, agents starting) were watched.`;
  }
  if (includesBoot === false) {
    return "The window did not include a boot: boot-time-only callers (cloud-init, agents starting) may not have been observed (run the capture service from boot, or capture through a reboot).";
  }
  return "Whether the window included a boot is unknown (no live capture summary says so): boot-time-only callers (cloud-init, agents starting) may not have been observed.";
}

export interface FleetHost {
  readonly host: string;
  readonly verdict: Verdict;
}

/**
 * The fleet: NOT_READY when any host is (or a host beyond the host limit made IMDSv1 calls);
 * else UNKNOWN when any host is, when there are no hosts, or when hosts beyond the limit were
 * not judged; else READY.
 */
export function judgeFleet(hosts: readonly FleetHost[], untrackedHostCalls: CallTotals): { verdict: Verdict; verdictReasons: string[] } {
  const reasons: string[] = [];
  const byVerdict = (verdict: Verdict): string[] => hosts.filter((host) => host.verdict === verdict).map((host) => host.host);
  const notReady = byVerdict("NOT_READY");
  const unknown = byVerdict("UNKNOWN");
  const ready = byVerdict("READY");
  const untrackedCalls = untrackedHostCalls.v1 + untrackedHostCalls.v2 + untrackedHostCalls.tokenRequests;
  const list = (names: string[]): string =>
    names.slice(0, 10).join(", ") + (names.length > 10 ? ` and ${names.length - 10} more` : "");
  if (notReady.length > 0) reasons.push(`${notReady.length} of ${plural(hosts.length, "host")} NOT READY: ${list(notReady)}.`);
  if (untrackedHostCalls.v1 > 0) reasons.push(`${plural(untrackedHostCalls.v1, "IMDSv1 call")} came from hosts beyond the host limit (not listed).`);
  if (unknown.length > 0) reasons.push(`${unknown.length} of ${plural(hosts.length, "host")} UNKNOWN: ${list(unknown)}.`);
  if (untrackedCalls > 0 && untrackedHostCalls.v1 === 0) reasons.push(`${plural(untrackedCalls, "call")} came from hosts beyond the host limit, which were not judged.`);
  if (ready.length > 0) reasons.push(`${ready.length} of ${plural(hosts.length, "host")} READY.`);
  if (hosts.length === 0 && untrackedCalls === 0) reasons.push("Nothing was observed: no events and no summaries.");
  const verdict: Verdict =
    notReady.length > 0 || untrackedHostCalls.v1 > 0 ? "NOT_READY" : unknown.length > 0 || hosts.length === 0 || untrackedCalls > 0 ? "UNKNOWN" : "READY";
  return { verdict, verdictReasons: reasons };
}
