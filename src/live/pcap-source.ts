/**
 * Live capture from libpcap, feeding the same synchronous pipeline as the file readers.
 *
 * The native addon (native/pcap) watches the capture with Node's own event loop and hands over
 * packets in batches, one Buffer per batch; this wrapper turns each record into the ONE reused
 * `Frame` (see frame.ts: `bytes` is valid only during `onFrame`). Timestamps are the kernel's
 * capture times, with nanosecond precision where libpcap offers it.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { CaptureDeviceError, UsageError } from "../errors.js";
import { createFrame } from "../source/frame.js";
import type { Frame } from "../source/frame.js";
import type { FrameConsumer } from "../source/types.js";
import { loadPcapAddon, pcapRecordLayout } from "./pcap-addon.js";
import type { NativeOpenOptions, NativePcapHandle, NativePcapStats } from "./pcap-addon.js";

export interface LiveCaptureOptions {
  /** Interface name, or "any" (Linux cooked capture of every interface). */
  device: string;
  /** libpcap filter expression, compiled to a kernel BPF filter (e.g. "tcp port 80 and host 169.254.169.254"). */
  filter: string;
  /** Bytes kept per packet; 65535 by default (whole IMDS request heads). */
  snaplenBytes?: number;
  /** Kernel capture buffer; 8 MiB by default. It absorbs bursts while JS is busy. */
  bufferSizeBytes?: number;
  /** Packets per native batch (one JS call each); 64 by default. */
  maxBatchPackets?: number;
  /**
   * Longest a captured packet waits in the kernel's ring (a TPACKET_V3 block) before it is handed
   * over; 20 ms by default. Each handover wakes the event loop: a longer wait lets the packets of
   * several calls share one wakeup when calls are few, at the cost of that much event latency.
   * A block that fills up is handed over at once, so high rates are not delayed.
   */
  blockTimeoutMs?: number;
  /**
   * Capture inside another network namespace: a namespace file such as /run/netns/NAME or
   * /proc/PID/ns/net (needs CAP_SYS_ADMIN). The device name is looked up in that namespace.
   */
  networkNamespacePath?: string;
}

export interface LiveCaptureStats {
  /**
   * Packets that passed the kernel filter, as the kernel counts them (dropped ones included).
   * Not a frame count: on loopback the kernel gives the socket each packet twice (outgoing and
   * incoming copy) and libpcap discards the outgoing one, so lo traffic counts 2 per frame.
   */
  packetsReceived: number;
  /** Lost because the kernel buffer was full: the capture has holes when this is not 0. */
  packetsDroppedByKernel: number;
  /** Lost by the interface or its driver (ps_ifdrop; not counted on every device). */
  packetsDroppedByInterface: number;
  /** Lost by the addon itself: a packet that did not fit its batch buffer (native/pcap). */
  packetsDroppedByAddon: number;
}

/** Called once when the capture fails while running: a read error, or the consumer threw. */
export type LiveCaptureErrorListener = (error: Error) => void;

/** Option limits; the native addon enforces the same ones. */
export const liveCaptureLimits = {
  snaplenBytes: { min: 64, max: 262_144, default: 65_535 },
  bufferSizeBytes: { min: 64 * 1024, max: 1024 * 1024 * 1024, default: 8 * 1024 * 1024 },
  maxBatchPackets: { min: 1, max: 4096, default: 64 },
  blockTimeoutMs: { min: 1, max: 1000, default: 20 },
} as const;

const maxDeviceNameBytes = 255;
/** CaptureDeviceError.reason when the addon itself cannot be loaded. */
const addonUnavailable = "E_PCAP_ADDON_UNAVAILABLE";

export class LivePcapSource {
  readonly device: string;
  /** LINKTYPE_* of the capture: 1 (Ethernet) on lo and eth*, 113 (LINUX_SLL) on "any". */
  readonly linkType: number;
  readonly linkTypeName: string | null;
  /** 9 with nanosecond timestamps, 6 when libpcap could only give microseconds. */
  readonly timePrecisionDigits: number;
  /** libpcap's activation warning and/or the microsecond fallback, or null. */
  readonly warning: string | null;

  private readonly frame: Frame = createFrame();
  private framesDelivered = 0;
  private consumer: FrameConsumer | null = null;
  private onError: LiveCaptureErrorListener | null = null;
  /** Inside a batch: stop() waits for it to end so frames are never delivered out of order. */
  private delivering = false;
  /** stop() is draining: afterBatch is not asked, the handle is closing anyway. */
  private draining = false;
  private failure: Error | null = null;
  private failureReported = false;
  private stopping: Promise<void> | null = null;
  private finalStats: LiveCaptureStats | null = null;

