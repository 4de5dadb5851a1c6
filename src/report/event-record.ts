import type { ContainerInfo, ImdsEvent } from "../events.js";
import { eventSchema, incompleteCauses, responseMissingCauses } from "../events.js";
import type { AnalysisSummary } from "../summary.js";
import { summarySchema } from "../summary.js";

/**
 * Checks that a parsed NDJSON value is an `imds-analyzer/event@1` event, field by field (event
 * files may come from other hosts and be damaged or hostile). Returns the value itself, typed,
 * or the problem as text. Fields added later under the same version are allowed and ignored;
 * the container names added under this version are null in events written before them.
 */
export function parseEventRecord(value: unknown): ImdsEvent | string {
  if (!isObject(value)) return "not a JSON object";
  const schema = value.schema;
  if (schema !== eventSchema) {
    return typeof schema === "string" ? `unsupported schema ${JSON.stringify(schema.slice(0, 60))}` : "no schema field";
  }
  const problem =
    checkTime(value.time) ??
    check(value.kind === "v1" || value.kind === "v2" || value.kind === "token-request" || value.kind === "unclassified", "kind") ??
    check(typeof value.method === "string", "method") ??
    check(typeof value.path === "string", "path") ??
    // Null only for a request seen in part, cut before its version.
    check(typeof value.httpVersion === "string" || (value.httpVersion === null && isObject(value.incomplete)), "httpVersion") ??
    // Absent in events written before the field existed (read as null: seen whole).
    check(value.incomplete === undefined || value.incomplete === null || isIncomplete(value.incomplete), "incomplete") ??
    check(value.kind !== "unclassified" || isObject(value.incomplete), "incomplete") ??
    check(isStringOrNull(value.userAgent), "userAgent") ??
    check(typeof value.clientIp === "string" && value.clientIp.length <= 64, "clientIp") ??
    check(isPort(value.clientPort), "clientPort") ??
    check(typeof value.serverIp === "string", "serverIp") ??
    check(isPort(value.serverPort), "serverPort") ??
    check(value.status === null || (isInteger(value.status) && value.status >= 100 && value.status <= 999), "status") ??
    // Absent in events written before the field existed (read as null).
    check(value.responseMissing === undefined || value.responseMissing === null || (responseMissingCauses as readonly unknown[]).includes(value.responseMissing), "responseMissing") ??
    check(isInteger(value.frame), "frame") ??
    check(typeof value.source === "string", "source") ??
    checkProcess(value.process) ??
    check(value.attribution === null || isAttribution(value.attribution), "attribution") ??
    check(value.tokenTtlSeconds === null || typeof value.tokenTtlSeconds === "number", "tokenTtlSeconds") ??
    check(typeof value.forwardedFor === "boolean", "forwardedFor") ??
    check(isInteger(value.requestOnConnection), "requestOnConnection") ??
    check(value.host === undefined || value.host === null || typeof value.host === "string", "host") ??
    // Absent in events written before the field existed; a string that is not an instance id
    // is ignored by the report (see instanceIdOfEvent), not an error.
    check(value.instanceId === undefined || isStringOrNull(value.instanceId), "instanceId");
  if (problem !== null) return problem;
  const event = (value.incomplete === undefined || value.responseMissing === undefined
    ? { ...value, incomplete: value.incomplete ?? null, responseMissing: value.responseMissing ?? null }
    : value) as unknown as ImdsEvent;
  return fillContainerNames(event);
}

/** `incomplete`: why a request was seen only in part (docs/EVENTS.md). */
function isIncomplete(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.cause === "string" &&
    (incompleteCauses as readonly string[]).includes(value.cause) &&
    (value.snaplen === null || isCount(value.snaplen)) &&
    isStringOrNull(value.parseError) &&
    typeof value.pathComplete === "boolean"
  );
}

/**
 * Checks the parts of an `imds-analyzer/summary@1` the report uses. Returns the value, typed,
 * or the problem as text.
 */
export function parseSummaryRecord(value: unknown): AnalysisSummary | string {
  if (!isObject(value)) return "not a JSON object";
  if (value.schema !== summarySchema) return "not an imds-analyzer summary";
  const requests = value.requests;
  const diagnostics = value.diagnostics;
  const problem =
    check(isCount(value.framesRead), "framesRead") ??
    check(isObject(requests) && isCount(requests.v1) && isCount(requests.v2) && isCount(requests.tokenRequests), "requests") ??
    check(Array.isArray(value.sources) && value.sources.every(isSourceSummary), "sources") ??
    check(isObject(diagnostics) && isObject(diagnostics.counters) && Object.values(diagnostics.counters as object).every(isCount), "diagnostics") ??
    check(value.live === null || isLiveSummary(value.live), "live") ??
    // Absent in older summaries.
    check(value.incompleteRequests === undefined || isIncompleteRequestsSummary(value.incompleteRequests), "incompleteRequests") ??
    check(value.instanceId === undefined || isStringOrNull(value.instanceId), "instanceId");
  return problem ?? (value as unknown as AnalysisSummary);
}

function check(ok: boolean, field: string): string | null {
  return ok ? null : `field "${field}" is missing or has the wrong type`;
}

function checkTime(time: unknown): string | null {
  if (typeof time !== "string" || time.length > 40) return check(false, "time");
  return Number.isNaN(Date.parse(time)) ? `field "time" is not a date: ${JSON.stringify(time)}` : null;
}

