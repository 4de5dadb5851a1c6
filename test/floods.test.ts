/**
 * Floods through the real pipeline: captures generated on the fly (never held whole in memory)
 * and streamed into analyzeCaptures as standard input. Each run must complete, keep the flow
 * table and out-of-order queues within their named limits, count exactly what those limits cost
 * (evictions, holes given up) and keep process memory bounded.
 *
 * Two views of each flood: analyzeCaptures (the library API, summary counters, memory), and the
 * same stages wired by hand (readCapture -> FrameDecoder -> TcpReassembler -> ImdsFlow, as
 * CapturePipeline wires them) so the reassembler's table and queue sizes can be read after every
 * chunk of input.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../src/analyze.js";
import { FrameDecoder } from "../src/decode/index.js";
import { createTcpSegment } from "../src/decode/segment.js";
import { Diagnostics } from "../src/diagnostics.js";
import { CapturePipeline } from "../src/pipeline/capture-pipeline.js";
import { defaultReassemblyLimits, TcpReassembler } from "../src/reassembly/index.js";
import type { ReassemblyLimits } from "../src/reassembly/index.js";
import type { Frame } from "../src/source/frame.js";
import { captureStream } from "../src/source/capture-input.js";
import { readCapture } from "../src/source/read-capture.js";
import { etherType, tcpFlags, writeEthernetHeader, writeIpv4Header, writeTcpHeader } from "../src/wire-format/packets.mjs";
import { pcapRecordHeaderBytes, writePcapFileHeader, writePcapRecordHeader } from "../src/wire-format/pcap-file.mjs";

const million = 1_000_000;
const chunkBytes = 1024 * 1024;
const imdsIpv4 = 0xa9fea9fe; // 169.254.169.254
const otherServerIpv4 = 0x0a010001; // 10.1.0.1: port 80 too, but not IMDS
const startSeconds = 1_764_000_000;
/** The memory bound for a flood of a million half-open connections. */
const maxHeapBytes = 300 * 1024 * 1024;
/**
 * The out-of-order flood fills both limits at once: maxFlows flows (~2 KB each, as in the SYN
 * flood) and maxQueuedBytesTotal of queued pieces, whose real cost is above their charge (a
 * 100-byte piece is charged 100 bytes but holds ~230 bytes of heap in objects besides its 100
 * bytes of data). The bound is the SYN flood's plus twice the queue limit.
 */
const maxHeapBytesWithQueues = maxHeapBytes + 2 * defaultReassemblyLimits.maxQueuedBytesTotal;
/** A flood takes 25-50 s on 2 cores; the default 60 s leaves too little room on a slow machine. */
const floodTimeoutMs = 180_000;
/** Input chunks between two heap measurements (a full collection each: not after every chunk). */
const chunksPerHeapSample = 24;

// A full garbage collection before each heap measurement, so that the number is what the
// analyzer holds, not garbage not yet collected (vitest does not start workers with --expose-gc).
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

interface SegmentFields {
  readonly sourceIp: number;
  readonly destinationIp: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly sequence: number;
  readonly flags: number;
  readonly payloadBytes: number;
}

/**
 * Writes Ethernet/IPv4/TCP frames as pcap records into 1 MiB chunks (each chunk a new buffer:
 * the reader may hold on to the first ones while it sniffs the format). The IPv4 header checksum
 * is right; the TCP checksum is left 0, as captures from offloading NICs have it.
 */
class PcapChunkWriter {
  private chunk = Buffer.alloc(chunkBytes);
  private used = 0;
  private frames = 0;
  readonly done: Buffer[] = [];

  constructor() {
    this.used = writePcapFileHeader(this.chunk, 0, { linkType: 1 }); // Ethernet
  }

  segment(fields: SegmentFields): void {
    const frameBytes = 54 + fields.payloadBytes;
    if (this.used + pcapRecordHeaderBytes + frameBytes > chunkBytes) this.flush();
    const b = this.chunk;
    const micros = this.frames++; // one microsecond apart: the whole flood is within idle timeouts
    const frame = this.used + writePcapRecordHeader(b, this.used, startSeconds + Math.floor(micros / 1_000_000), micros % 1_000_000, frameBytes, frameBytes);
    const ip = frame + writeEthernetHeader(b, frame, etherType.ipv4);
    const tcp = ip + writeIpv4Header(b, ip, {
      protocol: 6,
      src: fields.sourceIp,
      dst: fields.destinationIp,
      totalLength: 40 + fields.payloadBytes,
    });
    const payload = tcp + writeTcpHeader(b, tcp, {
      srcPort: fields.sourcePort,
      dstPort: fields.destinationPort,
      seq: fields.sequence,
      flags: fields.flags,
      window: 64240,
    });
    b.fill(0x61, payload, payload + fields.payloadBytes); // "aaaa": no line end, never a request
    this.used = frame + frameBytes;
  }

