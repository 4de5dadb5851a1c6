/**
 * TCP reassembly: turns segments (in capture order) into in-order byte streams per flow and
 * direction, the gopacket `reassembly`/`tcpassembly` way:
 * - sequence numbers become stream offsets through wrap-safe arithmetic (`sequence.ts`);
 * - in-order data goes straight to the consumer as the segment's own view (no copy); only data
 *   that arrives ahead of a hole is copied into a bounded per-direction queue;
 * - the first copy of a byte wins: retransmits and overlaps never replace delivered or queued
 *   bytes, only the new part of a segment is used;
 * - lost bytes are gaps reported to the consumer, never errors: snaplen cuts, holes given up
 *   because a queue limit was reached, holes still open when a flow ends;
 * - flows end on FIN from both sides, RST, idle capture time, a flow-count limit or capture end.
 *
 * Start of a direction: a SYN gives the ISN (data starts at ISN+1; SYN payload is TCP Fast Open
 * data and is delivered). A SYN-ACK also tells where the client's data starts (its ack number).
 * Without either (the connection began before the capture) the first segment seen with payload
 * or FIN starts the direction; earlier data that arrives after it is counted as a duplicate and
 * dropped. That keeps the policy simple and never delivers bytes out of order.
 */
import type { TcpSegment } from "../decode/segment.js";
import { TcpFlag } from "../decode/segment.js";
import type { Diagnostics } from "../diagnostics.js";
import type { Frame } from "../source/frame.js";
import { frameTimeMs } from "../source/frame.js";
import { LargestQueueHeap } from "./largest-queue-heap.js";
import { OutOfOrderQueue } from "./out-of-order-queue.js";
import { sequenceAdd, sequenceDifference } from "./sequence.js";
import { Direction, defaultReassemblyLimits } from "./types.js";
import type {
  DeliveryContext,
  FlowConsumer,
  FlowConsumerFactory,
  FlowEndReason,
  FlowEndpoints,
  GapCause,
  ReassemblyLimits,
} from "./types.js";

/** How often (capture time) `push` looks for idle flows; the check itself is O(expired flows). */
const idleCheckIntervalMs = 1000;

/** One direction of a flow. Stream offsets count bytes from the direction's first data byte. */
class HalfStream {
  started = false;
  /** Sequence number of stream offset 0. */
  baseSequence = 0;
  /** Offset of the next byte to deliver: everything before it was delivered or declared lost. */
  nextOffset = 0;
  /** Offset the FIN sits at (the end of the stream), or -1 before a FIN is seen. */
  finOffset = -1;
  /** The FIN was reached: every byte before it delivered or declared lost. */
  closed = false;
  readonly queue = new OutOfOrderQueue();
  /** The last range declared lost: data for it arriving later is "too late", not a retransmit. */
  lastGapStart = 0;
  lastGapEnd = 0;
  /** Position in the reassembler's LargestQueueHeap (-1: queue empty, not in it). */
  heapIndex = -1;

  readonly flow: Flow;
  readonly direction: Direction;
  /** Among equally charged queues, the older flow's gives up first. */
  readonly tieBreak: number;

  constructor(flow: Flow, direction: Direction) {
    this.flow = flow;
    this.direction = direction;
    this.tieBreak = flow.serial * 2 + direction;
  }

  startAt(firstDataSequence: number): void {
    this.started = true;
    this.baseSequence = firstDataSequence;
  }

  /** Stream offset of `sequence`, taking the nearest interpretation modulo 2^32. */
  offsetOf(sequence: number): number {
    const nextSequence = sequenceAdd(this.baseSequence, this.nextOffset);
    return this.nextOffset + sequenceDifference(nextSequence, sequence);
  }
}

class Flow {
  readonly halves: readonly [HalfStream, HalfStream];
  /** Counted in flowsStartedMidStream already. */
  startedMidStream = false;
  ended = false;
  /** Creation order, for the deterministic `flushAll`. */
  readonly serial: number;
  readonly key: string;
  readonly consumer: FlowConsumer;
  lastSeenMs: number;
  /** Neighbours in the reassembler's activity list (least recently active first). */
  olderFlow: Flow | null = null;
  newerFlow: Flow | null = null;