function checkProcess(process: unknown): string | null {
  if (process === null) return null;
  const ok =
    isObject(process) &&
    isInteger(process.pid) &&
    isStringOrNull(process.startTime) &&
    typeof process.comm === "string" &&
    isStringOrNull(process.exe) &&
    isStringArray(process.cmdline) &&
    isInteger(process.uid) &&
    isStringOrNull(process.user) &&
    Array.isArray(process.parents) &&
    process.parents.every((parent) => isObject(parent) && isInteger(parent.pid) && typeof parent.comm === "string" && isStringArray(parent.cmdline)) &&
    isStringOrNull(process.cgroup) &&
    (process.container === null || isContainer(process.container)) &&
    isStringOrNull(process.kubernetesPodUid) &&
    isStringOrNull(process.systemdUnit);
  return check(ok, "process");
}

/**
 * `process.container`: runtime and id, then the names added under the same schema version
 * (absent in older events: `fillContainerNames` makes them null).
 */
function isContainer(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.runtime === "string" &&
    typeof value.id === "string" &&
    isAbsentOrStringOrNull(value.name) &&
    isAbsentOrStringOrNull(value.image) &&
    isAbsentOrStringOrNull(value.source) &&
    (value.kubernetes === undefined || value.kubernetes === null || hasStringOrNullFields(value.kubernetes, kubernetesFields)) &&
    (value.ecs === undefined || value.ecs === null || hasStringOrNullFields(value.ecs, ecsFields))
  );
}

const kubernetesFields = ["namespace", "pod", "podUid", "container"] as const;
const ecsFields = ["cluster", "taskArn", "taskId", "family", "revision", "container"] as const;

function hasStringOrNullFields(value: unknown, fields: readonly string[]): boolean {
  return isObject(value) && Object.values(withNulls(fields, value)).every(isStringOrNull);
}

function isAbsentOrStringOrNull(value: unknown): boolean {
  return value === undefined || isStringOrNull(value);
}

/** Older events carry only runtime and id: the names they lack are null (unknown), as the type says. */
function fillContainerNames(event: ImdsEvent): ImdsEvent {
  const process = event.process;
  if (process?.container == null) return event;
  const container: Fields = process.container;
  const filled = {
    ...container,
    ...withNulls(["name", "image", "source"], container),
    kubernetes: isObject(container.kubernetes) ? withNulls(kubernetesFields, container.kubernetes) : null,
    ecs: isObject(container.ecs) ? withNulls(ecsFields, container.ecs) : null,
  };
  return { ...event, process: { ...process, container: filled as unknown as ContainerInfo } };
}

/** FIELDS of an object, each its value or null when absent. */
function withNulls(fields: readonly string[], from: object): Record<string, unknown> {
  const values = from as Readonly<Record<string, unknown>>;
  return Object.fromEntries(fields.map((field) => [field, values[field] ?? null]));
}

function isAttribution(value: unknown): boolean {
  return (
    isObject(value) &&
    (value.method === "ebpf" || value.method === "proc") &&
    (value.status === "ok" || value.status === "partial" || value.status === "failed") &&
    isStringOrNull(value.reason)
  );
}

function isSourceSummary(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.path === "string" &&
    (value.error === null || (isObject(value.error) && typeof value.error.message === "string"))
  );
}

function isIncompleteRequestsSummary(value: unknown): boolean {
  return (
    isObject(value) &&
    isObject(value.unclassifiedByCause) &&
    Object.values(value.unclassifiedByCause as object).every(isCount) &&
    (value.snaplenBytes === null || isCount(value.snaplenBytes))
  );
}

function isLiveSummary(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.startedAt === "string" &&
    typeof value.stoppedAt === "string" &&
    isCount(value.packetsDroppedByKernel) &&
    isCount(value.packetsDroppedByInterface) &&
    isObject(value.attribution) &&
    isCount(value.attribution.connections) &&
    isCount(value.attribution.attributed) &&
    (value.bootTime === undefined || isStringOrNull(value.bootTime)) &&
    (value.windowIncludesBoot === undefined || value.windowIncludesBoot === null || typeof value.windowIncludesBoot === "boolean") &&
    (value.errors === undefined || isStringArray(value.errors))
  );
}

/** Every field name the checks read, so they can be read with dot access. */
type FieldName =
  | "schema" | "time" | "kind" | "method" | "path" | "httpVersion" | "userAgent" | "clientIp" | "clientPort"
  | "serverIp" | "serverPort" | "status" | "responseMissing" | "frame" | "source" | "process" | "attribution" | "tokenTtlSeconds"
  | "forwardedFor" | "requestOnConnection" | "host" | "pid" | "startTime" | "comm" | "exe" | "cmdline" | "uid"
  | "user" | "parents" | "cgroup" | "container" | "runtime" | "id" | "kubernetesPodUid" | "systemdUnit" | "reason"
  | "framesRead" | "requests" | "v1" | "v2" | "tokenRequests" | "sources" | "diagnostics" | "counters" | "live"
  | "error" | "message" | "startedAt" | "stoppedAt" | "packetsDroppedByKernel" | "packetsDroppedByInterface"
  | "connections" | "attributed" | "instanceId" | "bootTime" | "windowIncludesBoot" | "name" | "image" | "kubernetes"
  | "ecs" | "errors" | "incomplete" | "cause" | "snaplen" | "parseError" | "pathComplete" | "incompleteRequests"
  | "unclassifiedByCause" | "snaplenBytes";
type Fields = Readonly<Partial<Record<FieldName, unknown>>>;

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringOrNull(value: unknown): boolean {
  return value === null || typeof value === "string";
}

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

function isCount(value: unknown): boolean {
  return isInteger(value) && value >= 0;
}

function isPort(value: unknown): boolean {
  return isInteger(value) && value >= 0 && value <= 65_535;
}