  /** Ends the current chunk (the next frame starts a new one). */
  flush(): void {
    if (this.used === 0) return;
    this.done.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.alloc(chunkBytes);
    this.used = 0;
  }

  get frameCount(): number {
    return this.frames;
  }
}

/** Called when the reader asks for more after the last chunk: every frame has been analysed. */
type AfterLastChunk = () => void;

/**
 * Streams the frames `write` produces, a chunk at a time, without building the whole capture.
 * `afterLastChunk` runs when the reader has consumed everything (before the analysis ends).
 */
// eslint-disable-next-line @typescript-eslint/require-await -- readCapture reads an async iterable; making the chunks needs no waiting
async function* floodCapture(
  write: (writer: PcapChunkWriter, step: number) => boolean,
  afterLastChunk?: AfterLastChunk,
): AsyncGenerator<Uint8Array> {
  const writer = new PcapChunkWriter();
  for (let step = 0; ; step++) {
    const more = write(writer, step);
    if (!more) writer.flush();
    while (writer.done.length > 0) yield writer.done.shift()!;
    if (!more) break;
  }
  afterLastChunk?.();
}

/** Client address and port of the `index`th connection: distinct 4-tuples for up to 2^26 indexes. */
function client(index: number): { readonly ip: number; readonly port: number } {
  return { ip: (0x0a000000 | ((index >>> 14) + 1)) >>> 0, port: 1024 + (index & 0x3fff) };
}

/** A million SYNs to IMDS, each interleaved with a SYN to a non-IMDS server on port 80. */
function synFlood(connections: number, afterLastChunk?: AfterLastChunk) {
  return floodCapture((writer, step) => {
    const end = Math.min(step * 1000 + 1000, connections);
    for (let index = step * 1000; index < end; index++) {
      const from = client(index);
      for (const destinationIp of [imdsIpv4, otherServerIpv4]) {
        writer.segment({ sourceIp: from.ip, destinationIp, sourcePort: from.port, destinationPort: 80, sequence: index * 7919, flags: tcpFlags.syn, payloadBytes: 0 });
      }
    }
    return end < connections;
  }, afterLastChunk);
}

/**
 * `flows` IMDS connections (a SYN each), then `segmentsPerFlow` rounds in which every flow gets
 * one 100-byte segment ahead of a 1-byte hole: piece j of a flow starts at stream offset
 * 1 + 101 j, so no piece ever continues another and every hole stays open until given up.
 */
function outOfOrderFlood(flows: number, segmentsPerFlow: number, payloadBytes: number, afterLastChunk?: AfterLastChunk) {
  const rounds = segmentsPerFlow + 1;
  return floodCapture((writer, round) => {
    for (let index = 0; index < flows; index++) {
      const from = client(index);
      const isn = index * 7919;
      if (round === 0) {
        writer.segment({ sourceIp: from.ip, destinationIp: imdsIpv4, sourcePort: from.port, destinationPort: 80, sequence: isn, flags: tcpFlags.syn, payloadBytes: 0 });
      } else {
        const offset = 1 + (round - 1) * (payloadBytes + 1);
        writer.segment({
          sourceIp: from.ip,
          destinationIp: imdsIpv4,
          sourcePort: from.port,
          destinationPort: 80,
          sequence: (isn + 1 + offset) >>> 0,
          flags: tcpFlags.psh | tcpFlags.ack,
          payloadBytes,
        });
      }
    }
    return round + 1 < rounds;
  }, afterLastChunk);
}

/**
 * `connections` IMDS connections opened (SYN) and reset (RST) one after another, then a late
 * ACK on each: only connections still remembered as closed count it as segmentsAfterClose.
 */
function resetFlood(connections: number) {
  const perStep = 1000;
  const steps = Math.ceil(connections / perStep);
  return floodCapture((writer, step) => {
    const lateAcks = step >= steps;
    const first = (lateAcks ? step - steps : step) * perStep;
    for (let index = first; index < Math.min(first + perStep, connections); index++) {
      const from = client(index);
      const isn = index * 7919;
      const segment = { sourceIp: from.ip, destinationIp: imdsIpv4, sourcePort: from.port, destinationPort: 80, payloadBytes: 0 };
      if (lateAcks) {
        writer.segment({ ...segment, sequence: isn + 1, flags: tcpFlags.ack });
      } else {
        writer.segment({ ...segment, sequence: isn, flags: tcpFlags.syn });
        writer.segment({ ...segment, sequence: isn + 1, flags: tcpFlags.rst });
      }
    }
    return step + 1 < 2 * steps;
  });
}

