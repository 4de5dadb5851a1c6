/**
 * Inputs the fuzz properties found wrong, kept as plain tests so they stay fixed whatever the
 * fuzz budget and seed. Each names the property that found it.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import type { ImdsEvent } from "../../src/events.js";
import { readEvents } from "../../src/report/ndjson-reader.js";
import type { MalformedLine } from "../../src/report/types.js";
import { buildPcapng } from "../../src/wire-format/pcapng-file.mjs";
import { TcpConversation, http } from "../helpers/conversation.js";
import { event } from "../report/event-factory.js";

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield bytes;
}

describe("fuzz regressions", () => {
  // ndjson-reader.test.ts "any mix of lines": an overlong first line did not count as content,
  // so a later lone "{" line switched the reader into document mode and every event after it
  // was swallowed into one unparseable "document" (events silently lost).
  it("NDJSON: an overlong first line then a lone '{' line: the events after it are still read", async () => {
    const line = JSON.stringify(event());
    const text = `${line}\n{\n${line}\n${line}\n`;
    const events: [ImdsEvent, number][] = [];
    const malformed: MalformedLine[] = [];
    const result = await readEvents(
      once(new Uint8Array(Buffer.from(text))),
      "events.ndjson",
      (parsed, lineNumber) => events.push([parsed, lineNumber]),
      (problem) => malformed.push(problem),
      { maxLineBytes: 16 },
    );
    // Every event line is longer than 16 bytes: all four lines are malformed, one each.
    expect(malformed.map((problem) => [problem.line, problem.problem])).toEqual([
      [1, "line longer than 16 bytes (skipped)"],
      [2, expect.stringMatching(/^not JSON: /) as unknown],
      [3, "line longer than 16 bytes (skipped)"],
      [4, "line longer than 16 bytes (skipped)"],
    ]);
    expect(result).toEqual({ lines: 4, events: 0, summaries: 0, malformed: 4 });

    const roomy: [ImdsEvent, number][] = [];
    const roomyResult = await readEvents(
      once(new Uint8Array(Buffer.from(`${"x".repeat(line.length + 1)}\n{\n${line}\n`))),
      "events.ndjson",
      (parsed, lineNumber) => roomy.push([parsed, lineNumber]),
      () => undefined,
      { maxLineBytes: line.length },
    );
    expect(roomy.map(([, lineNumber]) => lineNumber)).toEqual([3]);
    expect(roomyResult).toEqual({ lines: 3, events: 1, summaries: 0, malformed: 2 });
  });

  // analyze-captures.test.ts "synthetic conversations": a pcapng timestamp in microseconds
  // (the default resolution) with its high word corrupted is ~year 586,000; formatting the
  // event time threw RangeError ("Invalid time value") out of analyzeCaptures.
  it("pcapng: a timestamp beyond year 9999 gives a clamped event time, not a RangeError", async () => {
    const conversation = new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close();
    const built = buildPcapng(conversation.frames, { interfaces: [{ linkType: 1, tsresol: 6 }] });
    const bytes = built.bytes.slice();
    const view = new DataView(bytes.buffer);
    // EPB: type, length, interface id, then the timestamp's high word at +12.
    for (const record of built.records) if (record.kind === "packet") view.setUint32(record.offset + 12, 0xffff_ffff, true);
    const events: ImdsEvent[] = [];
    const result = await analyzeCaptures(["-"], { stdin: Readable.from([bytes]), onEvent: (parsed) => events.push(parsed) });
    expect(result.hadErrors).toBe(false);
    expect(events.map((parsed) => [parsed.kind, parsed.status])).toEqual([["v1", 200]]);
    expect(events[0]!.time).toMatch(/^9999-12-31T23:59:59\.\d{6}Z$/);
  });
});