  constructor(serial: number, key: string, consumer: FlowConsumer, lastSeenMs: number) {
    this.serial = serial;
    this.key = key;
    this.consumer = consumer;
    this.lastSeenMs = lastSeenMs;
    this.halves = [new HalfStream(this, Direction.toServer), new HalfStream(this, Direction.toClient)];
  }
}

/** The same string for both directions: client address/port, then server address/port. */
function flowKey(segment: TcpSegment): string {
  return segment.toServer
    ? `${segment.sourceAddress}|${segment.sourcePort}|${segment.destinationAddress}|${segment.destinationPort}`
    : `${segment.destinationAddress}|${segment.destinationPort}|${segment.sourceAddress}|${segment.sourcePort}`;
}

function endpointsOf(segment: TcpSegment): FlowEndpoints {
  const toServer = segment.toServer;
  return {
    ipVersion: segment.ipVersion,
    clientAddress: toServer ? segment.sourceAddress : segment.destinationAddress,
    clientPort: toServer ? segment.sourcePort : segment.destinationPort,
    serverAddress: toServer ? segment.destinationAddress : segment.sourceAddress,
    serverPort: toServer ? segment.destinationPort : segment.sourcePort,
  };
}

export class TcpReassembler {
  private readonly factory: FlowConsumerFactory;
  private readonly diagnostics: Diagnostics;
  private readonly limits: ReassemblyLimits;
  /** Active flows by key. Their activity order is a linked list (leastRecentFlow .. mostRecentFlow). */
  private readonly flows = new Map<string, Flow>();
  /**
   * Keys of flows ended by FIN/RST with their end time, oldest first: trailing ACKs and
   * retransmits must not resurrect them. Expire after idleTimeoutMs; at most maxFlows entries.
   */
  private readonly recentlyClosed = new Map<string, number>();
  /** Directions whose out-of-order queue is not empty, largest first (total-limit eviction). */
  private readonly queuedHalves = new LargestQueueHeap<HalfStream>();
  private totalQueuedBytes = 0;
  private flowsCreated = 0;
  /**
   * Ends of the activity list: an O(1) LRU. (Deleting and re-inserting Map entries and taking
   * the first with `values().next()` is not O(1): V8 leaves deleted entries as holes that every
   * new iterator walks, so a SYN flood at maxFlows took minutes.)
   */
  private leastRecentFlow: Flow | null = null;
  private mostRecentFlow: Flow | null = null;
  /** Walks recentlyClosed oldest first across calls, so holes left by deletions are passed once. */
  private oldestClosed: Iterator<string> | null = null;
  private lastIdleCheckMs = Number.NEGATIVE_INFINITY;
  private nowMs = 0;
  /** One reused context; consumers must not keep it. */
  private readonly context: DeliveryContext = {
    frameNumber: 0,
    timestampSeconds: 0,
    timestampNanos: 0,
    timePrecisionDigits: 6,
  };
  /** One-entry lookup cache: consecutive segments of one flow, either way, skip building the key. */
  private cachedFlow: Flow | null = null;
  private cachedSourceAddress = "";
  private cachedSourcePort = -1;
  private cachedDestinationAddress = "";
  private cachedDestinationPort = -1;

  constructor(
    factory: FlowConsumerFactory,
    diagnostics: Diagnostics,
    limits: ReassemblyLimits = defaultReassemblyLimits,
  ) {
    this.factory = factory;
    this.diagnostics = diagnostics;
    this.limits = limits;
  }

  /** Flows being tracked. */
  get activeFlows(): number {
    return this.flows.size;
  }

  /**
   * Bytes charged to out-of-order queues across all flows: payload bytes, each queued piece
   * counted as at least `minChargedBytesPerPiece` (see out-of-order-queue.ts).
   */
  get queuedBytes(): number {
    return this.totalQueuedBytes;
  }

