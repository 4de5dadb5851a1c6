import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import { createTcpSegment } from "../../src/decode/segment.js";
import { TcpReassembler } from "../../src/reassembly/tcp-reassembler.js";
import type { FlowConsumerFactory, ReassemblyLimits } from "../../src/reassembly/types.js";
import { createFrame } from "../../src/source/frame.js";
import type { SegmentSpec } from "./helpers.js";
import { ACK, FIN, Feeder, PSH, RST, SYN, clientIsn, handshake, permutations, serverIsn } from "./helpers.js";

/** Sequence number of client stream offset `n` (data starts at ISN + 1). */
const c = (n: number, isn = clientIsn): number => (isn + 1 + n) >>> 0;
/** Sequence number of server stream offset `n`. */
const s = (n: number, isn = serverIsn): number => (isn + 1 + n) >>> 0;

const smallLimits = (overrides: Partial<ReassemblyLimits>): ReassemblyLimits => ({
  maxQueuedBytesPerDirection: 1_000_000,
  maxQueuedBytesTotal: 10_000_000,
  maxFlows: 100,
  idleTimeoutMs: 60_000,
  ...overrides,
});

describe("TcpReassembler: ordering", () => {
  it("delivers an in-order exchange and ends on FIN from both sides", () => {
    const feeder = new Feeder();
    const request = "GET /latest/meta-data/ HTTP/1.1\r\n\r\n";
    const response = "HTTP/1.1 200 OK\r\n\r\n";
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: request },
      { toServer: false, sequence: s(0), payload: response },
      { sequence: c(request.length), flags: FIN | ACK },
    ]);
    expect(feeder.factory.only.endReason).toBeNull();
    feeder.push({ toServer: false, sequence: s(response.length), flags: FIN | ACK });
    feeder.push({ sequence: c(request.length + 1), flags: ACK }); // the last ACK comes after the end

    const flow = feeder.factory.only;
    expect(flow.endpoints).toEqual({
      ipVersion: 4,
      clientAddress: "10.0.0.1",
      clientPort: 40000,
      serverAddress: "169.254.169.254",
      serverPort: 80,
    });
    expect(flow.calls).toEqual([`data 0 ${request}`, `data 1 ${response}`, "end fin"]);
    expect(flow.frameNumbers).toEqual([3, 4, 6]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, flowsClosed: 1, segmentsAfterClose: 1 });
    expect(feeder.reassembler.activeFlows).toBe(0);
  });

  it("holds reordered data and delivers it, in order, with the frame that filled the hole", () => {
    const feeder = new Feeder();
    feeder.pushAll([...handshake(), { sequence: c(3), payload: "def" }]);
    expect(feeder.factory.only.calls).toEqual([]);
    expect(feeder.reassembler.queuedBytes).toBe(64); // 3 bytes, charged the per-piece minimum
    feeder.push({ sequence: c(0), payload: "abc" });
    const flow = feeder.factory.only;
    expect(flow.calls).toEqual(["data 0 abc", "data 0 def"]);
    expect(flow.frameNumbers).toEqual([4, 4]);
    expect(feeder.reassembler.queuedBytes).toBe(0);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, segmentsOutOfOrder: 1 });
  });

  it("drops retransmits of delivered and of queued data", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(0), payload: "abc" },
      { sequence: c(6), payload: "ghi" },
      { sequence: c(6), payload: "ghi" },
      { sequence: c(7), payload: "h" },
      { sequence: c(3), payload: "def" },
    ]);
    expect(feeder.factory.only.streams).toEqual(["abcdefghi", ""]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, segmentsDuplicate: 3, segmentsOutOfOrder: 1 });
  });

  it("keeps the first copy on overlap: only the new part of a segment is used", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abcd" },
      { sequence: c(2), payload: "WXYZef" }, // offsets 2..7; 2..3 were delivered as "cd"
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 abcd", "data 0 YZef"]);
  });

  it("first copy wins against queued bytes, whichever side overlaps", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "ab" }, // 0..1 delivered
      { sequence: c(4), payload: "QRST" }, // 4..7 queued
      { sequence: c(3), payload: "klmnopqr" }, // 3..10: only 3 and 8..10 are new
      { sequence: c(2), payload: "cdefghijklmn" }, // 2..13: fills the hole, adds 11..13
    ]);
    const flow = feeder.factory.only;
    expect(flow.calls).toEqual([
      "data 0 ab",
      "data 0 c",
      "data 0 k",
      "data 0 QRST",
      "data 0 pqr",
      "data 0 lmn",
    ]);
    expect(flow.streams[0]).toBe("abckQRSTpqrlmn");
    expect(feeder.diagnostics.counters.segmentsOutOfOrder).toBe(2);
    expect(feeder.reassembler.queuedBytes).toBe(0);
  });

  it("handles sequence numbers wrapping at 2^32 in both directions", () => {
    const feeder = new Feeder();
    const isn = 0xfffffffd; // data starts at 0xfffffffe
    const peerIsn = 0xffffffff; // data starts at 0
    feeder.pushAll([
      ...handshake(isn, peerIsn),
      { sequence: 4, payload: "ghi" }, // offsets 6..8
      { sequence: 0xfffffffe, payload: "ab" }, // offsets 0..1
      { sequence: 0, payload: "cdef" }, // offsets 2..5 (crosses the wrap)
      { toServer: false, sequence: 0, payload: "OK" },
      { sequence: 7, flags: FIN | ACK },
      { toServer: false, sequence: 2, flags: FIN | ACK },
    ]);
    const flow = feeder.factory.only;
    expect(flow.streams).toEqual(["abcdefghi", "OK"]);
    expect(flow.endReason).toBe("fin");
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, flowsClosed: 1, segmentsOutOfOrder: 1 });
  });

  it("delivers TCP Fast Open data carried by the SYN", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      { sequence: clientIsn, flags: SYN, payload: "GET " },
      { sequence: clientIsn, flags: SYN, payload: "GET " }, // SYN retransmit
      { toServer: false, sequence: serverIsn, acknowledgement: c(4), flags: SYN | ACK },
      { sequence: c(4), payload: "/ HTTP/1.1\r\n\r\n" },
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 GET ", "data 0 / HTTP/1.1\r\n\r\n"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, segmentsDuplicate: 1 });
  });
});

