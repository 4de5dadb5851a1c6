/**
 * The contract between TCP reassembly and whatever reads the byte streams (HTTP here). The
 * reassembler knows nothing of HTTP; a `FlowConsumerFactory` makes one consumer per flow and the
 * reassembler feeds it in-order bytes, gaps and the end, per direction.
 */

/** Client -> server (requests) or server -> client (responses). */
export const Direction = { toServer: 0, toClient: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

export interface FlowEndpoints {
  readonly ipVersion: 4 | 6;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
}

/** Where delivered bytes came from: the frame whose arrival made them contiguous. */
export interface DeliveryContext {
  /** Frame number (1-based, within its source) of the segment whose arrival delivered the bytes. */
  frameNumber: number;
  timestampSeconds: number;
  timestampNanos: number;
  timePrecisionDigits: number;
}

/**
 * Why bytes are missing: "snaplen" when the segment was captured but cut short by the capture's
 * snapshot length (its TCP sequence numbers say how much), "lost" when the segment was never
 * captured (dropped, the capture started or ended inside it) or was given up from a full
 * out-of-order queue.
 */
export type GapCause = "snaplen" | "lost";

export type FlowEndReason =
  | "fin" // both sides closed (or one side FIN and the other side RST/FIN)
  | "rst" // reset
  | "idle" // no segment for idleTimeoutMs of capture time
  | "evicted" // a flow-count or memory limit forced it out
  | "capture-end"; // the input ended with the flow still open

export interface FlowConsumer {
  /** In-order bytes of one direction. `bytes` is valid only during the call. */
  onData(direction: Direction, bytes: Uint8Array, context: DeliveryContext): void;
  /**
   * Bytes that will never arrive (lost, snaplen cut, evicted from a full out-of-order queue).
   * `lostBytes` is null when the size is unknown. Data after a gap continues the same stream.
   * `cause` says whether the capture cut them off its frames or never had them.
   */
  onGap(direction: Direction, lostBytes: number | null, context: DeliveryContext, cause: GapCause): void;
  /** The flow is over; called exactly once and nothing is delivered after it. */
  onEnd(reason: FlowEndReason, context: DeliveryContext): void;
}

export interface FlowConsumerFactory {
  createFlow(endpoints: FlowEndpoints, context: DeliveryContext): FlowConsumer;
}

/** Every buffer has a named limit; hitting one degrades output and counts, never grows memory. */
export interface ReassemblyLimits {
  /** Out-of-order bytes held for one direction of one flow. */
  readonly maxQueuedBytesPerDirection: number;
  /** Out-of-order bytes held across all flows. */
  readonly maxQueuedBytesTotal: number;
  /** Flows tracked at once; the least recently active is evicted beyond it. */
  readonly maxFlows: number;
  /** A flow with no segment for this long (capture time) is ended with reason "idle". */
  readonly idleTimeoutMs: number;
}

export const defaultReassemblyLimits: ReassemblyLimits = {
  maxQueuedBytesPerDirection: 256 * 1024,
  maxQueuedBytesTotal: 64 * 1024 * 1024,
  /**
   * A connection costs about 1 KB while tracked (more with queued data). Connections that end
   * (FIN, RST) leave at once, so only ones whose end was not seen linger until idle; real hosts
   * have at most hundreds of IMDS connections open. 20,000 keeps a SYN flood to ~150 MB of peak
   * RSS; the evicted flows are the least recently active, and are counted.
   */
  maxFlows: 20_000,
  idleTimeoutMs: 120_000,
};