  /** Feeds one segment. `segment` and `frame` (and the payload view) are used only during the call. */
  push(segment: TcpSegment, frame: Frame): void {
    this.setContextFromFrame(frame);
    const nowMs = frameTimeMs(frame);
    this.nowMs = nowMs;
    // Time going backwards (merged captures) also triggers a check, so it cannot stall them.
    if (nowMs - this.lastIdleCheckMs >= idleCheckIntervalMs || nowMs < this.lastIdleCheckMs) {
      this.endIdleFlows(nowMs);
    }

    const flags = segment.flags;
    const syn = (flags & TcpFlag.syn) !== 0;
    const freshSyn = syn && (flags & TcpFlag.ack) === 0 && segment.toServer;

    let flow = this.findFlow(segment);
    if (flow !== undefined && nowMs - flow.lastSeenMs >= this.limits.idleTimeoutMs) {
      this.endFlow(flow, "idle");
      flow = undefined;
    }
    if (flow !== undefined && freshSyn && this.isNewConnection(flow, segment)) {
      // The client reused the 4-tuple: the old connection is over even though we never saw it
      // end. No reason fits exactly; "evicted" says it was forced out (no limit counter).
      this.endFlow(flow, "evicted");
      flow = undefined;
    }

    if (flow === undefined) {
      const key = flowKey(segment);
      if (this.recentlyClosed.has(key)) {
        if (!freshSyn) {
          this.diagnostics.count("segmentsAfterClose");
          return;
        }
        this.recentlyClosed.delete(key);
      }
      const hasData = segment.payload.length + segment.missingPayloadBytes > 0;
      if (!syn && !hasData && (flags & TcpFlag.fin) === 0) return; // pure ACK or bare RST
      flow = this.createFlow(key, segment, nowMs);
    } else {
      this.touch(flow, nowMs);
    }
    this.handleSegment(flow, segment);
  }

  /** Ends flows with no segment for idleTimeoutMs before `nowMs` (live capture: wall time). */
  flushIdle(nowMs: number, context?: DeliveryContext): void {
    if (context !== undefined) this.setContext(context);
    this.nowMs = nowMs;
    this.endIdleFlows(nowMs);
  }

  /** Ends every flow, oldest first (creation order), delivering what is queued after a gap. */
  flushAll(reason: FlowEndReason, context?: DeliveryContext): void {
    if (context !== undefined) this.setContext(context);
    const flows = [...this.flows.values()].sort((a, b) => a.serial - b.serial);
    for (const flow of flows) this.endFlow(flow, reason);
  }

  private handleSegment(flow: Flow, segment: TcpSegment): void {
    const flags = segment.flags;
    const syn = (flags & TcpFlag.syn) !== 0;
    const fin = (flags & TcpFlag.fin) !== 0;
    const half = flow.halves[segment.toServer ? Direction.toServer : Direction.toClient];
    const dataSequence = syn ? sequenceAdd(segment.sequence, 1) : segment.sequence;
    const dataLength = segment.payload.length + segment.missingPayloadBytes;

    if (syn) {
      if (!half.started) half.startAt(dataSequence);
      const client = flow.halves[Direction.toServer];
      // A SYN-ACK acknowledges the client's ISN+1: where its data starts, even without its SYN.
      if (!segment.toServer && (flags & TcpFlag.ack) !== 0 && !client.started) {
        client.startAt(segment.acknowledgement);
      }
    } else if (!half.started && (dataLength > 0 || fin)) {
      half.startAt(dataSequence);
      if (!flow.startedMidStream) {
        flow.startedMidStream = true;
        this.diagnostics.count("flowsStartedMidStream");
      }
    }

    if (half.started) {
      if (dataLength > 0) this.handleData(half, segment.payload, dataSequence, segment.missingPayloadBytes);
      if (fin) this.handleFin(half, half.offsetOf(dataSequence) + dataLength);
    }

    if ((flags & TcpFlag.rst) !== 0) {
      // "fin" when the other side had already closed: the connection was ending anyway.
      const other = flow.halves[segment.toServer ? Direction.toClient : Direction.toServer];
      this.endFlow(flow, other.finOffset >= 0 ? "fin" : "rst");
      return;
    }
    if (flow.halves[0].closed && flow.halves[1].closed) this.endFlow(flow, "fin");
  }

