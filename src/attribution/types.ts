/**
 * Shapes shared by the /proc-based attribution modules (process identity and the socket-owner
 * fallback). Failures are values, not exceptions: a process that exits before we read it is the
 * normal case for a 10 ms curl, and the caller records why attribution failed next to the call.
 */

/** Container a process runs in, as far as its cgroup path tells. */
export interface ContainerInfo {
  readonly runtime: "docker" | "containerd" | "cri-o" | "podman" | "lxc" | "unknown";
  /** 64-hex container id (docker, containerd, cri-o, podman) or the container name (lxc). */
  readonly id: string;
}

/** One ancestor of a process, nearest first. */
export interface ParentProcess {
  readonly pid: number;
  readonly comm: string;
  /** Redacted and bounded like `ProcessIdentity.cmdline`. */
  readonly cmdline: string[];
}

export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/PID/stat field 22: clock ticks after boot. With `pid` it names one process for good. */
  readonly startTimeTicks: number;
  /** ISO 8601, from /proc/stat btime + startTimeTicks / CLK_TCK; null when btime is unreadable. */
  readonly startTime: string | null;
  /** Kernel task name (at most 15 bytes; may contain spaces and parentheses). */
  readonly comm: string;
  /** Target of /proc/PID/exe; null for kernel threads, zombies, or when it cannot be read. */
  readonly exe: string | null;
  /**
   * /proc/PID/exe was refused for lack of permission (another user's process, and this process
   * lacks CAP_SYS_PTRACE): `exe` is null for that reason, not because the process has none.
   */
  readonly exeDenied: boolean;
  /** argv, secrets redacted, total length bounded; empty for kernel threads and zombies. */
  readonly cmdline: string[];
  /** Effective uid (the one `ps -o user` shows). */
  readonly uid: number;
  /** Name for `uid` in the analyzing host's passwd file; null when it has none. */
  readonly user: string | null;
  /** Parent chain up to pid 1 (inclusive), nearest first, at most 32 entries. */
  readonly parents: ParentProcess[];
  /** cgroup v2 path (the "0::" line); null on a pure cgroup v1 host. */
  readonly cgroup: string | null;
  readonly container: ContainerInfo | null;
  readonly kubernetesPodUid: string | null;
  /** Last `*.service` / `*.scope` component of the cgroup path, e.g. "amazon-ssm-agent.service". */
  readonly systemdUnit: string | null;
}

export type AttributionFailureReason = "process-exited" | "socket-not-found" | "permission-denied" | "pid-reused" | "error";

export interface AttributionFailure {
  readonly status: "failed";
  readonly reason: AttributionFailureReason;
  readonly detail?: string;
}

/** A TCP connection as seen on the wire: the client is the local end, the server the IMDS end. */
export interface SocketTuple {
  readonly ipVersion: 4 | 6;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
}

export interface SocketOwner {
  readonly pid: number;
  /** Socket inode, as in /proc/net/tcp and the "socket:[INODE]" fd links. */
  readonly inode: number;
  /** Inode of the network namespace whose table held the socket ("net:[INODE]"). */
  readonly netnsInode: number;
}

export function attributionFailure(reason: AttributionFailureReason, detail?: string): AttributionFailure {
  return detail === undefined ? { status: "failed", reason } : { status: "failed", reason, detail };
}

export function isAttributionFailure(value: object): value is AttributionFailure {
  return "status" in value && value.status === "failed";
}
