import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { readEvents } from "../../src/report/ndjson-reader.js";
import { decompressIfGzip } from "../../src/report/report-input.js";
import type { MalformedLine } from "../../src/report/types.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { event, liveSummary, offlineSummary } from "./event-factory.js";

/** A synchronous sequence of chunks as the async input readers take (one chunk per step). */
function asAsync(items: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = items[Symbol.iterator]();
      return { next: () => Promise.resolve(iterator.next()) };
    },
  };
}

function chunksOf(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  function* chunks(): Generator<Uint8Array> {
    for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, Math.min(bytes.length, offset + size));
  }
  return asAsync(chunks());
}

async function read(input: AsyncIterable<Uint8Array>, options: { maxLineBytes?: number } = {}) {
  const events: [ImdsEvent, number][] = [];
  const malformed: MalformedLine[] = [];
  const summaries: AnalysisSummary[] = [];
  const result = await readEvents(
    input,
    "events.ndjson",
    (parsed, line) => events.push([parsed, line]),
    (problem) => malformed.push(problem),
    { onSummary: (summary) => summaries.push(summary), ...options },
  );
  return { events, malformed, summaries, result };
}

const line = (value: unknown): string => JSON.stringify(value);

describe("readEvents", () => {
  const text = [
    line(event({ kind: "token-request", status: 403 })),
    line(event({ kind: "v1", path: "/latest/meta-data/iam/security-credentials/" })),
    "",
    "not json at all",
    line({ schema: "imds-analyzer/event@2", kind: "v1" }),
    line(event({ time: "yesterday" })),
    line({ ...event(), status: "200" }),
    "[1,2,3]",
    "   ",
    line(event({ kind: "v2", userAgent: null })),
  ].join("\n") + "\n";
  const bytes = Buffer.from(text);

  it("reads events and reports malformed lines with their numbers", async () => {
    const { events, malformed, result } = await read(chunksOf(bytes, bytes.length));
    expect(events.map(([parsed, number]) => [parsed.kind, number])).toEqual([["token-request", 1], ["v1", 2], ["v2", 10]]);
    expect(malformed.map((problem) => [problem.line, problem.problem.replace(/: .*/, "")])).toEqual([
      [4, "not JSON"],
      [5, 'unsupported schema "imds-analyzer/event@2"'],
      [6, 'field "time" is not a date'],
      [7, 'field "status" is missing or has the wrong type'],
      [8, "not a JSON object"],
    ]);
    expect(malformed.every((problem) => problem.path === "events.ndjson")).toBe(true);
    expect(result).toEqual({ lines: 10, events: 3, summaries: 0, malformed: 5 });
  });

  it("gives the same result however the input is split", async () => {
    const whole = await read(chunksOf(bytes, bytes.length));
    for (const size of [1, 2, 3, 7, 64, 100, 333]) {
      const split = await read(chunksOf(bytes, size));
      expect(split.events).toEqual(whole.events);
      expect(split.malformed).toEqual(whole.malformed);
      expect(split.result).toEqual(whole.result);
    }
  });

  it("accepts CRLF, a byte order mark and a last line without newline", async () => {
    const input = Buffer.from(`\ufeff${line(event({ kind: "v1" }))}\r\n${line(event({ kind: "v2" }))}`);
    const { events, malformed } = await read(chunksOf(input, 5));
    expect(events.map(([parsed, number]) => [parsed.kind, number])).toEqual([["v1", 1], ["v2", 2]]);
    expect(malformed).toEqual([]);
  });

  it("keeps multi-byte characters whole across chunk boundaries", async () => {
    const input = Buffer.from(`${line(event({ userAgent: "agent/1 \u00e9\u4e2d\ud83d\ude00" }))}\n`);
    for (const size of [1, 2, 3]) {
      const { events } = await read(chunksOf(input, size));
      expect(events[0]![0].userAgent).toBe("agent/1 \u00e9\u4e2d\ud83d\ude00");
    }
  });

  it("skips a line longer than the limit without holding it, and reads on", async () => {
    const longLine = `{"schema":"imds-analyzer/event@1","path":"${"a".repeat(5000)}"}`;
    const input = Buffer.from(`${line(event({ kind: "v1" }))}\n${longLine}\n${line(event({ kind: "v2" }))}\n${longLine}`);
    for (const size of [1000, 100_000]) {
      const { events, malformed } = await read(chunksOf(input, size), { maxLineBytes: 1024 });
      expect(events.map(([parsed, number]) => [parsed.kind, number])).toEqual([["v1", 1], ["v2", 3]]);
      expect(malformed).toEqual([
        { path: "events.ndjson", line: 2, problem: "line longer than 1024 bytes (skipped)" },
        { path: "events.ndjson", line: 4, problem: "line longer than 1024 bytes (skipped)" },
      ]);
    }
  });

  it("reads a 100 MB line in bounded memory (the default 1 MiB line limit)", async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    function* hugeLine(): Generator<Uint8Array> {
      yield Buffer.from(`${line(event({ kind: "v2" }))}\n{"schema":"`);
      // The same chunk again and again: only the reader could make the memory grow.
      for (let index = 0; index < 1600; index++) yield chunk;
      yield Buffer.from(`"}\n${line(event({ kind: "v1" }))}\n`);
    }
    const before = process.memoryUsage().arrayBuffers;
    const { events, malformed } = await read(asAsync(hugeLine()));
    const grownBytes = process.memoryUsage().arrayBuffers - before;
    expect(events.map(([parsed, number]) => [parsed.kind, number])).toEqual([["v2", 1], ["v1", 3]]);
    expect(malformed).toEqual([{ path: "events.ndjson", line: 2, problem: "line longer than 1048576 bytes (skipped)" }]);
    expect(grownBytes).toBeLessThan(8 * 1024 * 1024);
  });

  it("hands summaries on: a summary line, or a pretty-printed summary file", async () => {
    const summary = liveSummary({ packetsDroppedByKernel: 3 });
    const asLine = await read(chunksOf(Buffer.from(`${line(event())}\n${line(summary)}\n`), 10));
    expect(asLine.summaries).toEqual([summary]);
    expect(asLine.events).toHaveLength(1);
    const pretty = Buffer.from(`${JSON.stringify(offlineSummary(), null, 2)}\n`);
    for (const size of [3, pretty.length]) {
      const asFile = await read(chunksOf(pretty, size));
      expect(asFile.summaries).toEqual([offlineSummary()]);
      expect(asFile.malformed).toEqual([]);
      expect(asFile.events).toEqual([]);
    }
  });

  it("reports a broken summary or a broken pretty-printed document as malformed", async () => {
    const broken = { ...liveSummary(), framesRead: "many" };
    expect((await read(chunksOf(Buffer.from(`${line(broken)}\n`), 100))).malformed).toEqual([
      { path: "events.ndjson", line: 1, problem: 'summary: field "framesRead" is missing or has the wrong type' },
    ]);
    const cut = JSON.stringify(offlineSummary(), null, 2).slice(0, 100);
    const { malformed } = await read(chunksOf(Buffer.from(cut), 7));
    expect(malformed).toHaveLength(1);
    expect(malformed[0]!.problem).toMatch(/^not JSON \(a multi-line document\)/);
  });

  it("reads gzip-compressed input through decompressIfGzip, split anywhere", async () => {
    const compressed = gzipSync(bytes);
    for (const size of [1, 2, 50, compressed.length]) {
      const { events, malformed } = await read(decompressIfGzip(chunksOf(compressed, size)));
      expect(events.map(([parsed]) => parsed.kind)).toEqual(["token-request", "v1", "v2"]);
      expect(malformed).toHaveLength(5);
    }
    // Plain input passes through unchanged.
    const plain = await read(decompressIfGzip(chunksOf(bytes, 1)));
    expect(plain.events).toHaveLength(3);
  });

  it("fails with the input's error when gzip data is corrupt", async () => {
    const compressed = gzipSync(bytes);
    compressed.fill(0x55, 30, 60);
    await expect(read(decompressIfGzip(chunksOf(compressed, 64)))).rejects.toThrow();
  });

  it("cuts long problem texts", async () => {
    const { malformed } = await read(chunksOf(Buffer.from(`{"schema": ${"x".repeat(10_000)}\n`), 4096));
    expect(malformed).toHaveLength(1);
    expect(malformed[0]!.problem.length).toBeLessThanOrEqual(200);
  });
});
