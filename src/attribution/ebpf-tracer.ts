/**
 * Which process opened each TCP connection to IMDS, told by the kernel at connect time.
 *
 * An eBPF program on the `sock:inet_sock_set_state` tracepoint (native/ebpf) notes the calling
 * task when a socket starts connecting to 169.254.169.254:80 or [fd00:ec2::254]:80 (that
 * transition runs in the caller), and reports it with the final 4-tuple when the handshake
 * ends. Nothing else leaves the kernel. This catches one-shot clients such as curl, whose whole
 * life (7-15 ms) is shorter than one /proc socket scan. Tracepoints are global: connects in
 * every network namespace (containers) are seen.
 *
 * What identifies the process is captured before it can exit: in the kernel at connect time
 * (argv, parent pid and comm, start time, exe name) and, in the addon, the moment the record
 * leaves the ring buffer, before JavaScript runs (exe path, cgroup path from /proc, checked
 * against the kernel's start time).
 */
import { AttributionUnavailableError } from "../errors.js";
import { loadEbpfAddon } from "./ebpf-addon.js";
import type { NativeEbpfAddon, NativeTracerHandle } from "./ebpf-addon.js";
import { checkRecordLayout, connectRecordLayout, decodeConnectRecords } from "./ebpf-record.js";
import type { ConnectRecord, RecordDecodeCounters } from "./ebpf-record.js";

export type { ConnectOutcome, ConnectRecord, ProcSnapshot } from "./ebpf-record.js";

export interface EbpfTracerOptions {
  /** Read argv in the kernel at connect time (default true; off when BTF is missing). */
  readonly captureArgv?: boolean;
  /**
   * Read parent pid and comm, start time and exe name in the kernel at connect time (default
   * true; each field is off on its own when BTF lacks what it needs, see identityCapture).
   */
  readonly captureProcessIdentity?: boolean;
  /**
   * Also deliver connects that failed (outcome "failed": refused, timed out, unreachable).
   * Default false: onRecords then only sees connections that were made ("established", and
   * "connecting" when the kernel's pending table overflowed).
   */
  readonly reportFailedConnects?: boolean;
}

export interface EbpfTracerStats {
  /** Records handed to onRecords. */
  readonly recordsDelivered: number;
  /** Records lost because the kernel's ring buffer was full. */
  readonly ringBufferLost: number;
  /** Connects reported without a client port because the kernel's pending table was full. */
  readonly mapFull: number;
  /** Connects to IMDS seen starting. */
  readonly tracked: number;
  /** ... of which completed the handshake. */
  readonly established: number;
  /** ... of which failed (SYN_SENT -> CLOSE). */
  readonly failed: number;
  /** Connects waiting for their handshake right now (0 once everything settled). */
  readonly pendingConnects: number;
  /** Handshakes to IMDS the tracer saw end but not begin (begun before open). */
  readonly unmatched: number;
  /** argv capture was on but reading it failed. */
  readonly argvFailed: number;
  /** Kernel identity field reads that failed (one per field and record). */
  readonly identityFailed: number;
  /** Records whose /proc reads were confirmed by the start time (exePath, cgroupPath kept). */
  readonly procConfirmed: number;
  /** Records whose process was gone before the addon read /proc (no exePath, cgroupPath). */
  readonly procExited: number;
  /** Records whose pid already named another process (/proc fields dropped). */
  readonly procPidReused: number;
  /** Records this version could not decode (unknown outcome or address family). */
  readonly unknownRecords: number;
}

/** Whether a kernel identity field is captured, and why not when it is not. */
export interface KernelFieldCapture {
  readonly enabled: boolean;
  /** null when enabled. */
  readonly unavailableReason: string | null;
}

export interface ProcessIdentityCapture {
  /** ConnectRecord.parentPid */
  readonly parentPid: KernelFieldCapture;
  /** ConnectRecord.parentComm */
  readonly parentComm: KernelFieldCapture;
  /** ConnectRecord.startTimeTicks (without it /proc reads cannot be confirmed: "unverified") */
  readonly startTime: KernelFieldCapture;
  /** ConnectRecord.exeName */
  readonly exeName: KernelFieldCapture;
}

export type EbpfAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const addonUnavailable = "E_EBPF_ADDON_UNAVAILABLE";

export class EbpfConnectTracer {
  /** Whether records carry argv read in the kernel. */
  readonly argvCapture: boolean;
  /** Why argv capture is off (null when it is on). */
  readonly argvUnavailableReason: string | null;
  /** Which kernel identity fields records carry, each with the reason when it is off. */
  readonly identityCapture: ProcessIdentityCapture;
  private readonly decodeCounters: RecordDecodeCounters = { unknownRecords: 0 };
  private recordsDelivered = 0;
  private closed = false;

