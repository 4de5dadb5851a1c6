/** Wording shared by the Markdown and HTML renderings (plain text; each renderer escapes it). */
import { bootWindowToleranceSeconds } from "../summary.js";
import { describeUnclassified } from "./incomplete-requests.js";
import { describeContainer } from "./container-names.js";
import { formatDuration, formatShare, plural } from "./format.js";
import { hostLabel } from "./host-identity.js";
import type { CallerReport, PathCount, CaptureHealth, Enforcement, FixReport, HostReport, ImdsReport, ReportWindow, V1Reason, Verdict } from "./types.js";
import type { UnknownCause } from "./verdict.js";

export function verdictLabel(verdict: Verdict): string {
  return verdict === "NOT_READY" ? "NOT READY" : verdict;
}

export function verdictSummary(verdict: Verdict): string {
  switch (verdict) {
    case "READY":
      return "No IMDSv1 calls in a long enough, healthy window: tokens can be required.";
    case "NOT_READY":
      return "IMDSv1 callers must change before tokens can be required.";
    case "UNKNOWN":
      return "No IMDSv1 calls seen, but the observation cannot be trusted yet.";
  }
}

export function reasonLabel(reason: V1Reason | null): string {
  switch (reason) {
    case null:
      return "IMDSv2 only";
    case "sdk-too-old":
      return "SDK too old";
    case "fallback":
      return "fallback";
    case "no-token-support":
      return "no token support";
    case "unknown":
      return "unknown";
  }
}

/** What to say before the enforcement commands. */
export function enforcementIntro(verdict: Verdict, enforcement: Enforcement, fleet: boolean): string {
  const target = fleet ? " on each host (INSTANCE_ID: its instance id)" : "";
  if (enforcement.tokensAlreadyRequired) {
    return `Every IMDSv1 call got 401: tokens already appear to be required; the callers above fail today. Once they are fixed, the setting to keep${target} is:`;
  }
  const hop = enforcement.hopLimitNeeded ? " (first raise the PUT response hop limit so containers get tokens)" : "";
  switch (verdict) {
    case "READY":
      return `Require tokens${target}${hop}:`;
    case "NOT_READY":
      return `After the callers below are fixed, require tokens${target}${hop}:`;
    case "UNKNOWN":
      return `Not yet: watch longer or fix the capture first (see above). When the verdict is READY, require tokens${target}${hop}:`;
  }
}

export function windowText(window: ReportWindow): string {
  if (window.start === null || window.end === null || window.durationSeconds === null) return "nothing observed";
  return `${window.start} to ${window.end} (${formatDuration(window.durationSeconds)})`;
}

export function healthRows(report: Pick<ImdsReport, "window" | "totals">, capture: CaptureHealth): [string, string][] {
  const rows: [string, string][] = [
    ["Window", windowText(report.window)],
    ["Boot in window", bootText(report.window.includesBoot)],
    ["Calls", `IMDSv1 ${report.totals.v1}, IMDSv2 ${report.totals.v2}, token requests ${report.totals.tokenRequests}`],
    ["Frames read", capture.framesRead === null ? "unknown (no analysis summary given)" : String(capture.framesRead)],
    ["Packets dropped", capture.framesDropped === null ? "unknown (capture files do not record drops)" : String(capture.framesDropped)],
    [
      "Attribution coverage",
      capture.attributionCoverage === null ? "not available (offline analysis)" : `${formatShare(capture.attributionCoverage)} of live calls`,
    ],
    ["Malformed event lines", String(capture.malformedLines)],
  ];
  if (capture.possiblyMissedRequests > 0) rows.push(["Possibly missed requests", String(capture.possiblyMissedRequests)]);
  if (capture.framesSnaplenCut > 0) rows.push(["Frames cut by the snaplen", String(capture.framesSnaplenCut)]);
  if (capture.unclassifiedRequests.total > 0) {
    rows.push(["IMDS requests not classified", `${capture.unclassifiedRequests.total}: ${describeUnclassified(capture.unclassifiedRequests)}`]);
  }
  if (capture.eventsNotWritten > 0) rows.push(["Events not written", String(capture.eventsNotWritten)]);
  if (capture.secondsWithoutCapture > 0) rows.push(["Capture interrupted", formatDuration(capture.secondsWithoutCapture)]);
  if (capture.sourceErrors.length > 0) rows.push(["Source errors", capture.sourceErrors.join("; ")]);
  return rows;
}

