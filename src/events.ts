/**
 * The NDJSON event: one per HTTP request to IMDS. Versioned: fields may be added under the same
 * schema version, never removed or changed in meaning (that takes "imds-analyzer/event@2").
 * Documented in docs/EVENTS.md ("Event schema"). Never carries a token value, credential or body.
 */
export const eventSchema = "imds-analyzer/event@1";

/**
 * "unclassified": an IMDS request seen in part (see `IncompleteRequest`) whose part says neither
 * v1 nor v2; never counted as either.
 */
export type CallKind = "v1" | "v2" | "token-request" | "unclassified";

/**
 * Why a request head was not seen whole: "snaplen" (the capture cut its packets short),
 * "gap" (bytes of it were never captured: dropped packets, a capture that started inside it,
 * a full out-of-order buffer), "ended" (the connection or the capture ended inside it),
 * "parse-error" (it was malformed after its request line).
 */
export type IncompleteCause = "snaplen" | "gap" | "ended" | "parse-error";
export const incompleteCauses: readonly IncompleteCause[] = ["snaplen", "gap", "ended", "parse-error"];

/**
 * Why an event has no status:
 * - "no-answer": none came while the connection was watched: it closed, or went idle, with the
 *   request unanswered (what a PUT response hop limit of 1 looks like from inside the container);
 * - "timeout": none came within the response timeout (10 s of capture time);
 * - "unobserved": one may have come but could not be seen or paired with this request: packets
 *   of the connection were lost (after a gap, responses cannot be matched to requests), the
 *   request itself was seen only in part, or the capture ended (or gave the connection up) first.
 * Only the first two say the caller got no answer.
 */
export type ResponseMissingCause = "no-answer" | "timeout" | "unobserved";
export const responseMissingCauses: readonly ResponseMissingCause[] = ["no-answer", "timeout", "unobserved"];

/** What an event says about a request whose head was not seen whole. */
export interface IncompleteRequest {
  readonly cause: IncompleteCause;
  /** For "snaplen": the length (bytes, link header included) frames were cut at; else null. */
  readonly snaplen: number | null;
  /** For "parse-error": the parser's reason (bad-header, head-too-large, ...); else null. */
  readonly parseError: string | null;
  /** False when the cut fell inside the request target: `path` is only its beginning. */
  readonly pathComplete: boolean;
}

/** An EC2 instance id, strictly: `i-` and 8 or 17 lower-case hex digits. */
const instanceIdPattern = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

/** True for a string that is exactly an EC2 instance id (the only form `instanceId` takes). */
export function isInstanceId(text: unknown): text is string {
  return typeof text === "string" && instanceIdPattern.test(text);
}

/** One ancestor of the calling process. */
export interface ParentProcess {
  readonly pid: number;
  readonly comm: string;
  /** Redacted: values that look like secrets are replaced by "<redacted>". */
  readonly cmdline: readonly string[];
}

export type ContainerRuntime = "docker" | "containerd" | "cri-o" | "podman" | "lxc" | "unknown";

/** The Kubernetes pod and container a process runs in; each field null when it could not be read. */
export interface KubernetesNames {
  readonly namespace: string | null;
  readonly pod: string | null;
  readonly podUid: string | null;
  /** The container's name in the pod spec. */
  readonly container: string | null;
}

/** The ECS task and container a process runs in; each field null when it could not be read. */
export interface EcsNames {
  readonly cluster: string | null;
  readonly taskArn: string | null;
  /** The last part of the task ARN (also in the task's cgroup path). */
  readonly taskId: string | null;
  /** Task definition family and revision: "family:revision" names what to fix. */
  readonly family: string | null;
  readonly revision: string | null;
  /** The container's name in the task definition. */
  readonly container: string | null;
}

/**
 * The container a process runs in, named from what the runtimes write to disk (no socket, no
 * API). Fields that could not be read are null, never guessed.
 */
export interface ContainerInfo {
  readonly runtime: ContainerRuntime;
  /** 64-hex container id (docker, containerd, cri-o, podman) or the container name (lxc). */
  readonly id: string;
  /** The runtime's name for the container (docker and podman `--name`, the pod spec's container name under Kubernetes). */
  readonly name: string | null;
  /** The image as the operator named it (e.g. "registry/app:1.2"); null when only an id is known. */
  readonly image: string | null;
  readonly kubernetes: KubernetesNames | null;
  readonly ecs: EcsNames | null;
  /**
   * What named it: "containerd-bundle", "docker-config", "cri-o-config", "podman-storage",
   * "kubelet-log-link", "cgroup" (the path alone: id, pod uid, ECS task id); a value ending in
   * "-heuristic" marks a guess from weaker evidence. Null in events of older versions.
   */
  readonly source: string | null;
}