describe("TcpReassembler: start of a stream", () => {
  it("starts mid-stream at the first segment with payload; earlier data is counted as duplicate", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      { sequence: c(3), flags: ACK }, // a pure ACK creates nothing
    ]);
    expect(feeder.reassembler.activeFlows).toBe(0);
    feeder.pushAll([
      { sequence: c(3), payload: "def" },
      { sequence: c(0), payload: "abc" }, // before the start we chose: dropped
      { toServer: false, sequence: s(0), payload: "HTTP" },
      { sequence: c(6), payload: "ghi" },
    ]);
    const flow = feeder.factory.only;
    expect(flow.streams).toEqual(["defghi", "HTTP"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({
      flowsOpened: 1,
      flowsStartedMidStream: 1,
      segmentsDuplicate: 1,
    });
  });

  it("takes the client's start from the SYN-ACK when the SYN was not captured", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      { toServer: false, sequence: serverIsn, acknowledgement: c(0), flags: SYN | ACK },
      { sequence: c(3), payload: "def" }, // ahead of the first byte: waits
      { sequence: c(0), payload: "abc" },
    ]);
    expect(feeder.factory.only.streams).toEqual(["abcdef", ""]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, segmentsOutOfOrder: 1 });
  });

  it("a FIN alone starts (and closes) a direction of an unknown flow", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      { toServer: false, sequence: s(10), flags: FIN | ACK },
      { sequence: c(0), payload: "tail" },
      { sequence: c(4), flags: FIN | ACK },
    ]);
    const flow = feeder.factory.only;
    expect(flow.calls).toEqual(["data 0 tail", "end fin"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, flowsClosed: 1, flowsStartedMidStream: 1 });
  });
});

