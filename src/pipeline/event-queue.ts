import type { Diagnostics } from "../diagnostics.js";
import type { ImdsEvent, ResponseMissingCause } from "../events.js";
import { eventSchema } from "../events.js";

/**
 * A request whose event waits for its response status. Events leave in capture order (the order
 * in which request heads completed), so one slow or missing response holds back later events
 * until it arrives, its flow ends, or `responseTimeoutMs` of capture time passes.
 */
export type PendingCall = Omit<ImdsEvent, "schema" | "status" | "responseMissing" | "process" | "attribution" | "host" | "instanceId"> & {
  /** Capture time in ms, for the response timeout. */
  readonly timeMs: number;
  status: number | null;
  /** Why no status, once that is known; still null when the event leaves: set by how it leaves. */
  responseMissing: ResponseMissingCause | null;
  /** True once the status is known or known to be unknowable; the event may then leave. */
  settled: boolean;
  /** True once written: a late response for it is ignored. */
  emitted: boolean;
};

export interface EventQueueLimits {
  /** How long (capture time) an event waits for its response before it leaves with status null. */
  readonly responseTimeoutMs: number;
  /** Events held at most; beyond it the oldest leaves unsettled (status null). */
  readonly maxPendingEvents: number;
}

/**
 * IMDS answers in milliseconds and SDKs give up on it after 1-5 s (and close the connection,
 * which settles the call at once), so a response later than 10 s does not come. The timeout is
 * also how long one call whose response was lost (a dropped packet) holds back every later
 * event: 30 s was 30,000 events held in memory at 1,000 calls/s (bench:soak).
 */
export const defaultEventQueueLimits: EventQueueLimits = {
  responseTimeoutMs: 10_000,
  maxPendingEvents: 50_000,
};

export type EventListener = (event: ImdsEvent) => void;

export class EventQueue {
  private readonly pending: PendingCall[] = [];
  /** Index of the first entry still in `pending` (a moving head avoids O(n) shifts). */
  private head = 0;
  private knownInstanceId: string | null = null;

  constructor(
    private readonly listener: EventListener,
    private readonly diagnostics: Diagnostics,
    private readonly limits: EventQueueLimits = defaultEventQueueLimits,
  ) {}

  get size(): number {
    return this.pending.length - this.head;
  }

  /** The instance id events leave with: the first one learned, or null. */
  get instanceId(): string | null {
    return this.knownInstanceId;
  }

  /**
   * IMDS named the instance. The first id learned is kept for every later event: one capture
   * is one instance's IMDS traffic. A different id (files of several instances merged into one
   * capture) is warned about, counted in the warning, and ignored.
   */
  learnInstanceId(instanceId: string, source: string): void {
    if (this.knownInstanceId === null) this.knownInstanceId = instanceId;
    else if (instanceId !== this.knownInstanceId) {
      this.diagnostics.warn(
        `instance-id-conflict:${source}`,
        `${source}: IMDS answered with instance id ${instanceId} after ${this.knownInstanceId}; events keep ${this.knownInstanceId} (a capture should hold one instance's traffic)`,
      );
    }
  }

  add(call: PendingCall): void {
    this.pending.push(call);
    if (this.size > this.limits.maxPendingEvents) this.emitHead();
  }

  /** Lets settled events leave, in order; called after each frame and when a call settles. */
  release(nowMs: number): void {
    while (this.head < this.pending.length) {
      const call = this.pending[this.head]!;
      if (!call.settled) {
        if (nowMs - call.timeMs < this.limits.responseTimeoutMs) break;
      }
      this.emitHead("timeout");
    }
    this.compact();
  }

  /** Everything leaves: the input is over (a call still waiting may have been answered after it). */
  drain(): void {
    while (this.head < this.pending.length) this.emitHead("unobserved");
    this.compact();
  }

  /** UNSETTLED: why a call that leaves before its response or its flow's end has no status. */
  private emitHead(unsettled: ResponseMissingCause = "unobserved"): void {
    const call = this.pending[this.head]!;
    this.pending[this.head] = undefined as unknown as PendingCall; // let it be collected
    this.head++;
    if (call.status === null) {
      this.diagnostics.count("requestsWithoutResponse");
      call.responseMissing ??= call.settled ? "unobserved" : unsettled;
    }
    call.emitted = true;
    this.listener(toEvent(call, this.knownInstanceId));
  }

  private compact(): void {
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

function toEvent(call: PendingCall, instanceId: string | null): ImdsEvent {
  // Field order here is the order in the NDJSON line: identity and verdict first.
  return {
    schema: eventSchema,
    time: call.time,
    kind: call.kind,
    method: call.method,
    path: call.path,
    httpVersion: call.httpVersion,
    userAgent: call.userAgent,
    clientIp: call.clientIp,
    clientPort: call.clientPort,
    serverIp: call.serverIp,
    serverPort: call.serverPort,
    status: call.status,
    responseMissing: call.responseMissing,
    frame: call.frame,
    source: call.source,
    process: null,
    attribution: null,
    host: null,
    instanceId,
    tokenTtlSeconds: call.tokenTtlSeconds,
    forwardedFor: call.forwardedFor,
    requestOnConnection: call.requestOnConnection,
    incomplete: call.incomplete,
  };
}
