/**
 * Test helpers for the reassembler: a feeder that builds segments and frames the way the decoder
 * and sources do (ONE reused segment and frame object, payload a view into a scratch buffer that
 * is overwritten after every push, so a reassembler that keeps views fails the tests), and a
 * consumer that records what it is given.
 */
import { Diagnostics } from "../../src/diagnostics.js";
import type { TcpSegment } from "../../src/decode/segment.js";
import { TcpFlag, createTcpSegment } from "../../src/decode/segment.js";
import type { Frame } from "../../src/source/frame.js";
import { createFrame } from "../../src/source/frame.js";
import { TcpReassembler } from "../../src/reassembly/tcp-reassembler.js";
import type {
  DeliveryContext,
  Direction,
  FlowConsumer,
  FlowConsumerFactory,
  FlowEndReason,
  FlowEndpoints,
  ReassemblyLimits,
} from "../../src/reassembly/types.js";
import { defaultReassemblyLimits } from "../../src/reassembly/types.js";

export const { fin: FIN, syn: SYN, rst: RST, psh: PSH, ack: ACK } = TcpFlag;

export const client = { address: "10.0.0.1", port: 40000 } as const;
export const server = { address: "169.254.169.254", port: 80 } as const;

export interface SegmentSpec {
  /** Client -> server when true (the default). */
  readonly toServer?: boolean;
  readonly sequence: number;
  readonly acknowledgement?: number;
  /** Default ACK (PSH|ACK when there is payload). */
  readonly flags?: number;
  /** Latin-1 text or bytes. */
  readonly payload?: string | Uint8Array;
  readonly missingPayloadBytes?: number;
  /** Client port, to make several flows. */
  readonly clientPort?: number;
  /** Capture time of the frame, ms since the epoch (default: the previous frame's time). */
  readonly timeMs?: number;
}

export function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, "latin1"));
}

export interface RecordedFlow {
  readonly endpoints: FlowEndpoints;
  /** Per direction: delivered bytes as latin-1 text, each gap written as `[gap N]`. */
  readonly streams: [string, string];
  /** Every call in order: "data 0 abc", "gap 1 5", "end fin". */
  readonly calls: string[];
  /** Frame number of the context of each call, parallel to `calls`. */
  readonly frameNumbers: number[];
  endReason: FlowEndReason | null;
  /** Created after the flow ended? (must never happen) */
  callsAfterEnd: number;
}

export class RecordingFactory implements FlowConsumerFactory {
  readonly flows: RecordedFlow[] = [];
  /** Index (creation order) of each flow as it ended. */
  readonly endOrder: number[] = [];

  createFlow(endpoints: FlowEndpoints): FlowConsumer {
    const record: RecordedFlow = {
      endpoints,
      streams: ["", ""],
      calls: [],
      frameNumbers: [],
      endReason: null,
      callsAfterEnd: 0,
    };
    const index = this.flows.length;
    this.flows.push(record);
    const endOrder = this.endOrder;
    const note = (call: string, ctx: DeliveryContext): void => {
      if (record.endReason !== null) record.callsAfterEnd++;
      record.calls.push(call);
      record.frameNumbers.push(ctx.frameNumber);
    };
    return {
      onData(direction: Direction, bytes: Uint8Array, ctx: DeliveryContext): void {
        const text = Buffer.from(bytes).toString("latin1"); // copies: the view dies after the call
        note(`data ${direction} ${text}`, ctx);
        record.streams[direction] += text;
      },
      onGap(direction: Direction, lostBytes: number | null, ctx: DeliveryContext): void {
        note(`gap ${direction} ${lostBytes ?? "?"}`, ctx);
        record.streams[direction] += `[gap ${lostBytes ?? "?"}]`;
      },
      onEnd(reason: FlowEndReason, ctx: DeliveryContext): void {
        note(`end ${reason}`, ctx);
        record.endReason = reason;
        endOrder.push(index);
      },
    };
  }