/** Whether the window included a boot, in a few words. */
export function bootText(includesBoot: boolean | null): string {
  if (includesBoot === true) return `yes (the capture started within ${formatDuration(bootWindowToleranceSeconds)} of a boot)`;
  if (includesBoot === false) return "no: boot-time-only callers (cloud-init, agents starting) may not have been observed";
  return "unknown (no live capture summary; capture files do not record the boot)";
}

/** "200×2 401×1 none×1" */
export function statusesText(statuses: Readonly<Record<string, number>>): string {
  const parts = Object.entries(statuses).map(([status, count]) => `${status}\u00d7${count}`);
  return parts.length === 0 ? "-" : parts.join(" ");
}

export function sdkText(caller: CallerReport): string {
  const sdk = caller.sdk;
  if (sdk === null) return "unrecognised";
  const version = sdk.version === null ? "" : ` ${sdk.version}`;
  const judged = sdk.judgedBy === null ? "" : ` (${sdk.judgedBy.name} ${sdk.judgedBy.version})`;
  const support =
    sdk.supportsImdsV2 === true
      ? sdk.minimumForImdsV2 === null ? "" : `, supports IMDSv2 (minimum ${sdk.minimumForImdsV2})`
      : sdk.supportsImdsV2 === false
        ? sdk.minimumForImdsV2 === null ? ", sends no token by itself" : `, too old for IMDSv2 (minimum ${sdk.minimumForImdsV2})`
        : "";
  return `${sdk.displayName}${version}${judged}${support}`;
}

export function userAgentsText(caller: CallerReport): string {
  return caller.userAgents.map((userAgent) => userAgent ?? "(no User-Agent)").join(" | ") || "-";
}

export function processLines(caller: CallerReport): [string, string][] {
  const process = caller.process;
  if (process === null) return [];
  const lines: [string, string][] = [["Command line", process.cmdline.join(" ") || "(empty)"]];
  if (process.exe !== null) lines.push(["Executable", process.exe]);
  lines.push(["User", `${process.user ?? "?"} (uid ${process.uid})`]);
  if (process.container !== null) {
    const container = process.container;
    const source = container.source === null ? "" : `; named by ${container.source}`;
    lines.push(["Container", `${describeContainer(container)} (${container.runtime} ${container.id}${source})`]);
  }
  if (process.kubernetesPodUid !== null) lines.push(["Kubernetes pod", process.kubernetesPodUid]);
  if (process.systemdUnit !== null) lines.push(["systemd unit", process.systemdUnit]);
  if (process.pids.length > 0) lines.push(["Process ids", process.pids.join(", ")]);
  if (process.parents.length > 0) {
    lines.push(["Parents", process.parents.map((parent) => `${parent.pid} ${parent.cmdline.join(" ") || parent.comm}`).join(" <- ")]);
  }
  return lines;
}

/** "v1 2, token requests 1": the non-zero counts of a path. */
export function pathCountsText(path: PathCount): string {
  const parts: string[] = [];
  if (path.v1 > 0) parts.push(`v1 ${path.v1}`);
  if (path.v2 > 0) parts.push(`v2 ${path.v2}`);
  if (path.tokenRequests > 0) parts.push(`token requests ${path.tokenRequests}`);
  return parts.join(", ");
}

/** The first paths of a caller for a table cell; `more` counts the distinct paths not shown (and "further paths"). */
export function pathsSummary(caller: CallerReport, maxPaths = 3): { paths: readonly PathCount[]; more: number } {
  const paths = caller.paths.slice(0, maxPaths);
  return { paths, more: caller.paths.length - paths.length + (caller.otherPathCalls > 0 ? 1 : 0) };
}

/** Hosts per verdict, worst first (every verdict listed, zeros included). */
export function verdictCounts(hosts: readonly HostReport[]): [Verdict, number][] {
  const counts: Record<Verdict, number> = { NOT_READY: 0, UNKNOWN: 0, READY: 0 };
  for (const host of hosts) counts[host.verdict]++;
  return [["NOT_READY", counts.NOT_READY], ["UNKNOWN", counts.UNKNOWN], ["READY", counts.READY]];
}

