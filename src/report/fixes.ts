/**
 * The fix list: every IMDSv1 caller of every host grouped into one entry per distinct thing to
 * change: the program (program-identity.ts) and why it uses IMDSv1 (reason, fallback cause and,
 * when the version is what must change, the SDK version). Built from the callers the report
 * already holds (bounded by the caller limits), so its memory is bounded too; at most
 * `maxFixes` are listed, the rest counted.
 */
import { compareText } from "./caller-aggregate.js";
import { describeContainer, workloadOfPod } from "./container-names.js";
import { adviceText } from "./diagnose.js";
import type { AdviceInput } from "./diagnose.js";
import { plural, truncateText } from "./format.js";
import { programOfCaller } from "./program-identity.js";
import type { CallerReport, FallbackCause, FixesNotListed, FixPlacement, FixReport, ProgramIdentity, ReportContainer, V1Reason } from "./types.js";
import type { SdkInfo } from "./user-agent.js";

/** Example hosts named per fix; workloads, images and tasks listed per fix. */
export const maxExampleHosts = 5;
const maxPlacementNames = 10;

/** What groups callers into one fix, beyond the program: the part of the SDK the fix is about. */
function sdkPart(reason: V1Reason, sdk: SdkInfo | null): string {
  if (sdk === null) return "";
  // Too old: the version is what must change, so two versions are two fixes (two upgrades).
  if (reason === "sdk-too-old") return `${sdk.name} ${sdk.version ?? ""} ${sdk.judgedBy?.version ?? ""}`;
  return sdk.name;
}

/** The key of a caller's fix: program and reason (callers without IMDSv1 calls have none). */
export function fixKeyOf(caller: CallerReport, program: ProgramIdentity): string | null {
  if (caller.reason === null) return null;
  return [program.identifiedBy, program.name, caller.reason, caller.fallbackCause ?? "", sdkPart(caller.reason, caller.sdk)].join("\u0000");
}

/** FNV-1a over the key's UTF-16 code units: a short id that stays the same across runs. */
export function fixIdOf(key: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `fix-${hash.toString(16).padStart(8, "0")}`;
}

/** A bounded list of distinct names with the count of all distinct names seen. */
class NameList {
  readonly names: string[] = [];
  private readonly seen = new Set<string>();

  add(name: string): void {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    if (this.names.length < maxPlacementNames) this.names.push(name);
  }

  get count(): number {
    return this.seen.size;
  }
}

class FixAggregate {
  readonly hosts = new Set<string>();
  readonly credentialHosts = new Set<string>();
  readonly callers: CallerReport[] = [];
  readonly workloads = new NameList();
  readonly images = new NameList();
  readonly ecsTasks = new NameList();
  v1 = 0;
  v2 = 0;
  tokenRequests = 0;
  firstMs = Number.POSITIVE_INFINITY;
  firstSeen = "";
  lastMs = Number.NEGATIVE_INFINITY;
  lastSeen = "";

  constructor(
    readonly key: string,
    readonly program: ProgramIdentity,
    readonly first: CallerReport,
  ) {}

  add(caller: CallerReport): void {
    this.callers.push(caller);
    this.hosts.add(caller.host);
    if (caller.credentialPaths) this.credentialHosts.add(caller.host);
    this.v1 += caller.v1;
    this.v2 += caller.v2;
    this.tokenRequests += caller.tokenRequests;
    const firstMs = Date.parse(caller.firstSeen);
    const lastMs = Date.parse(caller.lastSeen);
    if (firstMs < this.firstMs) {
      this.firstMs = firstMs;
      this.firstSeen = caller.firstSeen;
    }
    if (lastMs > this.lastMs) {
      this.lastMs = lastMs;
      this.lastSeen = caller.lastSeen;
    }
    const container = caller.process?.container ?? null;
    if (container !== null) this.place(container);
  }

  private place(container: ReportContainer): void {
    if (container.image !== null) this.images.add(container.image);
    const kubernetes = container.kubernetes;
    if (kubernetes !== null && kubernetes.pod !== null) {
      const owner = workloadOfPod(kubernetes.pod);
      const namespace = kubernetes.namespace ?? "?";
      this.workloads.add(owner === null ? `${namespace}/${kubernetes.pod}` : `${namespace}/${owner.name} (${owner.kind ?? "DaemonSet or Job"}, derived)`);
    }
    const ecs = container.ecs;
    if (ecs !== null && ecs.family !== null) {
      const revision = ecs.revision === null ? "" : `:${ecs.revision}`;
      const cluster = ecs.cluster === null ? "" : `${ecs.cluster} `;
      this.ecsTasks.add(`${cluster}${ecs.family}${revision}${ecs.container === null ? "" : ` ${ecs.container}`}`);
    }
  }
}

