/**
 * Property tests of the TCP reassembler: segments of two known byte streams, with duplicates and
 * overlaps, in any order and across the 2^32 wrap, give back exactly the streams when no limit
 * is hit, and correct bytes at correct positions (losses only as reported gaps) when limits are
 * tight; hostile segment sequences (any flags, sequence numbers, ports, times) never throw, keep
 * the queues and the flow table within their limits, and end every flow exactly once.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Direction, FlowConsumer, FlowConsumerFactory, FlowEndReason, ReassemblyLimits } from "../../src/reassembly/types.js";
import { ACK, FIN, Feeder, PSH, RST, SYN, handshake } from "../reassembly/helpers.js";
import type { SegmentSpec } from "../reassembly/helpers.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";

/** Records what one flow was given, per direction, checking the consumer contract as it goes. */
class StreamRecorder implements FlowConsumer {
  /** Per direction: delivered bytes, gaps as `null` entries of their length. */
  readonly pieces: [(number[] | number)[], (number[] | number)[]] = [[], []];
  readonly ends: FlowEndReason[] = [];
  callsAfterEnd = 0;
  emptyCalls = 0;
  dataBytes = 0;

  onData(direction: Direction, bytes: Uint8Array): void {
    if (this.ends.length > 0) this.callsAfterEnd++;
    if (bytes.length === 0) this.emptyCalls++;
    this.dataBytes += bytes.length;
    this.pieces[direction].push(Array.from(bytes));
  }

  onGap(direction: Direction, lostBytes: number | null): void {
    if (this.ends.length > 0) this.callsAfterEnd++;
    if (lostBytes === null || lostBytes <= 0) this.emptyCalls++;
    this.pieces[direction].push(lostBytes ?? Number.NaN);
  }

  onEnd(reason: FlowEndReason): void {
    this.ends.push(reason);
  }

  /** The direction's stream with gaps as runs of -1. */
  stream(direction: Direction): number[] {
    const result: number[] = [];
    for (const piece of this.pieces[direction]) {
      if (typeof piece === "number") for (let index = 0; index < piece; index++) result.push(-1);
      else result.push(...piece);
    }
    return result;
  }
}

class RecorderFactory implements FlowConsumerFactory {
  readonly flows: StreamRecorder[] = [];
  createFlow(): FlowConsumer {
    const recorder = new StreamRecorder();
    this.flows.push(recorder);
    return recorder;
  }
}

const clientIsnArbitrary = fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.integer({ min: 0xffff_fe00, max: 0xffff_ffff }));

/** A stream and the segments that cover it (cut at `cuts`), plus overlapping extra copies. */
interface DirectionPlan {
  readonly stream: Uint8Array;
  readonly cuts: number[];
  readonly extras: { readonly from: number; readonly length: number }[];
  readonly fin: boolean;
}

const directionPlanArbitrary: fc.Arbitrary<DirectionPlan> = fc.record({
  stream: fc.uint8Array({ maxLength: 400 }),
  cuts: fc.array(fc.nat(), { maxLength: 12 }),
  extras: fc.array(fc.record({ from: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }), { maxLength: 5 }),
  fin: fc.boolean(),
});

function segmentsOf(plan: DirectionPlan, toServer: boolean, isn: number, peerIsn: number): SegmentSpec[] {
  const { stream } = plan;
  const bounds = [...new Set([0, ...plan.cuts.map((cut) => cut % (stream.length + 1)), stream.length])].sort((a, b) => a - b);
  const segment = (from: number, to: number, fin: boolean): SegmentSpec => ({
    toServer,
    sequence: (isn + 1 + from) >>> 0,
    acknowledgement: (peerIsn + 1) >>> 0,
    flags: fin ? FIN | ACK : PSH | ACK,
    payload: stream.slice(from, to),
  });
  const result: SegmentSpec[] = [];
  for (let index = 1; index < bounds.length; index++) {
    const to = bounds[index]!;
    result.push(segment(bounds[index - 1]!, to, plan.fin && to === stream.length));
  }
  if (plan.fin && stream.length === 0) result.push(segment(0, 0, true));
  if (stream.length > 0) {
    for (const extra of plan.extras) {
      const from = extra.from % stream.length;
      result.push(segment(from, Math.min(stream.length, from + extra.length), false));
    }
  }
  return result;
}

const roomyLimits: ReassemblyLimits = {
  maxQueuedBytesPerDirection: 1_000_000,
  maxQueuedBytesTotal: 10_000_000,
  maxFlows: 100,
  idleTimeoutMs: 60_000,
};

const tightLimitsArbitrary: fc.Arbitrary<ReassemblyLimits> = fc
  .record({ perDirection: fc.integer({ min: 64, max: 1024 }), total: fc.integer({ min: 64, max: 2048 }) })
  .map(({ perDirection, total }) => ({ ...roomyLimits, maxQueuedBytesPerDirection: perDirection, maxQueuedBytesTotal: total }));

/** A permutation of 0..length-1 from arbitrary sort keys. */
function orderOf(keys: readonly number[], length: number): number[] {
  return Array.from({ length }, (_, index) => index).sort((a, b) => (keys[a] ?? 0) - (keys[b] ?? 0) || a - b);
}