describe("TcpReassembler: FIN and RST", () => {
  it("a FIN that arrives before missing data waits for it", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(6), payload: "ghi", flags: FIN | PSH | ACK },
      { toServer: false, sequence: s(0), flags: FIN | ACK },
    ]);
    expect(feeder.factory.only.endReason).toBeNull();
    feeder.push({ sequence: c(3), payload: "def" });
    const flow = feeder.factory.only;
    expect(flow.calls).toEqual(["data 0 abc", "data 0 def", "data 0 ghi", "end fin"]);
    expect(flow.frameNumbers).toEqual([3, 6, 6, 6]);
  });

  it("a bare FIN ahead of a hole waits too, and data beyond the FIN is ignored", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(8), payload: "zz" }, // queued, later found to lie past the FIN
      { sequence: c(6), flags: FIN | ACK },
      { toServer: false, sequence: s(0), flags: FIN | ACK },
      { sequence: c(7), payload: "x" }, // past the FIN
    ]);
    expect(feeder.reassembler.queuedBytes).toBe(0);
    feeder.push({ sequence: c(3), payload: "def" });
    expect(feeder.factory.only.calls).toEqual(["data 0 abc", "data 0 def", "end fin"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({
      flowsOpened: 1,
      flowsClosed: 1,
      segmentsOutOfOrder: 1,
      segmentsAfterClose: 2,
    });
  });

  it("the first FIN wins: a later FIN at another sequence number changes nothing", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(3), flags: FIN | ACK },
      { sequence: c(10), flags: FIN | ACK },
      { toServer: false, sequence: s(0), flags: FIN | ACK },
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 abc", "end fin"]);
    expect(feeder.diagnostics.counters.gaps).toBe(0);
  });

  it("RST ends the flow: queued data beyond a hole is delivered after a gap first", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(6), payload: "ghi" },
      { toServer: false, sequence: s(0), flags: RST | ACK },
    ]);
    const flow = feeder.factory.only;
    expect(flow.calls).toEqual(["data 0 abc", "gap 0 3", "data 0 ghi", "end rst"]);
    expect(flow.frameNumbers).toEqual([3, 5, 5, 5]);
    feeder.push({ sequence: c(3), payload: "def" }); // too late
    expect(feeder.factory.flows.length).toBe(1);
    expect(flow.callsAfterEnd).toBe(0);
    expect(feeder.reassembler.queuedBytes).toBe(0);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({
      flowsOpened: 1,
      flowsClosed: 1,
      segmentsOutOfOrder: 1,
      segmentsAfterClose: 1,
      gaps: 1,
      gapBytes: 3,
    });
  });

  it("RST after the other side's FIN ends with reason fin; bytes missing before a FIN are a gap", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(10), flags: FIN | ACK }, // 7 bytes never captured
      { toServer: false, sequence: s(0), flags: RST },
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 abc", "gap 0 7", "end fin"]);
  });

  it("after close, nothing recreates the flow except a new SYN", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc" },
      { sequence: c(3), flags: RST },
      { sequence: c(3), flags: ACK },
      { sequence: c(3), flags: FIN | ACK },
      { sequence: c(3), flags: RST },
      { sequence: c(0), payload: "abc" },
      { toServer: false, sequence: serverIsn, acknowledgement: c(0), flags: SYN | ACK }, // retransmit
    ]);
    expect(feeder.factory.flows.length).toBe(1);
    expect(feeder.diagnostics.counters.segmentsAfterClose).toBe(5);
    feeder.pushAll([...handshake(7000), { sequence: c(0, 7000), payload: "new" }]);
    expect(feeder.factory.flows.map((flow) => flow.streams[0])).toEqual(["abc", "new"]);
    expect(feeder.factory.flows[0]!.endReason).toBe("rst");
    expect(feeder.reassembler.activeFlows).toBe(1);
  });

  it("forgets a closed flow after idleTimeoutMs: later data opens a new mid-stream flow", () => {
    const feeder = new Feeder(smallLimits({ idleTimeoutMs: 10_000 }));
    const t0 = feeder.nowMs;
    feeder.pushAll([...handshake(), { sequence: c(0), payload: "abc", flags: RST | ACK }]);
    feeder.push({ sequence: c(3), payload: "x", timeMs: t0 + 5_000 });
    expect(feeder.factory.flows.length).toBe(1);
    feeder.push({ sequence: c(3), payload: "y", timeMs: t0 + 20_000 });
    expect(feeder.factory.flows.map((flow) => flow.streams[0])).toEqual(["abc", "y"]);
    expect(feeder.diagnostics.counters.flowsStartedMidStream).toBe(1);
  });

  it("a client SYN with a new ISN on a tracked 4-tuple replaces the old flow", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "old" },
      { sequence: clientIsn, flags: SYN }, // same ISN: a retransmit, nothing happens
      { sequence: 9000, flags: SYN },
      { sequence: 9001, payload: "new" },
    ]);
    const [old, replacement] = feeder.factory.flows;
    expect(old!.calls).toEqual(["data 0 old", "end evicted"]);
    expect(replacement!.streams).toEqual(["new", ""]);
    expect(feeder.diagnostics.counters.flowsEvictedLimit).toBe(0);
  });
});