export interface FixList {
  readonly fixes: FixReport[];
  readonly fixesNotListed: FixesNotListed;
  /** Fix ids per host key, for the host reports (only listed fixes). */
  readonly fixesByHost: ReadonlyMap<string, readonly string[]>;
}

/**
 * Groups the IMDSv1 callers (of every host) into fixes. `hostLabels` maps a host key to how it
 * is shown (`i-0abc... (web-1)`); example hosts are the first labels in code-point order.
 */
export function buildFixList(callers: readonly CallerReport[], hostLabels: ReadonlyMap<string, string>, maxFixes: number): FixList {
  const byKey = new Map<string, FixAggregate>();
  for (const caller of callers) {
    const program = programOfCaller(caller);
    const key = fixKeyOf(caller, program);
    if (key === null) continue;
    let fix = byKey.get(key);
    if (fix === undefined) {
      fix = new FixAggregate(key, program, caller);
      byKey.set(key, fix);
    }
    fix.add(caller);
  }
  const ordered = [...byKey.values()].sort((a, b) => b.hosts.size - a.hosts.size || b.v1 - a.v1 || compareText(a.key, b.key));
  const listed = ordered.slice(0, Math.max(0, maxFixes));
  const notListed = ordered.slice(listed.length);
  const fixes = listed.map((fix) => reportFix(fix, hostLabels));
  const fixesByHost = new Map<string, string[]>();
  listed.forEach((fix, index) => {
    const id = fixes[index]!.id;
    for (const host of fix.hosts) {
      const ids = fixesByHost.get(host);
      if (ids === undefined) fixesByHost.set(host, [id]);
      else ids.push(id);
    }
  });
  return {
    fixes,
    fixesNotListed: {
      fixes: notListed.length,
      callers: notListed.reduce((sum, fix) => sum + fix.callers.length, 0),
      v1: notListed.reduce((sum, fix) => sum + fix.v1, 0),
    },
    fixesByHost,
  };
}

function reportFix(fix: FixAggregate, hostLabels: ReadonlyMap<string, string>): FixReport {
  const first = fix.first;
  const reason = first.reason ?? "unknown";
  const containers = fix.callers.map((caller) => caller.inContainer);
  const inContainer = containers.every((value) => value === true) ? true : containers.every((value) => value === false) ? false : null;
  const labels = [...fix.hosts].map((host) => hostLabels.get(host) ?? host).sort(compareText);
  const placement: FixPlacement = {
    workloads: fix.workloads.names,
    workloadCount: fix.workloads.count,
    images: fix.images.names,
    imageCount: fix.images.count,
    ecsTasks: fix.ecsTasks.names,
    ecsTaskCount: fix.ecsTasks.count,
  };
  const hopLimitNeeded =
    (first.reason === "fallback" && (first.fallbackCause === "put-unanswered" || first.fallbackCause === "put-answer-lost") && inContainer !== false) ||
    (inContainer === true && (reason === "fallback" || reason === "sdk-too-old"));
  const title = fixTitle(fix.program, reason, first.fallbackCause, first.sdk, placement);
  return {
    id: fixIdOf(fix.key),
    title: `${title.who}: ${title.problem}`,
    problem: title.problem,
    reason,
    fallbackCause: first.fallbackCause,
    program: fix.program,
    sdk: first.sdk,
    placement,
    hostCount: fix.hosts.size,
    exampleHosts: labels.slice(0, maxExampleHosts),
    callerCount: fix.callers.length,
    v1: fix.v1,
    v2: fix.v2,
    tokenRequests: fix.tokenRequests,
    credentialPaths: fix.credentialHosts.size > 0,
    credentialHostCount: fix.credentialHosts.size,
    inContainer,
    hopLimitNeeded,
    firstSeen: fix.firstSeen,
    lastSeen: fix.lastSeen,
    advice: adviceText(fixAdviceInput(fix, reason, inContainer)),
  };
}