  private handleData(half: HalfStream, payload: Uint8Array, dataSequence: number, missingBytes: number): void {
    const start = half.offsetOf(dataSequence);
    let capturedEnd = start + payload.length;
    let end = capturedEnd + missingBytes;
    if (half.finOffset >= 0 && end > half.finOffset) {
      if (start >= half.finOffset) {
        this.diagnostics.count("segmentsAfterClose");
        return;
      }
      end = half.finOffset;
      if (capturedEnd > end) capturedEnd = end;
    }

    // Each pass either finishes or gives up a hole (shrinking a queue), so this terminates.
    for (;;) {
      if (end <= half.nextOffset) {
        this.countOldData(half, start, end);
        return;
      }
      if (start <= half.nextOffset) {
        this.deliverInOrder(half, payload, start, capturedEnd, end);
        return;
      }
      const queue = half.queue;
      const plan = queue.planInsert(start, end, capturedEnd);
      const charge = plan.charge;
      if (charge === 0) {
        this.diagnostics.count("segmentsDuplicate");
        return;
      }
      if (queue.chargedBytes + charge > this.limits.maxQueuedBytesPerDirection) {
        // Stop waiting for the oldest hole; a segment too big to queue at all is delivered
        // right after a gap.
        if (queue.isEmpty) this.declareGap(half, start);
        else this.giveUpFirstHole(half);
        continue;
      }
      if (this.totalQueuedBytes + charge > this.limits.maxQueuedBytesTotal) {
        const largest = this.queuedHalves.peek();
        if (largest === undefined) {
          this.declareGap(half, start);
        } else {
          this.giveUpFirstHole(largest);
          const other = largest.flow;
          if (other !== half.flow && other.halves[0].closed && other.halves[1].closed) this.endFlow(other, "fin");
        }
        continue;
      }
      const added = queue.insert(plan, payload, start);
      this.totalQueuedBytes += added;
      this.queuedHalves.update(half);
      this.diagnostics.count("segmentsOutOfOrder");
      return;
    }
  }

  /** Data entirely before `nextOffset`: a retransmit, or a late copy of bytes declared lost. */
  private countOldData(half: HalfStream, start: number, end: number): void {
    if (start < half.lastGapEnd && end > half.lastGapStart) this.diagnostics.count("segmentsOutOfOrderDropped");
    else this.diagnostics.count("segmentsDuplicate");
  }

  /**
   * Delivers [nextOffset, end) of a segment that starts at or before `nextOffset`. Queued bytes
   * inside that range arrived first and win over the segment's copy.
   */
  private deliverInOrder(half: HalfStream, payload: Uint8Array, start: number, capturedEnd: number, end: number): void {
    while (half.nextOffset < end) {
      const position = half.nextOffset;
      const head = half.queue.peek();
      if (head !== undefined && head.offset <= position) {
        this.deliverHead(half);
        continue;
      }
      const stop = head === undefined || head.offset > end ? end : head.offset;
      if (position < capturedEnd) {
        const dataEnd = stop < capturedEnd ? stop : capturedEnd;
        const whole = position === start && dataEnd === start + payload.length;
        half.nextOffset = dataEnd;
        half.flow.consumer.onData(
          half.direction,
          whole ? payload : payload.subarray(position - start, dataEnd - start),
          this.context,
        );
      }
      if (stop > half.nextOffset) this.declareGap(half, stop, "snaplen");
    }
    this.drainContiguous(half);
  }

  private handleFin(half: HalfStream, finOffset: number): void {
    if (half.finOffset >= 0) return; // the first FIN wins
    // A FIN before bytes already delivered cannot move the stream back: close where it is.
    half.finOffset = finOffset > half.nextOffset ? finOffset : half.nextOffset;
    const released = half.queue.discardFrom(half.finOffset);
    if (released > 0) {
      this.totalQueuedBytes -= released;
      this.diagnostics.count("segmentsAfterClose");
      this.queuedHalves.update(half);
    }
    this.checkClosed(half);
  }

  private checkClosed(half: HalfStream): void {
    if (!half.closed && half.finOffset >= 0 && half.nextOffset >= half.finOffset) half.closed = true;
  }