describe("TcpReassembler: snaplen-cut payloads", () => {
  it("delivers the captured part, then a gap of the missing bytes; the stream continues", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "abc", missingPayloadBytes: 5 }, // covers 0..7
      { sequence: c(8), payload: "ijk" },
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 abc", "gap 0 5", "data 0 ijk"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({ flowsOpened: 1, gaps: 1, gapBytes: 5 });
  });

  it("a cut segment that arrives early is queued with its missing part", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(3), payload: "def", missingPayloadBytes: 2 }, // covers 3..7
      { sequence: c(8), payload: "ijk" },
      { sequence: c(0), payload: "abc" },
      { sequence: c(6), payload: "gh" }, // the missing bytes, too late
    ]);
    expect(feeder.factory.only.calls).toEqual(["data 0 abc", "data 0 def", "gap 0 2", "data 0 ijk"]);
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({
      flowsOpened: 1,
      segmentsOutOfOrder: 2,
      segmentsOutOfOrderDropped: 1,
      gaps: 1,
      gapBytes: 2,
    });
  });

  it("a cut segment with nothing captured is a gap of its whole length", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      ...handshake(),
      { sequence: c(0), payload: "", missingPayloadBytes: 4 },
      { sequence: c(4), payload: "ok" },
    ]);
    expect(feeder.factory.only.streams[0]).toBe("[gap 4]ok");
  });
});

