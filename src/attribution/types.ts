/**
 * Shapes shared by the /proc-based attribution modules (process identity and the socket-owner
 * fallback). Failures are values, not exceptions: a process that exits before we read it is the
 * normal case for a 10 ms curl, and the caller records why attribution failed next to the call.
 */

import type { ProcessInfo, ProcessPlacement } from "../events.js";

export type { ContainerInfo, ParentProcess, ProcessInfo, ProcessPlacement } from "../events.js";

/**
 * A process as /proc shows it: the event's ProcessInfo without its placement (cgroup, container,
 * pod, unit), which the enrichers derive from `cgroupFile`, plus what pins it down and how it
 * was read.
 */
export interface ProcessIdentity extends Omit<ProcessInfo, keyof ProcessPlacement> {
  /** /proc/PID/stat field 22: clock ticks after boot. With `pid` it names one process for good. */
  readonly startTimeTicks: number;
  /**
   * /proc/PID/exe was refused for lack of permission (another user's process, and this process
   * lacks CAP_SYS_PTRACE): `exe` is null for that reason, not because the process has none.
   */
  readonly exeDenied: boolean;
  /** /proc/PID/cgroup as read (every hierarchy's line); null when it could not be read. */
  readonly cgroupFile: string | null;
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
