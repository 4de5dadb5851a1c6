/**
 * A live capture that outlives its interface: when libpcap stops with an error while running
 * (the interface went down - libpcap's socket reports ENETDOWN, which Node's poll sees as an
 * error - or the device disappeared), the capture is closed and the device is opened again with
 * a bounded backoff (`reopenBackoff`: at least once a second) until it is back, then frames flow to the same consumer again,
 * numbered on from where they stopped. The interruption is reported once when it starts and
 * once when it ends, and counted (`interruptions`), so a summary can say the capture has a hole.
 * A device deleted and created again under the same name (a recreated container's veth) is
 * reopened by name like one that went down: the native layer fails the old capture, bound to an
 * index that is gone, when the kernel says so or its once-a-second name check finds it.
 *
 * On "any" a single interface going down is not an error (the socket is bound to no device);
 * this matters for `-i DEVICE` captures.
 */
import { CaptureDeviceError } from "../errors.js";
import type { Frame } from "../source/frame.js";
import type { FrameConsumer } from "../source/types.js";
import { LivePcapSource } from "./pcap-source.js";
import type { LiveCaptureOptions, LiveCaptureStats } from "./pcap-source.js";

/**
 * Waits between attempts to open the device again: the first soon (a flapping link is back in
 * moments), then doubling up to the bound. An attempt is one cheap open.
 */
export const reopenBackoff = { firstDelayMs: 100, maxDelayMs: 1000 } as const;

export interface CaptureInterruptionListener {
  /** The capture stopped with `error`; reopening is being retried. */
  readonly onInterrupted: (error: Error) => void;
  /** The device could be opened again after `downMs`; frames flow again. */
  readonly onResumed: (downMs: number) => void;
  /**
   * The capture stopped for good because the consumer threw (a bug downstream, not the
   * device): reopening would only repeat it. Called once; the owner must stop the capture.
   */
  readonly onFailed: (error: Error) => void;
}

export interface CaptureInterruptions {
  /** Times the capture stopped while running and was (or is being) reopened. */
  readonly count: number;
  /** Wall-clock time without a working capture, summed (an ongoing one counted to now). */
  readonly downMs: number;
  /** The error of the latest interruption, or null. */
  readonly lastError: string | null;
}

export class ReopeningPcapSource {
  readonly device: string;
  /** The link type of the first open; a reopened device has the same one. */
  readonly linkType: number;
  readonly warning: string | null;

  private current: LivePcapSource | null;
  private consumer: FrameConsumer | null = null;
  /** Closed sources' final counters, added to the current one's. */
  private readonly closedStats: LiveCaptureStats = { packetsReceived: 0, packetsDroppedByKernel: 0, packetsDroppedByInterface: 0, packetsDroppedByAddon: 0 };
  private framesDelivered = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs: number = reopenBackoff.firstDelayMs;
  private closingFailed: Promise<void> = Promise.resolve();
  private stopped = false;
  private interruptionCount = 0;
  private downSinceMs: number | null = null;
  private downMsBefore = 0;
  private lastError: string | null = null;
  /** Not a device problem (the consumer threw): not retried; told to the listener's onFailed. */
  private fatal: Error | null = null;

  private constructor(
    private readonly options: LiveCaptureOptions,
    private readonly listener: CaptureInterruptionListener,
    private readonly maxRetryDelayMs: number,
    first: LivePcapSource,
  ) {
    this.current = first;
    this.device = first.device;
    this.linkType = first.linkType;
    this.warning = first.warning;
  }

  /** Opens the device the first time; throws like `LivePcapSource.open` (nothing to fall back on). */
  static open(options: LiveCaptureOptions, listener: CaptureInterruptionListener, maxRetryDelayMs: number = reopenBackoff.maxDelayMs): ReopeningPcapSource {
    return new ReopeningPcapSource(options, listener, maxRetryDelayMs, LivePcapSource.open(options));
  }

  get interruptions(): CaptureInterruptions {
    const ongoingMs = this.downSinceMs === null ? 0 : Date.now() - this.downSinceMs;
    return { count: this.interruptionCount, downMs: this.downMsBefore + ongoingMs, lastError: this.lastError };
  }