  private constructor(private readonly handle: NativePcapHandle) {
    this.device = handle.device;
    this.linkType = handle.linkType;
    this.linkTypeName = handle.linkTypeName;
    this.timePrecisionDigits = handle.timePrecisionDigits;
    this.warning = handle.warning;
    const frame = this.frame;
    frame.linkType = handle.linkType;
    frame.timePrecisionDigits = handle.timePrecisionDigits;
    frame.byteOffset = 0;
    frame.interfaceId = 0;
  }

  /**
   * Whether live capture can open devices here: the addon loads and libpcap is installed. If
   * not, `reason` is the one line for the user and `code` says which is missing
   * (E_PCAP_ADDON_UNAVAILABLE: the addon; E_PCAP_LIBRARY: libpcap, not installed or unusable).
   */
  static load(): { ok: true; libraryVersion: string } | { ok: false; code: string; reason: string } {
    const loaded = loadPcapAddon();
    if (!loaded.ok) return { ok: false, code: addonUnavailable, reason: `live capture is unavailable: ${loaded.reason}` };
    try {
      return { ok: true, libraryVersion: loaded.addon.libpcapVersion() };
    } catch (error) {
      return { ok: false, code: nativeErrorCode(error), reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Opens and activates the device and installs the filter; packets are buffered by the kernel
   * from here on and delivered once `start` is called. Throws `UsageError` for bad options and
   * `CaptureDeviceError` for everything the device or libpcap refuses.
   */
  static open(options: LiveCaptureOptions): LivePcapSource {
    const nativeOptions = validateOptions(options);
    const loaded = loadPcapAddon();
    if (!loaded.ok) throw new CaptureDeviceError(options.device, `live capture is unavailable: ${loaded.reason}`, { reason: addonUnavailable });
    try {
      return new LivePcapSource(loaded.addon.open(options.device, nativeOptions));
    } catch (error) {
      throw toCaptureDeviceError(options.device, error);
    }
  }

  /**
   * Starts delivering frames, numbered from 1. `consumer.afterBatch` is asked after each batch;
   * when it returns a promise, reading pauses until it settles (the kernel buffer fills and, if
   * it overflows, drops are counted in `stats()`). A read error, a throwing `onFrame` or a
   * rejected `afterBatch` stops delivery and goes to `onError`; without `onError`, `stop()`
   * rejects with it.
   */
  start(consumer: FrameConsumer, onError?: LiveCaptureErrorListener): void {
    if (this.consumer !== null) throw new CaptureDeviceError(this.device, `capture on ${this.device} is already started`, { reason: "E_PCAP_STARTED" });
    if (this.stopping !== null) throw new CaptureDeviceError(this.device, `capture on ${this.device} is stopped`, { reason: "E_PCAP_CLOSED" });
    this.consumer = consumer;
    this.onError = onError ?? null;
    try {
      this.handle.start(
        (records, packetCount) => {
          this.deliverBatch(records, packetCount);
        },
        (error) => {
          this.fail(toCaptureDeviceError(this.device, error));
        },
      );
    } catch (error) {
      throw toCaptureDeviceError(this.device, error);
    }
  }

  /** Kernel counters so far; after `stop()`, the final ones. */
  stats(): LiveCaptureStats {
    if (this.finalStats !== null) return this.finalStats;
    try {
      return toLiveStats(this.handle.stats());
    } catch (error) {
      throw toCaptureDeviceError(this.device, error);
    }
  }

  /**
   * Stops reading, delivers every packet still buffered to the consumer, reads the final
   * counters and closes the device. Idempotent; safe to call from inside `onFrame` (the current
   * batch is finished first).
   */
  stop(): Promise<void> {
    this.stopping ??= this.closeAfterCurrentBatch();
    return this.stopping;
  }

  private async closeAfterCurrentBatch(): Promise<void> {
    this.handle.pause();
    while (this.delivering) await nextTurn();
    this.draining = true;
    let closed: NativePcapStats | null;
    try {
      closed = this.handle.close();
    } catch (error) {
      throw toCaptureDeviceError(this.device, error);
    } finally {
      this.draining = false;
    }
    if (closed !== null) this.finalStats = toLiveStats(closed);
    if (this.failure !== null && !this.failureReported) throw this.failure;
  }

  private deliverBatch(records: Buffer, packetCount: number): void {
    const consumer = this.consumer;
    if (consumer === null || this.failure !== null) return;
    const frame = this.frame;
    this.delivering = true;
    try {
      let offset = 0;
      for (let index = 0; index < packetCount; index++) {
        const capturedLength = records.readUInt32LE(offset + pcapRecordLayout.capturedLengthOffset);
        const dataStart = offset + pcapRecordLayout.headerBytes;
        frame.number = ++this.framesDelivered;
        frame.timestampSeconds = records.readUInt32LE(offset + pcapRecordLayout.secondsOffset);
        frame.timestampNanos = records.readUInt32LE(offset + pcapRecordLayout.nanosOffset);
        frame.originalLength = records.readUInt32LE(offset + pcapRecordLayout.originalLengthOffset);
        frame.setData(records, dataStart, dataStart + capturedLength);
        consumer.onFrame(frame);
        offset = dataStart + alignRecordData(capturedLength);
      }
    } catch (error) {
      this.fail(error);
      return;
    } finally {
      this.delivering = false;
    }
    if (!this.draining) this.applyBackpressure(consumer);
  }

  private applyBackpressure(consumer: FrameConsumer): void {
    let waiting: Promise<void> | undefined;
    try {
      waiting = consumer.afterBatch?.();
    } catch (error) {
      this.fail(error);
      return;
    }
    if (waiting === undefined) return;
    this.handle.pause();
    waiting.then(
      () => {
        if (this.stopping === null && this.failure === null) this.handle.resume();
      },
      (error: unknown) => {
        this.fail(error);
      },
    );
  }

  private fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.handle.pause();
    if (this.onError !== null) {
      this.failureReported = true;
      this.onError(this.failure);
    }
  }
}

function alignRecordData(length: number): number {
  const alignment = pcapRecordLayout.dataAlignmentBytes;
  return Math.ceil(length / alignment) * alignment;
}

function toLiveStats(stats: NativePcapStats): LiveCaptureStats {
  return {
    packetsReceived: stats.received,
    packetsDroppedByKernel: stats.droppedByKernel,
    packetsDroppedByInterface: stats.droppedByInterface,
    packetsDroppedByAddon: stats.droppedByAddon,
  };
}

function toCaptureDeviceError(device: string, error: unknown): CaptureDeviceError {
  if (error instanceof CaptureDeviceError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new CaptureDeviceError(device, message, { cause: error, reason: nativeErrorCode(error) });
}

/** The native error's code (native/pcap/src/error.h), or E_PCAP for something without one. */
function nativeErrorCode(error: unknown): string {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "E_PCAP";
}

function checkInteger(name: keyof typeof liveCaptureLimits, value: number | undefined): void {
  if (value === undefined) return;
  const { min, max } = liveCaptureLimits[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`live capture: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function validateOptions(options: LiveCaptureOptions): NativeOpenOptions {
  const { device, filter, networkNamespacePath } = options;
  if (device === "" || Buffer.byteLength(device) > maxDeviceNameBytes || device.includes("\0")) {
    throw new UsageError(`live capture: invalid device name ${JSON.stringify(device)}`);
  }
  if (filter.includes("\0")) throw new UsageError("live capture: the filter must not contain NUL characters");
  if (networkNamespacePath?.includes("\0") === true || networkNamespacePath === "") {
    throw new UsageError(`live capture: invalid network namespace path ${JSON.stringify(networkNamespacePath)}`);
  }
  checkInteger("snaplenBytes", options.snaplenBytes);
  checkInteger("bufferSizeBytes", options.bufferSizeBytes);
  checkInteger("maxBatchPackets", options.maxBatchPackets);
  checkInteger("blockTimeoutMs", options.blockTimeoutMs);
  return {
    filter,
    ...(options.snaplenBytes === undefined ? {} : { snaplenBytes: options.snaplenBytes }),
    ...(options.bufferSizeBytes === undefined ? {} : { bufferSizeBytes: options.bufferSizeBytes }),
    ...(options.maxBatchPackets === undefined ? {} : { maxBatchPackets: options.maxBatchPackets }),
    ...(options.blockTimeoutMs === undefined ? {} : { blockTimeoutMs: options.blockTimeoutMs }),
    ...(networkNamespacePath === undefined ? {} : { networkNamespacePath }),
  };
}