describe("TcpReassembler: idle flows", () => {
  it("ends flows idle for idleTimeoutMs of capture time, delivering queued data after a gap", () => {
    const feeder = new Feeder(smallLimits({ idleTimeoutMs: 10_000 }));
    const t0 = feeder.nowMs;
    feeder.pushAll([
      ...handshake(clientIsn, serverIsn, 40001),
      { sequence: c(0), payload: "abc", clientPort: 40001 },
      { sequence: c(5), payload: "fg", clientPort: 40001 },
      { sequence: c(0), payload: "second", clientPort: 40002, timeMs: t0 + 5_000 },
      { sequence: c(6), payload: "!", clientPort: 40002, timeMs: t0 + 9_000 },
    ]);
    expect(feeder.reassembler.activeFlows).toBe(2);
    // Capture time moves on through the other flow's segments: the first flow expires.
    feeder.push({ sequence: c(7), payload: "?", clientPort: 40002, timeMs: t0 + 11_000 });
    const [first, second] = feeder.factory.flows;
    expect(first!.calls).toEqual(["data 0 abc", "gap 0 2", "data 0 fg", "end idle"]);
    expect(first!.frameNumbers.at(-1)).toBe(feeder.frameNumber);
    expect(second!.endReason).toBeNull();
    expect(feeder.reassembler.activeFlows).toBe(1);
    expect(feeder.reassembler.queuedBytes).toBe(0);

    feeder.reassembler.flushIdle(t0 + 20_000); // not yet: last segment at t0 + 11 s
    expect(second!.endReason).toBeNull();
    feeder.reassembler.flushIdle(t0 + 21_000);
    expect(second!.calls).toEqual(["data 0 second", "data 0 !", "data 0 ?", "end idle"]);
    expect(feeder.diagnostics.counters.flowsFlushedIdle).toBe(2);
    expect(feeder.diagnostics.counters.flowsClosed).toBe(2);
    expect(feeder.reassembler.activeFlows).toBe(0);
  });

  it("a segment of an expired flow ends it and starts a new one", () => {
    const feeder = new Feeder(smallLimits({ idleTimeoutMs: 10_000 }));
    const t0 = feeder.nowMs;
    feeder.pushAll([...handshake(), { sequence: c(0), payload: "abc" }]);
    feeder.push({ sequence: c(3), payload: "def", timeMs: t0 + 10_000 });
    expect(feeder.factory.flows.map((flow) => [flow.streams[0], flow.endReason])).toEqual([
      ["abc", "idle"],
      ["def", null],
    ]);
  });
});