  /** Starts delivering frames to `consumer`, now and after every reopen. */
  start(consumer: FrameConsumer): void {
    const renumbering: FrameConsumer = {
      onFrame: (frame: Frame): void => {
        // Each LivePcapSource numbers from 1; the capture as a whole numbers on.
        frame.number = ++this.framesDelivered;
        consumer.onFrame(frame);
      },
      afterBatch: consumer.afterBatch,
    };
    this.consumer = renumbering;
    this.startCurrent();
  }

  /** Kernel counters of every open so far, summed. */
  stats(): LiveCaptureStats {
    const closed = this.closedStats;
    if (this.current === null) return { ...closed };
    let now: LiveCaptureStats;
    try {
      now = this.current.stats();
    } catch {
      return { ...closed }; // the handle just failed; its final counters come with its close
    }
    return {
      packetsReceived: closed.packetsReceived + now.packetsReceived,
      packetsDroppedByKernel: closed.packetsDroppedByKernel + now.packetsDroppedByKernel,
      packetsDroppedByInterface: closed.packetsDroppedByInterface + now.packetsDroppedByInterface,
      packetsDroppedByAddon: closed.packetsDroppedByAddon + now.packetsDroppedByAddon,
    };
  }

  /**
   * Stops retrying, drains and closes the current capture (if one is open). A consumer failure
   * went to the listener's onFailed, not here; this rejects only when closing fails.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.closingFailed;
    const current = this.current;
    if (current !== null) {
      await current.stop();
      this.addClosedStats(current);
      this.current = null;
    }
    this.endDowntime();
  }

  private startCurrent(): void {
    const source = this.current;
    const consumer = this.consumer;
    if (source === null || consumer === null) return;
    source.start(consumer, (error) => {
      this.onCaptureFailed(source, error);
    });
  }

  private onCaptureFailed(source: LivePcapSource, error: Error): void {
    if (this.stopped || source !== this.current) return;
    if (!(error instanceof CaptureDeviceError)) {
      // A bug downstream, not the device: reopening would only repeat it. Only recording it
      // would stop the events with no word until shutdown: the owner is told, and stops.
      if (this.fatal !== null) return;
      this.fatal = error;
      this.listener.onFailed(error);
      return;
    }
    this.interruptionCount++;
    this.lastError = error.message;
    this.downSinceMs = Date.now();
    this.current = null;
    // The failed handle is closed off the callback (close() is refused inside a batch).
    this.closingFailed = source.stop().then(
      () => { this.addClosedStats(source); },
      () => { this.addClosedStats(source); },
    );
    this.listener.onInterrupted(error);
    this.retryDelayMs = Math.min(reopenBackoff.firstDelayMs, this.maxRetryDelayMs);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delayMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(delayMs * 2, this.maxRetryDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.closingFailed.then(() => { this.retry(); });
    }, delayMs);
  }

  private retry(): void {
    if (this.stopped || this.current !== null) return;
    let reopened: LivePcapSource;
    try {
      reopened = LivePcapSource.open(this.options);
    } catch {
      this.scheduleRetry(); // still down or gone: try again later, quietly (said once already)
      return;
    }
    this.current = reopened;
    try {
      this.startCurrent();
    } catch {
      // Opened but would not start (it went down again at once): close it and keep trying.
      this.current = null;
      this.closingFailed = reopened.stop().catch(() => undefined);
      this.scheduleRetry();
      return;
    }
    this.listener.onResumed(this.endDowntime());
  }

  private endDowntime(): number {
    if (this.downSinceMs === null) return 0;
    const downMs = Date.now() - this.downSinceMs;
    this.downMsBefore += downMs;
    this.downSinceMs = null;
    return downMs;
  }

  private addClosedStats(source: LivePcapSource): void {
    let final: LiveCaptureStats;
    try {
      final = source.stats();
    } catch {
      return;
    }
    const closed = this.closedStats;
    closed.packetsReceived += final.packetsReceived;
    closed.packetsDroppedByKernel += final.packetsDroppedByKernel;
    closed.packetsDroppedByInterface += final.packetsDroppedByInterface;
    closed.packetsDroppedByAddon += final.packetsDroppedByAddon;
  }
}