/**
 * Runs analyzeCaptures on a generated stream. Every `chunksPerHeapSample` chunks, and after the
 * last one (when the most flows are alive), it collects garbage and samples the heap; rss is
 * sampled after every chunk, for the report.
 */
async function analyzeFlood(makeInput: (afterLastChunk: AfterLastChunk) => AsyncIterable<Uint8Array>) {
  let peakRssBytes = 0;
  let peakHeapBytes = 0;
  let chunks = 0;
  const sampleHeap = (): void => {
    collectGarbage();
    peakHeapBytes = Math.max(peakHeapBytes, process.memoryUsage().heapUsed);
  };
  const startedMs = Date.now();
  const { summary, hadErrors } = await analyzeCaptures(["-"], {
    stdin: makeInput(sampleHeap),
    backpressure: () => {
      peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
      if (++chunks % chunksPerHeapSample === 0) sampleHeap();
      return undefined;
    },
  });
  return { summary, hadErrors, peakRssBytes, peakHeapBytes, elapsedMs: Date.now() - startedMs };
}

/**
 * The same stages CapturePipeline wires (its own flows are unused: it serves as the factory of
 * ImdsFlows), with the reassembler in reach so its sizes can be checked after every chunk.
 */
async function watchReassembler(input: AsyncIterable<Uint8Array>, limits: ReassemblyLimits) {
  const diagnostics = new Diagnostics();
  const pipeline = new CapturePipeline("-", () => undefined, diagnostics);
  const reassembler = new TcpReassembler(pipeline, diagnostics, limits);
  const decoder = new FrameDecoder(diagnostics);
  const segment = createTcpSegment();
  let maxActiveFlows = 0;
  let maxQueuedBytes = 0;
  const watch = (): undefined => {
    maxActiveFlows = Math.max(maxActiveFlows, reassembler.activeFlows);
    maxQueuedBytes = Math.max(maxQueuedBytes, reassembler.queuedBytes);
    return undefined;
  };
  await readCapture(
    captureStream(input),
    {
      onFrame(frame: Frame): void {
        if (decoder.decode(frame, segment)) reassembler.push(segment, frame);
      },
      afterBatch: watch,
    },
    { path: "-" },
  );
  watch();
  const beforeFlush = { ...diagnostics.counters };
  reassembler.flushAll("capture-end");
  return { maxActiveFlows, maxQueuedBytes, beforeFlush, after: diagnostics.counters, reassembler };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

describe("floods", () => {
  it("a million SYNs to IMDS (and a million to another server): the flow table stays at maxFlows and every eviction is counted", async () => {
    const { summary, hadErrors, peakRssBytes, peakHeapBytes, elapsedMs } = await analyzeFlood((afterLastChunk) => synFlood(million, afterLastChunk));
    const maxFlows = defaultReassemblyLimits.maxFlows;
    expect(hadErrors).toBe(false);
    expect(summary.requests.total).toBe(0);
    expect(summary.diagnostics.counters).toEqual({
      framesRead: 2 * million,
      bytesRead: 24 + 2 * million * (16 + 54),
      framesNotImds: million,
      imdsSegments: million,
      flowsOpened: million,
      flowsClosed: million,
      flowsEvictedLimit: million - maxFlows,
    });
    console.log(`SYN flood: ${2 * million} frames in ${elapsedMs} ms, peak heap ${megabytes(peakHeapBytes)}, peak rss ${megabytes(peakRssBytes)}`);
    expect(peakHeapBytes).toBeLessThan(maxHeapBytes);
  }, floodTimeoutMs);

  it("300,000 SYNs: the reassembler never tracks more than maxFlows flows", async () => {
    // Fewer than a million: this view only checks the table's size after every chunk.
    const limits = defaultReassemblyLimits;
    const connections = 300_000;
    const watched = await watchReassembler(synFlood(connections), limits);
    expect(watched.maxActiveFlows).toBe(limits.maxFlows);
    expect(watched.beforeFlush.flowsEvictedLimit).toBe(connections - limits.maxFlows);
    expect(watched.reassembler.activeFlows).toBe(0);
  }, floodTimeoutMs);

  it("300,000 connections opened and reset: closed flows are remembered up to maxFlows, no more", async () => {
    const limits = defaultReassemblyLimits;
    const connections = 300_000;
    const watched = await watchReassembler(resetFlood(connections), limits);
    expect(watched.beforeFlush).toMatchObject({ flowsOpened: connections, flowsClosed: connections, flowsEvictedLimit: 0 });
    // The late ACKs of the last maxFlows connections find them remembered; older ones are forgotten.
    expect(watched.beforeFlush.segmentsAfterClose).toBe(limits.maxFlows);
    expect(watched.maxActiveFlows).toBeLessThanOrEqual(1);
  }, floodTimeoutMs);

  // maxFlows flows (20,000) x 50 segments of 100 bytes: a million segments, 100 MB of out-of-order
  // data against a 64 MiB total limit. Each piece is charged 100 bytes, so the queues hold at most
  // floor(limit / 100) pieces; every piece after that first gives up one hole (1 byte) of the
  // largest queue. Every piece is preceded by a 1-byte hole, so by the end every piece has been
  // delivered after exactly one 1-byte gap, whichever hole went first.
  const flows = defaultReassemblyLimits.maxFlows;
  const segmentsPerFlow = Math.ceil(million / flows);
  const payloadBytes = 100;
  const pieces = flows * segmentsPerFlow;
  const heldAtMost = Math.floor(defaultReassemblyLimits.maxQueuedBytesTotal / payloadBytes);

  it("a million out-of-order segments in maxFlows IMDS flows: holes are given up at the total limit, all counted", async () => {
    const { summary, hadErrors, peakRssBytes, peakHeapBytes, elapsedMs } = await analyzeFlood((afterLastChunk) => outOfOrderFlood(flows, segmentsPerFlow, payloadBytes, afterLastChunk));
    const frames = flows + pieces;
    expect(hadErrors).toBe(false);
    expect(summary.requests.total).toBe(0);
    expect(summary.diagnostics.counters).toEqual({
      framesRead: frames,
      bytesRead: 24 + frames * (16 + 54) + pieces * payloadBytes,
      imdsSegments: frames,
      flowsOpened: flows,
      flowsClosed: flows,
      segmentsOutOfOrder: pieces,
      gaps: pieces,
      gapBytes: pieces,
      // The payload is no HTTP: every flow lost request bytes where no request line was visible.
      connectionsWithUnreadRequestBytes: flows,
    });
    console.log(`out-of-order flood: ${frames} frames in ${elapsedMs} ms, peak heap ${megabytes(peakHeapBytes)}, peak rss ${megabytes(peakRssBytes)}`);
    expect(peakHeapBytes).toBeLessThan(maxHeapBytesWithQueues);
  }, floodTimeoutMs);

  it("a million out-of-order segments: the queues never hold more than maxQueuedBytesTotal", async () => {
    const limits = defaultReassemblyLimits;
    const watched = await watchReassembler(outOfOrderFlood(flows, segmentsPerFlow, payloadBytes), limits);
    expect(watched.maxQueuedBytes).toBe(heldAtMost * payloadBytes);
    expect(watched.maxQueuedBytes).toBeLessThanOrEqual(limits.maxQueuedBytesTotal);
    // Holes given up because of the limit, before the end of the input flushed the rest.
    expect(watched.beforeFlush.gaps).toBe(pieces - heldAtMost);
    expect(watched.beforeFlush.gapBytes).toBe(pieces - heldAtMost);
    expect(watched.after.gaps).toBe(pieces);
    expect(watched.reassembler.queuedBytes).toBe(0);
  }, floodTimeoutMs);

  it("out-of-order segments in one flow: its queue stops at maxQueuedBytesPerDirection", async () => {
    // 10,000 pieces of 100 bytes in one flow: the direction holds floor(256 KiB / 100) of them.
    const limits = defaultReassemblyLimits;
    const perFlow = 10_000;
    const watched = await watchReassembler(outOfOrderFlood(1, perFlow, payloadBytes), limits);
    const held = Math.floor(limits.maxQueuedBytesPerDirection / payloadBytes);
    expect(watched.maxQueuedBytes).toBe(held * payloadBytes);
    expect(watched.beforeFlush.gaps).toBe(perFlow - held);
    expect(watched.after.gaps).toBe(perFlow);
    expect(watched.after.segmentsOutOfOrder).toBe(perFlow);
  });
});
