/**
 * Property tests: random segmentations of a known stream, with duplicates and overlaps, fed in
 * random orders. Whatever the order and the limits, every delivered byte must be the byte of the
 * stream at that position (gaps advance the position), and the stream must be accounted for to
 * its end. With room enough to queue everything, no byte may be lost.
 */
import { describe, expect, it } from "vitest";
import type { Direction, FlowConsumer, FlowConsumerFactory, FlowEndReason, ReassemblyLimits } from "../../src/reassembly/types.js";
import type { SegmentSpec } from "./helpers.js";
import { ACK, FIN, Feeder, PSH, clientIsn, handshake } from "./helpers.js";

/** mulberry32: a small seeded PRNG so failures reproduce. */
function randomSource(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % below);
  };
}

const streamByte = (flowIndex: number, offset: number): number => (offset * 31 + 7 + flowIndex * 101) & 0xff;

class CheckedStream implements FlowConsumer {
  position = 0;
  dataBytes = 0;
  gapBytes = 0;
  wrongBytes = 0;
  ends: FlowEndReason[] = [];
  callsAfterEnd = 0;
  constructor(private readonly flowIndex: number) {}
  onData(direction: Direction, bytes: Uint8Array): void {
    if (this.ends.length > 0 || direction !== 0) this.callsAfterEnd++;
    for (let index = 0; index < bytes.length; index++) {
      if (bytes[index] !== streamByte(this.flowIndex, this.position)) this.wrongBytes++;
      this.position++;
    }
    this.dataBytes += bytes.length;
  }
  onGap(_direction: Direction, lostBytes: number | null): void {
    if (this.ends.length > 0) this.callsAfterEnd++;
    this.gapBytes += lostBytes ?? Number.NaN;
    this.position += lostBytes ?? Number.NaN;
  }
  onEnd(reason: FlowEndReason): void {
    this.ends.push(reason);
  }
}

class CheckedFactory implements FlowConsumerFactory {
  readonly streams: CheckedStream[] = [];
  createFlow(): FlowConsumer {
    const stream = new CheckedStream(this.streams.length);
    this.streams.push(stream);
    return stream;
  }
}

/** Segments covering [0, length) of flow `flowIndex`, plus overlapping extras; the last has FIN. */
function segmentsOf(flowIndex: number, length: number, random: (below: number) => number, isn: number): SegmentSpec[] {
  const clientPort = 40000 + flowIndex;
  const make = (from: number, to: number, fin: boolean): SegmentSpec => {
    const payload = new Uint8Array(to - from);
    for (let offset = from; offset < to; offset++) payload[offset - from] = streamByte(flowIndex, offset);
    return { sequence: (isn + 1 + from) >>> 0, payload, clientPort, flags: fin ? FIN | PSH | ACK : PSH | ACK };
  };
  const result: SegmentSpec[] = [];
  for (let from = 0; from < length; ) {
    const to = Math.min(length, from + 1 + random(40));
    result.push(make(from, to, to === length));
    from = to;
  }
  const extras = Math.floor(result.length / 3);
  for (let index = 0; index < extras; index++) {
    const from = random(length);
    result.push(make(from, Math.min(length, from + 1 + random(60)), false));
  }
  return result;
}

function shuffle<T>(items: T[], random: (below: number) => number): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = random(index + 1);
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
  return items;
}

function run(seed: number, limits: ReassemblyLimits, flowCount: number): { factory: CheckedFactory; feeder: Feeder<CheckedFactory>; maxQueued: number } {
  const random = randomSource(seed);
  const factory = new CheckedFactory();
  const feeder = new Feeder(limits, factory);
  const length = 3000;
  const isn = seed % 2 === 0 ? clientIsn : 0xffffff00; // odd seeds cross the 2^32 wrap
  const all: SegmentSpec[] = [];
  for (let flowIndex = 0; flowIndex < flowCount; flowIndex++) {
    feeder.pushAll(handshake(isn, 5000, 40000 + flowIndex));
    all.push(...segmentsOf(flowIndex, length, random, isn));
  }
  let maxQueued = 0;
  for (const spec of shuffle(all, random)) {
    feeder.push(spec);
    maxQueued = Math.max(maxQueued, feeder.reassembler.queuedBytes);
  }
  feeder.reassembler.flushAll("capture-end");
  for (const stream of factory.streams) {
    expect(stream.wrongBytes).toBe(0);
    expect(stream.callsAfterEnd).toBe(0);
    expect(stream.ends).toEqual(["capture-end"]);
    expect(stream.position).toBe(length);
    expect(stream.dataBytes + stream.gapBytes).toBe(length);
  }
  const gapBytes = factory.streams.reduce((sum, stream) => sum + stream.gapBytes, 0);
  expect(feeder.diagnostics.counters.gapBytes).toBe(gapBytes);
  expect(feeder.reassembler.queuedBytes).toBe(0);
  return { factory, feeder, maxQueued };
}

const roomy: ReassemblyLimits = {
  maxQueuedBytesPerDirection: 1_000_000,
  maxQueuedBytesTotal: 10_000_000,
  maxFlows: 100,
  idleTimeoutMs: 60_000,
};

describe("TcpReassembler: random orders", () => {
  it("with room to queue, every shuffle delivers every byte, in order", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { factory, feeder } = run(seed, roomy, 2);
      for (const stream of factory.streams) expect(stream.gapBytes).toBe(0);
      expect(feeder.diagnostics.counters.gaps).toBe(0);
    }
  });

  it("with tight limits, bytes are lost only as reported gaps and queues stay within the limits", () => {
    const tight: ReassemblyLimits = { ...roomy, maxQueuedBytesPerDirection: 1024, maxQueuedBytesTotal: 1536 };
    let lostSomething = false;
    for (let seed = 1; seed <= 40; seed++) {
      const { factory, maxQueued } = run(seed, tight, 3);
      expect(maxQueued).toBeLessThanOrEqual(1536);
      if (factory.streams.some((stream) => stream.gapBytes > 0)) lostSomething = true;
    }
    expect(lostSomething).toBe(true); // the limits really were hit
  });
});