describe("TcpReassembler: limits", () => {
  const block = (letter: string): string => letter.repeat(100);

  it("per direction: a full queue gives up the oldest hole, reports its size and continues", () => {
    const feeder = new Feeder(smallLimits({ maxQueuedBytesPerDirection: 300 }));
    feeder.pushAll([
      ...handshake(),
      // 0..99 missing
      { sequence: c(100), payload: block("A") },
      { sequence: c(300), payload: block("C") },
      { sequence: c(400), payload: block("D") },
    ]);
    expect(feeder.reassembler.queuedBytes).toBe(300);
    expect(feeder.factory.only.calls).toEqual([]);
    feeder.push({ sequence: c(600), payload: block("E") }); // no room: stop waiting for 0..99
    expect(feeder.factory.only.calls).toEqual(["gap 0 100", `data 0 ${block("A")}`]);
    expect(feeder.reassembler.queuedBytes).toBe(300);
    feeder.push({ sequence: c(0), payload: block("x") }); // the given-up bytes, too late
    feeder.push({ sequence: c(200), payload: block("B") });
    expect(feeder.reassembler.queuedBytes).toBe(100);
    feeder.reassembler.flushAll("capture-end");
    const flow = feeder.factory.only;
    expect(flow.streams[0]).toBe(
      `[gap 100]${block("A")}${block("B")}${block("C")}${block("D")}[gap 100]${block("E")}`,
    );
    expect(flow.endReason).toBe("capture-end");
    expect(feeder.diagnostics.nonZeroCounters()).toEqual({
      flowsOpened: 1,
      flowsClosed: 1,
      segmentsOutOfOrder: 4,
      segmentsOutOfOrderDropped: 1,
      gaps: 2,
      gapBytes: 200,
    });
  });

  it("per direction: a segment bigger than the limit is delivered right after a gap", () => {
    const feeder = new Feeder(smallLimits({ maxQueuedBytesPerDirection: 300 }));
    feeder.pushAll([...handshake(), { sequence: c(10), payload: "z".repeat(400) }]);
    expect(feeder.factory.only.streams[0]).toBe(`[gap 10]${"z".repeat(400)}`);
    expect(feeder.reassembler.queuedBytes).toBe(0);
  });

  it("in total: the largest queue gives up its oldest hole", () => {
    const feeder = new Feeder(smallLimits({ maxQueuedBytesTotal: 500 }));
    const big = 40001;
    const small = 40002;
    feeder.pushAll([
      ...handshake(clientIsn, serverIsn, big),
      ...handshake(clientIsn, serverIsn, small),
      { sequence: c(100), payload: block("A"), clientPort: big },
      { sequence: c(200), payload: block("B"), clientPort: big },
      { sequence: c(300), payload: block("C"), clientPort: big },
      { sequence: c(50), payload: block("p"), clientPort: small },
      { sequence: c(150), payload: block("q"), clientPort: small },
    ]);
    expect(feeder.reassembler.queuedBytes).toBe(500);
    feeder.push({ sequence: c(250), payload: block("r"), clientPort: small });
    const [bigFlow, smallFlow] = feeder.factory.flows;
    expect(bigFlow!.calls).toEqual(["gap 0 100", `data 0 ${block("A")}`, `data 0 ${block("B")}`, `data 0 ${block("C")}`]);
    expect(bigFlow!.frameNumbers).toEqual([10, 10, 10, 10]);
    expect(smallFlow!.calls).toEqual([]);
    expect(feeder.reassembler.queuedBytes).toBe(300);
    feeder.push({ sequence: c(0), payload: "s".repeat(50), clientPort: small });
    expect(smallFlow!.streams[0]).toBe(`${"s".repeat(50)}${block("p")}${block("q")}${block("r")}`);
    expect(feeder.reassembler.queuedBytes).toBe(0);
    expect(feeder.diagnostics.counters.gaps).toBe(1);
    expect(feeder.diagnostics.counters.gapBytes).toBe(100);
  });

  it("maxFlows: a new flow evicts the least recently active one", () => {
    const feeder = new Feeder(smallLimits({ maxFlows: 2 }));
    feeder.pushAll([
      { sequence: c(0), payload: "one", clientPort: 1 },
      { sequence: c(0), payload: "two", clientPort: 2 },
      { sequence: c(6), payload: "later", clientPort: 2 }, // queued: 3..5 missing
      { sequence: c(3), payload: "!", clientPort: 1 }, // flow 1 is now the most recent
      { sequence: c(0), payload: "three", clientPort: 3 },
    ]);
    const [one, two, three] = feeder.factory.flows;
    expect(two!.calls).toEqual(["data 0 two", "gap 0 3", "data 0 later", "end evicted"]);
    expect(one!.endReason).toBeNull();
    expect(three!.endReason).toBeNull();
    expect(feeder.reassembler.activeFlows).toBe(2);
    expect(feeder.diagnostics.counters.flowsEvictedLimit).toBe(1);
  });

  it("flushAll ends every flow in creation order, with the given context", () => {
    const feeder = new Feeder();
    feeder.pushAll([
      { sequence: c(0), payload: "a", clientPort: 1 },
      { sequence: c(0), payload: "b", clientPort: 2 },
      { sequence: c(0), payload: "c", clientPort: 3 },
      { sequence: c(1), payload: "b", clientPort: 2 },
      { sequence: c(1), payload: "a", clientPort: 1 },
    ]);
    feeder.reassembler.flushAll("capture-end", {
      frameNumber: 99,
      timestampSeconds: 1,
      timestampNanos: 0,
      timePrecisionDigits: 6,
    });
    expect(feeder.factory.endOrder).toEqual([0, 1, 2]);
    expect(feeder.factory.flows.map((flow) => flow.frameNumbers.at(-1))).toEqual([99, 99, 99]);
    expect(feeder.diagnostics.counters.flowsClosed).toBe(3);
    expect(feeder.reassembler.activeFlows).toBe(0);
  });
});

