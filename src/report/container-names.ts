/**
 * The container names an event carries under `process.container` (issue 11's attribution:
 * runtime, id, name, image, Kubernetes pod and ECS task, and the file that named them), read
 * defensively: events come from other hosts and may be old (only runtime and id), damaged or
 * hostile, so every field is taken only when it is a string, and capped.
 */
import type { ReportContainer, ReportEcsTask, ReportKubernetesPod } from "./types.js";

/** Longest name or image kept (image references with a digest are ~150 characters). */
const maxNameChars = 256;

type Fields = Readonly<Record<string, unknown>>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value.slice(0, maxNameChars) : null;
}

function kubernetesOf(value: unknown): ReportKubernetesPod | null {
  if (!isFields(value)) return null;
  const pod: ReportKubernetesPod = {
    namespace: text(value["namespace"]),
    pod: text(value["pod"]),
    podUid: text(value["podUid"]),
    container: text(value["container"]),
  };
  return pod.namespace === null && pod.pod === null && pod.podUid === null && pod.container === null ? null : pod;
}

function ecsOf(value: unknown): ReportEcsTask | null {
  if (!isFields(value)) return null;
  const task: ReportEcsTask = {
    cluster: text(value["cluster"]),
    taskArn: text(value["taskArn"]),
    taskId: text(value["taskId"]),
    family: text(value["family"]),
    revision: text(value["revision"]),
    container: text(value["container"]),
  };
  return Object.values(task).every((field) => field === null) ? null : task;
}

/** The report's copy of an event's `process.container`, or null when it has none. */
export function reportContainerOf(container: unknown): ReportContainer | null {
  if (!isFields(container)) return null;
  return {
    runtime: text(container["runtime"]) ?? "unknown",
    id: typeof container["id"] === "string" ? container["id"].slice(0, 128) : "",
    name: text(container["name"]),
    image: text(container["image"]),
    kubernetes: kubernetesOf(container["kubernetes"]),
    ecs: ecsOf(container["ecs"]),
    source: text(container["source"]),
  };
}

/** What a Kubernetes pod name says about the workload that owns it. */
export interface DerivedWorkload {
  /** The owner's name. */
  readonly name: string;
  /** "Deployment", "StatefulSet", "CronJob", or null when the suffix fits a DaemonSet or a Job alike. */
  readonly kind: string | null;
  /** Why: which suffix of the pod name was read. */
  readonly rule: string;
}

/**
 * Kubernetes names generated suffixes from this alphabet (no vowels, no 0, 1, 3: apimachinery's
 * rand.String and SafeEncodeString), so a suffix made of it is very likely generated.
 */
const suffixCharacters = "[bcdfghjklmnpqrstvwxz2456789]";
const deploymentPod = new RegExp(`^(.+)-${suffixCharacters}{6,10}-${suffixCharacters}{5}$`);
const cronJobPod = new RegExp(`^(.+)-[0-9]{8,10}-${suffixCharacters}{5}$`);
const generatedSuffixPod = new RegExp(`^(.+)-${suffixCharacters}{5}$`);
const statefulSetPod = /^(.+)-(?:0|[1-9][0-9]{0,4})$/;

/**
 * The workload behind a pod, where its name makes it evident: `checkout-7d9f8b6c5-x2x9z` is a
 * ReplicaSet-hashed pod of the Deployment `checkout`; `report-28930440-k7x2p` a Job of the
 * CronJob `report`; `web-0` a StatefulSet's; `node-agent-x2x9z` a DaemonSet's or a Job's.
 * Derived from the name alone (no API is asked), so the report marks it as derived; null when
 * the name has no generated suffix (a bare pod, or a name chosen by hand).
 */
export function workloadOfPod(pod: string): DerivedWorkload | null {
  let match = deploymentPod.exec(pod);
  if (match !== null) return { name: match[1]!, kind: "Deployment", rule: "ReplicaSet hash and pod suffix" };
  match = cronJobPod.exec(pod);
  if (match !== null) return { name: match[1]!, kind: "CronJob", rule: "scheduled-time Job name and pod suffix" };
  match = generatedSuffixPod.exec(pod);
  if (match !== null) return { name: match[1]!, kind: null, rule: "pod suffix (DaemonSet or Job)" };
  match = statefulSetPod.exec(pod);
  if (match !== null) return { name: match[1]!, kind: "StatefulSet", rule: "ordinal suffix" };
  return null;
}

/** "namespace/name": the workload when derivable, else the pod. */
export function workloadLabel(kubernetes: ReportKubernetesPod): string | null {
  if (kubernetes.pod === null) return null;
  const owner = workloadOfPod(kubernetes.pod);
  return `${kubernetes.namespace ?? "?"}/${owner?.name ?? kubernetes.pod}`;
}

/** A one-line description of where a caller runs: pod, task or container, and image. */
export function describeContainer(container: ReportContainer): string {
  const parts: string[] = [];
  const kubernetes = container.kubernetes;
  const ecs = container.ecs;
  if (kubernetes !== null && kubernetes.pod !== null) {
    parts.push(`pod ${kubernetes.namespace ?? "?"}/${kubernetes.pod}`);
    if (kubernetes.container !== null) parts.push(`container ${kubernetes.container}`);
  } else if (ecs !== null) {
    const family = ecs.family === null ? "?" : ecs.revision === null ? ecs.family : `${ecs.family}:${ecs.revision}`;
    parts.push(`ECS task ${family}${ecs.cluster === null ? "" : ` in cluster ${ecs.cluster}`}`);
    if (ecs.container !== null) parts.push(`container ${ecs.container}`);
  } else if (container.name !== null) {
    parts.push(`${container.runtime} container ${container.name}`);
  } else {
    parts.push(`${container.runtime} container ${container.id.slice(0, 12)}`);
  }
  if (container.image !== null) parts.push(`image ${container.image}`);
  return parts.join(", ");
}