describe("TcpReassembler under fuzzing", () => {
  for (const variant of ["roomy limits: exactly the streams", "tight limits: right bytes at right places"] as const) {
    const roomy = variant.startsWith("roomy");
    it(
      `segments in any order, duplicated and overlapping; ${variant}`,
      () => {
        fc.assert(
          fc.property(
            directionPlanArbitrary,
            directionPlanArbitrary,
            clientIsnArbitrary,
            clientIsnArbitrary,
            fc.array(fc.nat(), { maxLength: 64 }),
            roomy ? fc.constant(roomyLimits) : tightLimitsArbitrary,
            (clientPlan, serverPlan, clientIsn, serverIsn, orderKeys, limits) => {
              const factory = new RecorderFactory();
              const feeder = new Feeder(limits, factory);
              feeder.pushAll(handshake(clientIsn, serverIsn));
              const segments = [
                ...segmentsOf(clientPlan, true, clientIsn, serverIsn),
                ...segmentsOf(serverPlan, false, serverIsn, clientIsn),
              ];
              for (const index of orderOf(orderKeys, segments.length)) {
                feeder.push(segments[index]!);
                expect(feeder.reassembler.queuedBytes).toBeLessThanOrEqual(limits.maxQueuedBytesTotal);
              }
              feeder.reassembler.flushAll("capture-end");
              expect(factory.flows).toHaveLength(1);
              const flow = factory.flows[0]!;
              expect(flow.ends).toEqual([clientPlan.fin && serverPlan.fin ? "fin" : "capture-end"]);
              expect(flow.callsAfterEnd).toBe(0);
              expect(flow.emptyCalls).toBe(0);
              expect(feeder.reassembler.queuedBytes).toBe(0);
              expect(feeder.reassembler.activeFlows).toBe(0);
              for (const [direction, plan] of [[0, clientPlan], [1, serverPlan]] as const) {
                const delivered = flow.stream(direction);
                const expected = Array.from(plan.stream);
                if (roomy) {
                  expect(delivered).toEqual(expected);
                } else {
                  // Losses are gaps (-1) at their place; every delivered byte is the stream's.
                  expect(delivered.length).toBeLessThanOrEqual(expected.length);
                  delivered.forEach((byte, position) => {
                    if (byte !== -1) expect(byte, `direction ${direction} byte ${position}`).toBe(expected[position]);
                  });
                  if (plan.fin) expect(delivered.length).toBe(expected.length);
                }
              }
              if (roomy) expect(feeder.diagnostics.counters.gaps).toBe(0);
            },
          ),
          fuzzParameters(300),
        );
      },
      fuzzTimeoutMs,
    );
  }

  it(
    "hostile segments (any flags, sequences, ports, times, snaplen gaps): bounded, every flow ends once",
    () => {
      const segmentArbitrary = fc.record({
        toServer: fc.boolean(),
        clientPort: fc.constantFrom(40000, 40001, 40002, 40003),
        sequence: fc.oneof(fc.nat({ max: 3000 }), fc.nat({ max: 0xffff_ffff }), fc.integer({ min: 0xffff_f000, max: 0xffff_ffff })),
        acknowledgement: fc.oneof(fc.nat({ max: 3000 }), fc.nat({ max: 0xffff_ffff })),
        flags: fc.oneof(fc.constantFrom(SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST, RST | ACK, FIN | PSH | ACK), fc.nat({ max: 0xff })),
        payload: fc.uint8Array({ maxLength: 60 }),
        missingPayloadBytes: fc.oneof(fc.constant(0), fc.nat({ max: 2000 })),
        advanceMs: fc.oneof(fc.constant(0), fc.nat({ max: 5000 }), fc.nat({ max: 200_000 })),
      });
      fc.assert(
        fc.property(
          fc.array(segmentArbitrary, { maxLength: 60 }),
          fc.record({
            maxQueuedBytesPerDirection: fc.integer({ min: 1, max: 2048 }),
            maxQueuedBytesTotal: fc.integer({ min: 1, max: 4096 }),
            maxFlows: fc.integer({ min: 1, max: 4 }),
            idleTimeoutMs: fc.integer({ min: 1, max: 100_000 }),
          }),
          (segments, limits) => {
            const factory = new RecorderFactory();
            const feeder = new Feeder(limits, factory);
            let timeMs = 1_700_000_000_000;
            let payloadBytes = 0;
            for (const { advanceMs, ...spec } of segments) {
              timeMs += advanceMs;
              payloadBytes += spec.payload.length;
              feeder.push({ ...spec, timeMs });
              expect(feeder.reassembler.queuedBytes).toBeLessThanOrEqual(limits.maxQueuedBytesTotal);
              expect(feeder.reassembler.activeFlows).toBeLessThanOrEqual(limits.maxFlows);
            }
            feeder.reassembler.flushAll("capture-end");
            expect(feeder.reassembler.activeFlows).toBe(0);
            expect(feeder.reassembler.queuedBytes).toBe(0);
            let delivered = 0;
            for (const flow of factory.flows) {
              expect(flow.ends).toHaveLength(1);
              expect(flow.callsAfterEnd).toBe(0);
              expect(flow.emptyCalls).toBe(0);
              delivered += flow.dataBytes;
            }
            // Work bound: nothing is delivered that was not pushed (no byte delivered twice).
            expect(delivered).toBeLessThanOrEqual(payloadBytes);
            expect(feeder.diagnostics.counters.flowsOpened).toBe(factory.flows.length);
            expect(feeder.diagnostics.counters.flowsClosed).toBe(factory.flows.length);
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );
});