describe("TcpReassembler: every order of the same segments gives the same bytes", () => {
  const stream = "0123456789ABCDEFGHIJ";
  const piece = (from: number, to: number, isn: number, flags?: number): SegmentSpec => ({
    sequence: c(from, isn),
    payload: stream.slice(from, to),
    ...(flags === undefined ? {} : { flags }),
  });
  const segmentSets: Record<string, (isn: number) => SegmentSpec[]> = {
    "overlaps and a FIN": (isn) => [
      piece(0, 5, isn),
      piece(5, 12, isn),
      piece(3, 9, isn),
      piece(12, 20, isn, FIN | PSH | ACK),
      piece(10, 15, isn),
    ],
    "duplicates and a contained segment": (isn) => [
      piece(0, 4, isn),
      piece(0, 4, isn),
      piece(4, 20, isn),
      piece(6, 8, isn),
      piece(15, 20, isn, FIN | PSH | ACK),
    ],
  };

  for (const [name, makeSegments] of Object.entries(segmentSets)) {
    for (const isn of [clientIsn, 0xfffffff5]) {
      it(`${name}, ISN ${isn.toString(16)}`, () => {
        let checked = 0;
        for (const order of permutations(makeSegments(isn))) {
          const feeder = new Feeder();
          feeder.pushAll([...handshake(isn)]);
          feeder.pushAll(order);
          const flow = feeder.factory.only;
          expect(flow.streams).toEqual([stream, ""]);
          expect(flow.endReason).toBeNull();
          expect(feeder.reassembler.queuedBytes).toBe(0);
          feeder.push({ toServer: false, sequence: s(0), flags: FIN | ACK });
          expect(flow.endReason).toBe("fin");
          expect(flow.callsAfterEnd).toBe(0);
          expect(feeder.diagnostics.counters.gaps).toBe(0);
          checked++;
        }
        expect(checked).toBe(120);
      });
    }
  }
});

describe("TcpReassembler: memory stays bounded", () => {
  it("a million out-of-order 1-byte segments keep queuedBytes within the limit", () => {
    // Built on one raw segment and frame (no Feeder): its per-push bookkeeping would dominate.
    const limits = smallLimits({ maxQueuedBytesPerDirection: 256 * 1024 });
    let dataBytes = 0;
    let gapBytes = 0;
    let wrongBytes = 0;
    let position = 0;
    const factory: FlowConsumerFactory = {
      createFlow: () => ({
        onData(_direction, bytes) {
          for (let index = 0; index < bytes.length; index++) {
            // The byte at odd offset 2k+1 is k & 0xff; even offsets are never sent.
            if (position % 2 === 0 || bytes[index] !== ((position - 1) / 2) % 256) wrongBytes++;
            position++;
          }
          dataBytes += bytes.length;
        },
        onGap(_direction, lostBytes) {
          gapBytes += lostBytes ?? 0;
          position += lostBytes ?? 0;
        },
        onEnd() {},
      }),
    };
    const diagnostics = new Diagnostics();
    const reassembler = new TcpReassembler(factory, diagnostics, limits);
    const segment = createTcpSegment();
    segment.sourceAddress = "10.0.0.1";
    segment.sourcePort = 40000;
    segment.destinationAddress = "169.254.169.254";
    segment.destinationPort = 80;
    const frame = createFrame();
    frame.timestampSeconds = 1_700_000_000;
    segment.sequence = clientIsn;
    segment.flags = SYN;
    frame.number = 1;
    reassembler.push(segment, frame);

    const count = 1_000_000;
    const payload = new Uint8Array(1);
    segment.payload = payload;
    segment.flags = PSH | ACK;
    let maxQueued = 0;
    for (let k = 0; k < count; k++) {
      payload[0] = k & 0xff;
      segment.sequence = c(2 * k + 1);
      frame.number++;
      reassembler.push(segment, frame);
      const queued = reassembler.queuedBytes;
      if (queued > maxQueued) maxQueued = queued;
    }
    expect(maxQueued).toBeLessThanOrEqual(limits.maxQueuedBytesPerDirection);
    expect(maxQueued).toBeGreaterThan(limits.maxQueuedBytesPerDirection - 64);
    reassembler.flushAll("capture-end");
    expect(dataBytes).toBe(count);
    expect(gapBytes).toBe(count);
    expect(wrongBytes).toBe(0);
    expect(diagnostics.counters.segmentsOutOfOrder).toBe(count);
    expect(diagnostics.counters.gaps).toBe(count);
    expect(reassembler.queuedBytes).toBe(0);
  });
});
