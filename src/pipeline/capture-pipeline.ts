import { FrameDecoder } from "../decode/index.js";
import { createTcpSegment } from "../decode/segment.js";
import type { Diagnostics } from "../diagnostics.js";
import { TcpReassembler } from "../reassembly/index.js";
import type { DeliveryContext, FlowConsumer, FlowConsumerFactory, FlowEndpoints, FlowEndReason, ReassemblyLimits } from "../reassembly/types.js";
import { defaultReassemblyLimits } from "../reassembly/types.js";
import type { Frame } from "../source/frame.js";
import { frameTimeMs } from "../source/frame.js";
import type { EventListener, EventQueueLimits } from "./event-queue.js";
import { defaultEventQueueLimits, EventQueue } from "./event-queue.js";
import { ImdsFlow } from "./imds-flow.js";

export interface PipelineLimits {
  readonly reassembly: ReassemblyLimits;
  readonly events: EventQueueLimits;
}

export interface PipelineHooks {
  /** A new connection to IMDS was seen (live capture starts /proc attribution here). */
  readonly onFlowStart?: (endpoints: FlowEndpoints) => void;
  /**
   * A connection to IMDS ended (FIN, RST, idle, evicted, capture end) after making `events`
   * events; they may still wait in the event queue. Live capture forgets the connection's
   * attribution once they are all attributed.
   */
  readonly onFlowEnd?: (endpoints: FlowEndpoints, events: number, reason: FlowEndReason) => void;
}

export const defaultPipelineLimits: PipelineLimits = {
  reassembly: defaultReassemblyLimits,
  events: defaultEventQueueLimits,
};

/**
 * The synchronous core for one capture source: frame -> decode -> reassembly -> HTTP -> calls ->
 * events in capture order. Called once per frame; allocates nothing for frames that are not IMDS
 * traffic. One pipeline per source, so flows of different files never mix.
 *
 * It also owns per-frame accounting, the same for files and live capture: every frame counts
 * in `framesRead`, and a frame the snaplen cut in `framesSnaplenCut` (the drivers and the file
 * parsers count nothing per frame).
 */
export class CapturePipeline implements FlowConsumerFactory {
  private readonly decoder: FrameDecoder;
  private readonly segment = createTcpSegment();
  private readonly reassembler: TcpReassembler;
  private readonly queue: EventQueue;
  private lastFrameMs = 0;
  private framesSeen = 0;
  private largestCutLength = 0;

  constructor(
    private readonly source: string,
    onEvent: EventListener,
    private readonly diagnostics: Diagnostics,
    limits: PipelineLimits = defaultPipelineLimits,
    private readonly hooks: PipelineHooks = {},
  ) {
    this.decoder = new FrameDecoder(diagnostics);
    this.reassembler = new TcpReassembler(this, diagnostics, limits.reassembly);
    this.queue = new EventQueue(onEvent, diagnostics, limits.events);
  }

  onFrame(frame: Frame): void {
    this.framesSeen++;
    this.diagnostics.count("framesRead");
    const capturedLength = frame.end - frame.start;
    if (capturedLength < frame.originalLength) {
      this.diagnostics.count("framesSnaplenCut");
      if (capturedLength > this.largestCutLength) this.largestCutLength = capturedLength;
    }
    this.lastFrameMs = frameTimeMs(frame);
    if (this.decoder.decode(frame, this.segment)) {
      this.reassembler.push(this.segment, frame);
    }
    if (this.queue.size > 0) this.queue.release(this.lastFrameMs);
  }

  createFlow(endpoints: FlowEndpoints, _context: DeliveryContext): FlowConsumer {
    this.hooks.onFlowStart?.(endpoints);
    const onFlowEnd = this.hooks.onFlowEnd;
    return new ImdsFlow(endpoints, this.source, this.queue, this.diagnostics, () => this.snaplenCutAtBytes, onFlowEnd === undefined ? undefined : (events, reason) => { onFlowEnd(endpoints, events, reason); });
  }

  /** The source is exhausted (or failed): end every flow and let every event out. */
  finish(): void {
    this.reassembler.flushAll("capture-end");
    this.queue.drain();
  }

  /** Live capture: end flows idle for longer than the limit, measured on the wall clock. */
  flushIdle(nowMs: number): void {
    this.reassembler.flushIdle(nowMs);
    this.queue.release(nowMs);
  }

  /** Frames given to this pipeline: its source's frame count. */
  get frames(): number {
    return this.framesSeen;
  }

  /**
   * Where the snaplen cut frames: the largest captured length among cut frames (a cut frame
   * holds exactly snaplen bytes), or null when no frame was cut.
   */
  get snaplenCutAtBytes(): number | null {
    return this.largestCutLength === 0 ? null : this.largestCutLength;
  }

  get pendingEvents(): number {
    return this.queue.size;
  }

  /** The EC2 instance id learned from IMDS's answers in this source, or null. */
  get instanceId(): string | null {
    return this.queue.instanceId;
  }
}