  /** Delivers queued pieces while they continue the stream. */
  private drainContiguous(half: HalfStream): void {
    for (;;) {
      const head = half.queue.peek();
      if (head === undefined || head.offset > half.nextOffset) break;
      this.deliverHead(half);
    }
    this.checkClosed(half);
  }

  /** Delivers the queue's first piece (which starts at `nextOffset`). */
  private deliverHead(half: HalfStream): void {
    const queue = half.queue;
    const chargedBefore = queue.chargedBytes;
    const piece = queue.shift()!;
    this.totalQueuedBytes -= chargedBefore - queue.chargedBytes;
    this.queuedHalves.update(half);
    const end = piece.offset + piece.length;
    if (piece.bytes === null) {
      this.declareGap(half, end, "snaplen");
    } else {
      half.nextOffset = end;
      half.flow.consumer.onData(half.direction, piece.bytes, this.context);
    }
  }

  /** Stops waiting for the first hole: reports it lost, then delivers what follows it. */
  private giveUpFirstHole(half: HalfStream): void {
    const head = half.queue.peek();
    if (head === undefined) return;
    this.declareGap(half, head.offset);
    this.drainContiguous(half);
  }

  /** Declares [nextOffset, offset) lost and moves the stream past it. */
  private declareGap(half: HalfStream, offset: number, cause: GapCause = "lost"): void {
    const lostBytes = offset - half.nextOffset;
    if (lostBytes <= 0) return;
    half.lastGapStart = half.nextOffset;
    half.lastGapEnd = offset;
    half.nextOffset = offset;
    this.diagnostics.count("gaps");
    this.diagnostics.count("gapBytes", lostBytes);
    half.flow.consumer.onGap(half.direction, lostBytes, this.context, cause);
  }

  /** A client SYN on a tracked flow starts a new connection unless it repeats the known ISN. */
  private isNewConnection(flow: Flow, segment: TcpSegment): boolean {
    const client = flow.halves[Direction.toServer];
    return client.started && sequenceAdd(segment.sequence, 1) !== client.baseSequence;
  }

  private findFlow(segment: TcpSegment): Flow | undefined {
    const cached = this.cachedFlow;
    if (cached !== null) {
      const sourcePort = segment.sourcePort;
      const destinationPort = segment.destinationPort;
      // Either direction of the cached flow: requests and responses alternate.
      if (
        sourcePort === this.cachedSourcePort &&
        destinationPort === this.cachedDestinationPort &&
        segment.sourceAddress === this.cachedSourceAddress &&
        segment.destinationAddress === this.cachedDestinationAddress
      ) {
        return cached;
      }
      if (
        sourcePort === this.cachedDestinationPort &&
        destinationPort === this.cachedSourcePort &&
        segment.sourceAddress === this.cachedDestinationAddress &&
        segment.destinationAddress === this.cachedSourceAddress
      ) {
        return cached;
      }
    }
    const flow = this.flows.get(flowKey(segment));
    if (flow !== undefined) this.cacheLookup(segment, flow);
    return flow;
  }

  private cacheLookup(segment: TcpSegment, flow: Flow): void {
    this.cachedFlow = flow;
    this.cachedSourceAddress = segment.sourceAddress;
    this.cachedSourcePort = segment.sourcePort;
    this.cachedDestinationAddress = segment.destinationAddress;
    this.cachedDestinationPort = segment.destinationPort;
  }

  private createFlow(key: string, segment: TcpSegment, nowMs: number): Flow {
    while (this.flows.size >= this.limits.maxFlows && this.leastRecentFlow !== null) {
      this.diagnostics.count("flowsEvictedLimit");
      this.endFlow(this.leastRecentFlow, "evicted");
    }
    const consumer = this.factory.createFlow(endpointsOf(segment), this.context);
    const flow = new Flow(this.flowsCreated++, key, consumer, nowMs);
    this.flows.set(key, flow);
    this.linkMostRecent(flow);
    this.cacheLookup(segment, flow);
    this.diagnostics.count("flowsOpened");
    return flow;
  }