/** The advice of a fix: a caller's advice, said of the program on all of its hosts. */
function fixAdviceInput(fix: FixAggregate, reason: V1Reason, inContainer: boolean | null): AdviceInput {
  const first = fix.first;
  const hosts = plural(fix.hosts.size, "host");
  const container = first.process?.container ?? null;
  const where =
    fix.program.identifiedBy === "command-line"
      ? `on ${hosts}, as: ${truncateText(fix.program.name, 160)}`
      : container !== null
        ? `on ${hosts}, in ${fix.callers.length > 1 && fix.program.identifiedBy !== "image" ? `${fix.program.name}; e.g. ` : ""}${describeContainer(container)}`
        : first.process === null
          ? `on ${hosts}; offline analysis knows callers by address: a live capture would name the process`
          : `on ${hosts}`;
  return {
    reason,
    fallbackCause: first.fallbackCause,
    failedCause: failedTokenRequestCause(fix.callers),
    sdk: first.sdk,
    inContainer,
    container,
    where,
    v1: fix.v1,
    v2: fix.v2,
    sendsTokensSometimes: fix.v2 > 0 || fix.callers.some((caller) => (caller.tokenRequestStatuses["200"] ?? 0) > 0),
    userAgent: first.userAgents[0],
    allV1Refused: fix.callers.every((caller) => (caller.v1Statuses["401"] ?? 0) === caller.v1),
    unseenTokenAnswers: fix.callers.reduce((sum, caller) => sum + (caller.tokenRequestStatuses["unseen"] ?? 0), 0),
  };
}

/** The most telling failed token PUT of the fix's callers, from their statuses. */
function failedTokenRequestCause(callers: readonly CallerReport[]): FallbackCause | null {
  const count = (status: string): number => callers.reduce((sum, caller) => sum + (caller.tokenRequestStatuses[status] ?? 0), 0);
  if (count("none") > 0) return "put-unanswered";
  if (count("403") > 0) return "put-403";
  if (count("404") > 0) return "put-404";
  if (count("405") > 0) return "put-405";
  return null;
}

function sdkName(sdk: SdkInfo, withVersion: boolean): string {
  const version = withVersion && sdk.version !== null ? ` ${sdk.version}` : "";
  const judged = withVersion && sdk.judgedBy !== null ? ` (${sdk.judgedBy.name} ${sdk.judgedBy.version})` : "";
  return `${sdk.displayName}${version}${judged}`;
}

/** The program as a noun: "image X", "pods of shop/checkout (Deployment, derived)", "curl", ... */
function programText(program: ProgramIdentity, sdk: SdkInfo | null, reason: V1Reason, placement: FixPlacement): string {
  switch (program.identifiedBy) {
    case "image": {
      const workload = placement.workloadCount === 1 ? ` in ${placement.workloads[0]!}` : placement.workloadCount > 1 ? ` in ${placement.workloadCount} workloads` : "";
      return `image ${truncateText(program.name, 120)}${workload}`;
    }
    case "kubernetes-workload":
      return `pods of ${truncateText(program.name, 120)}${program.derived ? " (workload derived from the pod name)" : ""}`;
    case "ecs-task-family":
      return `ECS task family ${truncateText(program.name, 120)}`;
    case "container-name":
      return `container ${truncateText(program.name, 120)}`;
    case "command-line":
      return truncateText(program.name, 120);
    case "user-agent":
      if (sdk === null) return program.name;
      return sdk.assumed ? "client without a User-Agent (maybe the AWS SDK for JavaScript v3)" : sdkName(sdk, reason === "sdk-too-old");
    case "unidentified":
      return `unrecognised client ${truncateText(program.name, 80)}`;
  }
}

/** "AWS CLI v1 1.16.100 (botocore 1.12.90): too old, upgrade to ..." and the like. */
export function fixTitle(program: ProgramIdentity, reason: V1Reason, cause: FallbackCause | null, sdk: SdkInfo | null, placement: FixPlacement): { who: string; problem: string } {
  const client = sdk === null || sdk.assumed || program.identifiedBy === "user-agent" ? "" : ` (${sdkName(sdk, reason === "sdk-too-old")})`;
  return { who: `${programText(program, sdk, reason, placement)}${client}`, problem: fixProblem(reason, cause, sdk) };
}

/** What is wrong and the change, in a few words. */
function fixProblem(reason: V1Reason, cause: FallbackCause | null, sdk: SdkInfo | null): string {
  switch (reason) {
    case "sdk-too-old":
      return `too old for IMDSv2, upgrade to ${sdk?.upgradeTo ?? "a current version"}`;
    case "no-token-support":
      return "IMDSv1 calls written without a token";
    case "unknown":
      return "IMDSv1 calls, cause unknown";
    case "fallback":
      switch (cause) {
        case "put-unanswered":
        case "put-answer-lost":
          return `token PUT ${cause === "put-unanswered" ? "unanswered" : "answer lost"}, then IMDSv1: raise the hop limit to 2`;
        case "put-forwarded-for":
        case "put-403":
          return "token PUT refused (403, a proxy), then IMDSv1: set NO_PROXY";
        case "put-404":
        case "put-405":
          return `token PUT not supported (${cause === "put-404" ? "404" : "405"}, a metadata proxy), then IMDSv1`;
        case "put-not-seen":
        case null:
          return "falls back to IMDSv1 (failed token PUT not in the window)";
      }
  }
}