/**
 * Where a process runs: its cgroup and what that names. Filled by attribution's enrichers
 * (src/attribution/enrichment.ts), one source of names each.
 */
export interface ProcessPlacement {
  /** cgroup v2 path (the "0::" line, " (deleted)" removed); null on a pure cgroup v1 host. */
  readonly cgroup: string | null;
  readonly container: ContainerInfo | null;
  readonly kubernetesPodUid: string | null;
  /** Last `*.service` / `*.scope` component of the cgroup path, e.g. "amazon-ssm-agent.service". */
  readonly systemdUnit: string | null;
}

/**
 * The process that made an IMDS call (live capture only). The one process shape: attribution
 * builds it, events carry it, the report reads it.
 */
export interface ProcessInfo extends ProcessPlacement {
  readonly pid: number;
  /**
   * When the process started (ISO-8601, from boot time + stat's start ticks), so a reused pid is
   * never confused with this one; null when boot time is unreadable.
   */
  readonly startTime: string | null;
  /** Kernel task name (at most 15 bytes; may contain spaces and parentheses). */
  readonly comm: string;
  /** Target of /proc/PID/exe; null for kernel threads, zombies, or when it cannot be read. */
  readonly exe: string | null;
  /**
   * Redacted command line, total length bounded; from the kernel at connect time when eBPF argv
   * capture works; empty for kernel threads and zombies.
   */
  readonly cmdline: readonly string[];
  /** Effective uid (the one `ps -o user` shows). */
  readonly uid: number;
  /** Name for `uid` in the capturing host's passwd file; null when it has none. */
  readonly user: string | null;
  /** Parent chain, nearest first, up to pid 1 (inclusive), at most 32 entries. */
  readonly parents: readonly ParentProcess[];
}

/** How the process was found, or why it was not. */
export interface AttributionInfo {
  /** "ebpf": recorded in the kernel at connect time; "proc": socket tables and fds in /proc. */
  readonly method: "ebpf" | "proc";
  /**
   * "partial": the process is named but some detail is missing: it exited before /proc could
   * add it (process-exited), or its exe could not be read for lack of permission
   * (permission-denied: another user's process, with CAP_SYS_PTRACE removed).
   */
  readonly status: "ok" | "partial" | "failed";
  /** Why it failed or is partial (process-exited, socket-not-found, permission-denied, ...). */
  readonly reason: string | null;
}

export interface ImdsEvent {
  readonly schema: typeof eventSchema;
  /** ISO-8601 UTC capture time of the frame that completed the request head. */
  readonly time: string;
  readonly kind: CallKind;
  readonly method: string;
  readonly path: string;
  /** Null only for an incomplete request cut before its version. */
  readonly httpVersion: string | null;
  /**
   * Null when the request head was seen whole and classified from its headers. Otherwise why it
   * was not: `kind` is then what the part seen proves ("token-request" from the request line,
   * "v2" from a whole token header line) or "unclassified", and the header fields (userAgent,
   * tokenTtlSeconds, forwardedFor) say only what was seen. Absent in older events (read as null).
   */
  readonly incomplete: IncompleteRequest | null;
  readonly userAgent: string | null;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly serverIp: string;
  readonly serverPort: number;
  /** Response status code, or null when no response was seen. */
  readonly status: number | null;
  /**
   * Null when `status` is known; else why there is none (see ResponseMissingCause). Absent in
   * older events (read as null, which a report takes for "no-answer" as before).
   */
  readonly responseMissing: ResponseMissingCause | null;
  /** Frame number (1-based, within `source`) that completed the request head. */
  readonly frame: number;
  /** The capture file as given on the command line (`-` for stdin). */
  readonly source: string;
  readonly process: ProcessInfo | null;
  /** Null in offline analysis; in live capture, how `process` was found or why it is null. */
  readonly attribution: AttributionInfo | null;
  /** Live capture: the host name of the machine captured on (reports group hosts by it); null offline. */
  readonly host: string | null;
  /**
   * The EC2 instance id IMDS itself gave out in this capture (a 200 answer to
   * `/latest/meta-data/instance-id` or `/latest/dynamic/instance-identity/document`), as known
   * when the event was written: null for events written before such an answer was seen.
   */
  readonly instanceId: string | null;
  /** For token requests: the TTL asked for, in seconds (not a secret); else null. */
  readonly tokenTtlSeconds: number | null;
  /** The request carried X-Forwarded-For (IMDS rejects token PUTs that do). */
  readonly forwardedFor: boolean;
  /** 1-based index of the request on its TCP connection (keep-alive reuse shows as 2, 3, ...). */
  readonly requestOnConnection: number;
}
