/**
 * Loads the eBPF connect-tracer addon (native/ebpf, built at install time by native/build.mjs)
 * and describes its shape. Only ebpf-tracer.ts should use it: the shapes here are the native
 * layer's contract, not the project's API.
 */
import type { AddonLoadResult } from "../native-addon.js";
import { loadNativeAddon } from "../native-addon.js";

/** The addon's file: prebuilt, built from source or embedded in the executable (native-addon.ts). */
export const ebpfAddonFile = "imds_ebpf.node";

/** The kernel program's counters plus the addon's own (all since open). */
export interface NativeTracerStats {
  /** Connects to IMDS that began (CLOSE -> SYN_SENT) and were parked until their handshake ended. */
  readonly tracked: number;
  readonly established: number;
  /** Parked connects that ended in CLOSE (refused, timed out, unreachable). */
  readonly failed: number;
  /** The pending table was full: the connect was reported at once, without its client port. */
  readonly mapFull: number;
  /** Records the ring buffer had no room for (lost). */
  readonly ringBufferLost: number;
  /** Handshakes to IMDS that ended with no parked entry (began before the tracer was opened). */
  readonly unmatched: number;
  /** argv capture was on but reading the process's memory failed. */
  readonly argvFailed: number;
  /** Records written to the ring buffer. */
  readonly emitted: number;
  /** Kernel identity field reads (parent, start time, exe name) that failed, one per field. */
  readonly identityFailed: number;
  /** Connects waiting for their handshake now (entries in the pending table). */
  readonly pendingConnects: number;
  /** Records handed to JavaScript. */
  readonly recordsDelivered: number;
  /** Ring samples of an unexpected size (skipped). */
  readonly unexpectedSamples: number;
  /** The addon's /proc reads per record, by outcome (ebpf-record.ts `ProcSnapshot`). */
  readonly procConfirmed: number;
  readonly procUnverified: number;
  readonly procExited: number;
  readonly procPidReused: number;
  /** exe paths dropped because their file name differed from the kernel's (exec since connect). */
  readonly procExeMismatch: number;
  /** Paths dropped for not fitting the record (layout.pathSize). */
  readonly procPathTooLong: number;
}

/** The kernel identity fields, each captured or not on its own. */
export interface NativeIdentityFields<T> {
  readonly parentPid: T;
  readonly parentComm: T;
  readonly startTime: T;
  readonly exeName: T;
}

export interface NativeTracerHandle {
  readonly argvCapture: boolean;
  readonly argvUnavailableReason: string | null;
  readonly tracepointId: number;
  readonly identityCapture: NativeIdentityFields<boolean>;
  /** Why each field is not captured; null for those that are. */
  readonly identityUnavailableReasons: NativeIdentityFields<string | null>;
  /** sysconf(_SC_CLK_TCK): the unit of startTimeTicks. */
  readonly clockTicksPerSecond: number;
}

/** Called once per ring-buffer wakeup: `records` holds `count` records of layout.recordSize bytes. */
export type NativeRecordsListener = (records: Buffer, count: number) => void;

export type NativeProbeResult = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly reason: string };

export interface NativeEbpfAddon {
  /** Reads the tracepoint, creates a ring buffer, loads a trivial program; attaches nothing. */
  probe(): NativeProbeResult;
  /** Throws an Error whose `code` is one of the E_EBPF_* codes (native/ebpf/src/error.h). */
  open(onRecords: NativeRecordsListener, captureArgv: boolean, captureIdentity: boolean): NativeTracerHandle;
  stats(handle: NativeTracerHandle): NativeTracerStats;
  /**
   * Takes now, in order, every record queued for the loop and every finished record still in
   * the ring (their /proc part read on this thread): a Buffer of layout.recordSize-byte
   * records, or null when there are none or the tracer is closed.
   */
  drain(handle: NativeTracerHandle): Buffer | null;
  /** Detaches the program, closes fds, unmaps the ring; idempotent. */
  close(handle: NativeTracerHandle): void;
  /**
   * Fills the /proc part of one delivered record (`record`: layout.recordSize bytes whose kernel
   * part is set) from `procRoot`, exactly as the consumer thread does. For tests (a fake /proc).
   */
  fillProcSnapshot(record: Buffer, procRoot: string): void;
  readonly layout: Readonly<Record<string, number>>;
}

export type EbpfAddonLoadResult = AddonLoadResult<NativeEbpfAddon>;

function isEbpfAddon(value: unknown): value is NativeEbpfAddon {
  if (typeof value !== "object" || value === null) return false;
  return (
    "open" in value && typeof value.open === "function" &&
    "probe" in value && typeof value.probe === "function" &&
    "drain" in value && typeof value.drain === "function" &&
    "layout" in value && typeof value.layout === "object"
  );
}

let loaded: EbpfAddonLoadResult | undefined;

/** Loads the addon once per process, from the package root (works from src/ and dist/). */
export function loadEbpfAddon(): EbpfAddonLoadResult {
  loaded ??= loadFromDisk();
  return loaded;
}

function loadFromDisk(): EbpfAddonLoadResult {
  if (process.platform !== "linux") return { ok: false, reason: `eBPF attribution needs Linux (this is ${process.platform})` };
  return loadNativeAddon({
    fileName: ebpfAddonFile,
    sourceDirectory: "native/ebpf",
    title: "eBPF addon",
    buildNeeds: "a C compiler, python3 and linux-libc-dev",
    isAddon: isEbpfAddon,
  });
}