  private constructor(
    private readonly addon: NativeEbpfAddon,
    private readonly handle: NativeTracerHandle,
    private readonly onRecords: (records: readonly ConnectRecord[]) => void,
    private readonly reportFailedConnects: boolean,
  ) {
    this.argvCapture = handle.argvCapture;
    this.argvUnavailableReason = handle.argvUnavailableReason;
    const field = (name: keyof ProcessIdentityCapture): KernelFieldCapture => ({
      enabled: handle.identityCapture[name],
      unavailableReason: handle.identityUnavailableReasons[name],
    });
    this.identityCapture = {
      parentPid: field("parentPid"),
      parentComm: field("parentComm"),
      startTime: field("startTime"),
      exeName: field("exeName"),
    };
  }

  /**
   * Whether open() can work here: the addon loads, the tracepoint exists (tracefs is mounted
   * if needed), and this process may create BPF maps and load tracepoint programs. Attaches
   * nothing.
   */
  static available(): EbpfAvailability {
    const loaded = loadEbpfAddon();
    if (!loaded.ok) return { ok: false, reason: loaded.reason };
    const probe = loaded.addon.probe();
    return probe.ok ? { ok: true } : { ok: false, reason: probe.reason };
  }

  /**
   * Loads and attaches the program. `onRecords` is called once per kernel wakeup with every
   * record that arrived (on the event loop, never re-entrantly). The tracer keeps the process
   * alive until close(). Throws AttributionUnavailableError (with `reason`) when the kernel
   * side cannot run.
   */
  static open(onRecords: (records: readonly ConnectRecord[]) => void, options: EbpfTracerOptions = {}): EbpfConnectTracer {
    const loaded = loadEbpfAddon();
    if (!loaded.ok) throw new AttributionUnavailableError(addonUnavailable, `eBPF connect tracer: ${loaded.reason}`);
    const addon = loaded.addon;
    try {
      checkRecordLayout(addon.layout);
    } catch (error) {
      throw new AttributionUnavailableError(addonUnavailable, `eBPF connect tracer: ${(error as Error).message}`, { cause: error });
    }

    // The native callback needs the tracer (for counters) before the tracer exists.
    let tracer: EbpfConnectTracer | null = null;
    let handle: NativeTracerHandle;
    try {
      handle = addon.open((bytes, count) => { tracer?.deliver(bytes, count); }, options.captureArgv ?? true, options.captureProcessIdentity ?? true);
    } catch (error) {
      const code = nativeErrorCode(error);
      const message = error instanceof Error ? error.message : String(error);
      throw new AttributionUnavailableError(code, `eBPF connect tracer: ${message}`, { cause: error });
    }
    tracer = new EbpfConnectTracer(addon, handle, onRecords, options.reportFailedConnects ?? false);
    return tracer;
  }

  /**
   * Hands every record the kernel already wrote to onRecords now, before returning: those still
   * in the ring buffer and those the addon's thread queued for a wakeup the loop has not reached.
   * For a loop that fell behind (a starved or busy process), so that a connection whose record
   * exists is attributed from it rather than by the far costlier /proc fallback. Returns how
   * many records were handed over.
   */
  drain(): number {
    if (this.closed) return 0;
    const bytes = this.addon.drain(this.handle);
    if (bytes === null) return 0;
    return this.deliver(bytes, bytes.length / connectRecordLayout.recordSize);
  }

  private deliver(bytes: Buffer, count: number): number {
    if (this.closed) return 0;
    const decoded: ConnectRecord[] = [];
    decodeConnectRecords(bytes, count, decoded, this.decodeCounters);
    const records = this.reportFailedConnects ? decoded : decoded.filter((record) => record.outcome !== "failed");
    if (records.length === 0) return 0;
    this.recordsDelivered += records.length;
    this.onRecords(records);
    return records.length;
  }

  stats(): EbpfTracerStats {
    const native = this.addon.stats(this.handle);
    return {
      recordsDelivered: this.recordsDelivered,
      ringBufferLost: native.ringBufferLost,
      mapFull: native.mapFull,
      tracked: native.tracked,
      established: native.established,
      failed: native.failed,
      pendingConnects: native.pendingConnects,
      unmatched: native.unmatched,
      argvFailed: native.argvFailed,
      identityFailed: native.identityFailed,
      procConfirmed: native.procConfirmed,
      procExited: native.procExited,
      procPidReused: native.procPidReused,
      unknownRecords: this.decodeCounters.unknownRecords,
    };
  }

  /** Detaches the program and releases everything; no records are delivered after it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
  }
}

function nativeErrorCode(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return "E_EBPF_SYSTEM";
}