export function unknownCauseLabel(cause: UnknownCause): string {
  switch (cause) {
    case "nothing-observed":
      return "nothing observed";
    case "short-window":
      return "window shorter than the minimum";
    case "packets-dropped":
      return "packets dropped";
    case "events-not-written":
      return "events not written (disk full, file gone)";
    case "capture-interrupted":
      return "capture interrupted (interface down or gone)";
    case "malformed-lines":
      return "malformed event lines";
    case "source-errors":
      return "sources not read to the end";
    case "lost-traffic":
      return "traffic lost by the analysis (TCP gaps, unparsable requests, evicted flows)";
    case "unclassified-requests":
      return "IMDS requests seen only in part, not classified (snaplen cuts, missing bytes, malformed heads)";
  }
}

export interface UnknownCauseGroup {
  readonly cause: UnknownCause;
  readonly hostCount: number;
  /** The first host labels, in the hosts' order. */
  readonly examples: readonly string[];
}

/** UNKNOWN hosts grouped by cause (a host with two causes counts in both), most hosts first. */
export function unknownHostsByCause(hosts: readonly HostReport[], maxExamples = 5): UnknownCauseGroup[] {
  const groups = new Map<UnknownCause, { hostCount: number; examples: string[] }>();
  for (const host of hosts) {
    if (host.verdict !== "UNKNOWN") continue;
    for (const cause of host.unknownCauses) {
      let group = groups.get(cause);
      if (group === undefined) {
        group = { hostCount: 0, examples: [] };
        groups.set(cause, group);
      }
      group.hostCount++;
      if (group.examples.length < maxExamples) group.examples.push(hostLabel(host));
    }
  }
  return [...groups.entries()].map(([cause, group]) => ({ cause, ...group })).sort((a, b) => b.hostCount - a.hostCount);
}

/** "image `X` (from the container's image (containerd-bundle))" parts of a fix, for details. */
export function fixProgramText(fix: FixReport): string {
  const what: Record<FixReport["program"]["identifiedBy"], string> = {
    image: "container image",
    "kubernetes-workload": "Kubernetes workload",
    "ecs-task-family": "ECS task family",
    "container-name": "container name",
    "command-line": "command line",
    "user-agent": "client named by the User-Agent",
    unidentified: "unrecognised User-Agent",
  };
  return `${what[fix.program.identifiedBy]}${fix.program.derived ? " (derived)" : ""}, from ${fix.program.from}`;
}

/** Where a fix's program runs: workloads, images, ECS tasks (each list with its full count). */
export function fixPlacementLines(fix: FixReport): [string, string][] {
  const lines: [string, string][] = [];
  const list = (names: readonly string[], count: number): string => names.join(", ") + (count > names.length ? ` and ${count - names.length} more` : "");
  const placement = fix.placement;
  if (placement.workloadCount > 0) lines.push([placement.workloadCount === 1 ? "Workload" : "Workloads", list(placement.workloads, placement.workloadCount)]);
  if (placement.imageCount > 0) lines.push([placement.imageCount === 1 ? "Image" : "Images", list(placement.images, placement.imageCount)]);
  if (placement.ecsTaskCount > 0) lines.push([placement.ecsTaskCount === 1 ? "ECS task" : "ECS tasks", list(placement.ecsTasks, placement.ecsTaskCount)]);
  return lines;
}

/** "IMDSv1 3,180 on 212 hosts; credentials fetched with IMDSv1 on 200 hosts". */
export function fixCallsText(fix: FixReport): string {
  const credentials = fix.credentialPaths ? `; credentials fetched with IMDSv1 on ${plural(fix.credentialHostCount, "host")}` : "";
  return `IMDSv1 ${fix.v1}, IMDSv2 ${fix.v2}, token requests ${fix.tokenRequests} from ${plural(fix.callerCount, "caller")}${credentials}`;
}

/** What the fix list leaves out, when anything: fixes beyond the limit, calls of untracked callers. */
export function fixesCutText(report: ImdsReport): string | null {
  const parts: string[] = [];
  if (report.fixesNotListed.fixes > 0) {
    parts.push(`${plural(report.fixesNotListed.fixes, "further fix", "further fixes")} (${plural(report.fixesNotListed.v1, "IMDSv1 call")}) beyond the fix limit are counted, not listed`);
  }
  if (report.v1CallsNotInFixes > 0) {
    parts.push(`${plural(report.v1CallsNotInFixes, "IMDSv1 call")} came from callers beyond the caller limits and are in no fix (hosts' untrackedCalls)`);
  }
  return parts.length === 0 ? null : `${parts.join("; ")}.`;
}