  /** The only flow (fails loudly if there is not exactly one). */
  get only(): RecordedFlow {
    if (this.flows.length !== 1) throw new Error(`expected one flow, got ${this.flows.length}`);
    return this.flows[0]!;
  }
}

/** Drives a reassembler with one reused segment, one reused frame and one scratch payload buffer. */
export class Feeder<Factory extends FlowConsumerFactory = RecordingFactory> {
  readonly diagnostics = new Diagnostics();
  readonly factory: Factory;
  readonly reassembler: TcpReassembler;
  private readonly segment: TcpSegment = createTcpSegment();
  private readonly frame: Frame = createFrame();
  private scratch = new Uint8Array(65536);
  private timeMs = 1_700_000_000_000;

  /** Without `factory`, a RecordingFactory (then `Factory` must be left at its default). */
  constructor(limits: ReassemblyLimits = defaultReassemblyLimits, factory?: Factory) {
    this.factory = factory ?? (new RecordingFactory() as unknown as Factory);
    this.reassembler = new TcpReassembler(this.factory, this.diagnostics, limits);
  }

  get frameNumber(): number {
    return this.frame.number;
  }

  get nowMs(): number {
    return this.timeMs;
  }

  push(spec: SegmentSpec): void {
    const payload = typeof spec.payload === "string" ? bytesOf(spec.payload) : (spec.payload ?? new Uint8Array(0));
    if (payload.length > this.scratch.length) this.scratch = new Uint8Array(payload.length);
    this.scratch.set(payload, 0);
    const toServer = spec.toServer ?? true;
    const clientPort = spec.clientPort ?? client.port;
    const segment = this.segment;
    segment.ipVersion = 4;
    segment.sourceAddress = toServer ? client.address : server.address;
    segment.sourcePort = toServer ? clientPort : server.port;
    segment.destinationAddress = toServer ? server.address : client.address;
    segment.destinationPort = toServer ? server.port : clientPort;
    segment.toServer = toServer;
    segment.sequence = spec.sequence >>> 0;
    segment.acknowledgement = (spec.acknowledgement ?? 0) >>> 0;
    segment.flags = spec.flags ?? (payload.length > 0 ? PSH | ACK : ACK);
    segment.payload = this.scratch.subarray(0, payload.length);
    segment.missingPayloadBytes = spec.missingPayloadBytes ?? 0;

    if (spec.timeMs !== undefined) this.timeMs = spec.timeMs;
    const frame = this.frame;
    frame.number++;
    frame.timestampSeconds = Math.floor(this.timeMs / 1000);
    frame.timestampNanos = (this.timeMs % 1000) * 1_000_000;
    frame.timePrecisionDigits = 6;
    this.reassembler.push(segment, frame);
    // Whatever the reassembler kept as a view now reads garbage.
    this.scratch.fill(0x23, 0, Math.max(payload.length, 1)); // '#'
  }

  pushAll(specs: readonly SegmentSpec[]): void {
    for (const spec of specs) this.push(spec);
  }
}

/** Client ISN used by most tests, and the server's. */
export const clientIsn = 1000;
export const serverIsn = 5000;

/** SYN, SYN-ACK (no final ACK: it changes nothing). Client data then starts at clientIsn + 1. */
export function handshake(isn = clientIsn, peerIsn = serverIsn, clientPort: number = client.port): SegmentSpec[] {
  return [
    { sequence: isn, flags: SYN, clientPort },
    { toServer: false, sequence: peerIsn, acknowledgement: (isn + 1) >>> 0, flags: SYN | ACK, clientPort },
  ];
}

/** Every ordering of `items` (Heap's algorithm would do too; n <= 6 here). */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  const result: T[][] = [];
  items.forEach((item, index) => {
    const rest = [...items.slice(0, index), ...items.slice(index + 1)];
    for (const tail of permutations(rest)) result.push([item, ...tail]);
  });
  return result;
}