  private touch(flow: Flow, nowMs: number): void {
    flow.lastSeenMs = nowMs;
    if (this.mostRecentFlow !== flow) {
      this.unlink(flow);
      this.linkMostRecent(flow);
    }
  }

  private linkMostRecent(flow: Flow): void {
    flow.olderFlow = this.mostRecentFlow;
    flow.newerFlow = null;
    if (this.mostRecentFlow === null) this.leastRecentFlow = flow;
    else this.mostRecentFlow.newerFlow = flow;
    this.mostRecentFlow = flow;
  }

  private unlink(flow: Flow): void {
    if (flow.olderFlow === null) this.leastRecentFlow = flow.newerFlow;
    else flow.olderFlow.newerFlow = flow.newerFlow;
    if (flow.newerFlow === null) this.mostRecentFlow = flow.olderFlow;
    else flow.newerFlow.olderFlow = flow.olderFlow;
    flow.olderFlow = null;
    flow.newerFlow = null;
  }

  private endIdleFlows(nowMs: number): void {
    this.lastIdleCheckMs = nowMs;
    const idleTimeoutMs = this.limits.idleTimeoutMs;
    // Least recently active first: stop at the first flow that is still active.
    while (this.leastRecentFlow !== null && nowMs - this.leastRecentFlow.lastSeenMs >= idleTimeoutMs) {
      this.endFlow(this.leastRecentFlow, "idle");
    }
    for (const [key, closedAtMs] of this.recentlyClosed) {
      if (nowMs - closedAtMs < idleTimeoutMs) break;
      this.recentlyClosed.delete(key);
    }
  }

  /**
   * Ends a flow: per direction, queued data is delivered after a gap for each hole, and bytes
   * missing before a FIN are reported as a gap; then `onEnd`, exactly once.
   */
  private endFlow(flow: Flow, reason: FlowEndReason): void {
    if (flow.ended) return;
    flow.ended = true;
    // Out of the table first: a consumer that throws below must not leave an ended flow at the
    // head of the activity list (the eviction loop would spin on it).
    this.flows.delete(flow.key);
    this.unlink(flow);
    if (this.cachedFlow === flow) this.cachedFlow = null;
    for (const half of flow.halves) {
      while (!half.queue.isEmpty) this.giveUpFirstHole(half);
      if (half.finOffset > half.nextOffset) this.declareGap(half, half.finOffset);
    }

    this.diagnostics.count("flowsClosed");
    if (reason === "idle") this.diagnostics.count("flowsFlushedIdle");
    if (reason === "fin" || reason === "rst") this.rememberClosed(flow.key);
    flow.consumer.onEnd(reason, this.context);
  }

  private rememberClosed(key: string): void {
    this.recentlyClosed.delete(key); // re-insert at the end: the order is by close time
    this.recentlyClosed.set(key, this.nowMs);
    if (this.recentlyClosed.size > this.limits.maxFlows) this.forgetOldestClosed();
  }

  /**
   * Deletes the oldest entry of recentlyClosed. A Map iterator is live: everything before its
   * position was deleted by this method and entries are only ever added at the end, so its next
   * key is the oldest one; a fresh iterator is needed only once it has run out.
   */
  private forgetOldestClosed(): void {
    let step = this.oldestClosed?.next();
    if (step === undefined || step.done === true) {
      this.oldestClosed = this.recentlyClosed.keys();
      step = this.oldestClosed.next();
    }
    if (step.done !== true) this.recentlyClosed.delete(step.value);
  }

  private setContextFromFrame(frame: Frame): void {
    const context = this.context;
    context.frameNumber = frame.number;
    context.timestampSeconds = frame.timestampSeconds;
    context.timestampNanos = frame.timestampNanos;
    context.timePrecisionDigits = frame.timePrecisionDigits;
  }

  private setContext(source: DeliveryContext): void {
    const context = this.context;
    context.frameNumber = source.frameNumber;
    context.timestampSeconds = source.timestampSeconds;
    context.timestampNanos = source.timestampNanos;
    context.timePrecisionDigits = source.timePrecisionDigits;
  }
}
