/**
 * Property tests of the `report` command's NDJSON reader: valid events, junk, blank lines, CRLF,
 * a BOM, multi-byte UTF-8 (split across chunks mid-character), overlong lines and summaries give
 * the same events and the same malformed-line reports however the input is chunked; every line
 * is counted, nothing throws, and problem texts stay short.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { readEvents } from "../../src/report/ndjson-reader.js";
import type { MalformedLine } from "../../src/report/types.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { event, offlineSummary } from "../report/event-factory.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";
import { cutPoints } from "./capture-arbitraries.js";

const eventLine = fc
  .record({
    kind: fc.constantFrom("v1" as const, "v2" as const, "token-request" as const),
    userAgent: fc.oneof(fc.constant(null), fc.string({ maxLength: 12 }), fc.constantFrom("caf\u00e9/1.0", "\u20ac\u{1f600}", "a\u0000b")),
    status: fc.oneof(fc.constant(null), fc.constantFrom(200, 401, 403)),
    frame: fc.integer({ min: 1, max: 1_000_000 }),
    path: fc.constantFrom("/latest/meta-data/", "/latest/api/token", "/\u00e9\u{1f600}"),
  })
  .map((fields) => JSON.stringify(event(fields)));

/** A line that is valid JSON but not an event, or an event broken in one field. */
const wrongLine = fc.oneof(
  fc.constantFrom("[1,2,3]", "null", "42", '"text"', "{}", '{"schema":"imds-analyzer/event@2","kind":"v1"}'),
  fc.record({ field: fc.constantFrom("kind", "time", "status", "frame", "schema", "clientPort"), value: fc.jsonValue({ maxDepth: 1 }) }).map(({ field, value }) =>
    JSON.stringify({ ...event(), [field]: value }),
  ),
);

const junkLine = fc.oneof(
  fc.string({ maxLength: 30 }).map((text) => text.replace(/\n/g, "")),
  fc.constantFrom("{", "{\"a\":", "\u00ff\u00fe", "\ufeff{}", "   ", "\t", "\r"),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes.filter((byte) => byte !== 0x0a)).toString("latin1")),
);

const summaryLine = fc.constant(JSON.stringify(offlineSummary()));

const line = fc.oneof(
  { weight: 5, arbitrary: eventLine },
  { weight: 2, arbitrary: wrongLine },
  { weight: 2, arbitrary: junkLine },
  { weight: 1, arbitrary: summaryLine },
  { weight: 1, arbitrary: fc.constant("") },
);

/** A whole input: lines with LF or CRLF, an optional BOM, an optional missing final newline. */
const ndjsonText = fc
  .tuple(fc.array(fc.tuple(line, fc.constantFrom("\n", "\r\n")), { maxLength: 12 }), fc.boolean(), fc.boolean())
  .map(([lines, bom, dropFinalNewline]) => {
    let text = (bom ? "\ufeff" : "") + lines.map(([content, end]) => content + end).join("");
    if (dropFinalNewline && text.endsWith("\n")) text = text.slice(0, -1);
    return text;
  });

async function* chunks(pieces: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) {
    await Promise.resolve();
    yield piece;
  }
}

interface ReadOutcome {
  readonly events: [ImdsEvent, number][];
  readonly malformed: MalformedLine[];
  readonly summaries: AnalysisSummary[];
  readonly result: Awaited<ReturnType<typeof readEvents>>;
}

async function read(bytes: Uint8Array, cuts: readonly number[], maxLineBytes: number | undefined): Promise<ReadOutcome> {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.slice(start, cut));
    start = cut;
  }
  const events: [ImdsEvent, number][] = [];
  const malformed: MalformedLine[] = [];
  const summaries: AnalysisSummary[] = [];
  const result = await readEvents(
    chunks(pieces),
    "events.ndjson",
    (parsed, lineNumber) => events.push([parsed, lineNumber]),
    (problem) => malformed.push(problem),
    { onSummary: (summary) => summaries.push(summary), ...(maxLineBytes === undefined ? {} : { maxLineBytes }) },
  );
  return { events, malformed, summaries, result };
}

function lineCount(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) if (byte === 0x0a) count++;
  return bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a ? count + 1 : count;
}

/** Whether the reader takes the input as one pretty-printed document: its first content line is a lone "{". */
function startsDocument(text: string, maxLineBytes: number): boolean {
  const first = text
    .split("\n")
    .find((content) => Buffer.byteLength(content) > maxLineBytes || content.replace(/^\ufeff/, "").trim().length > 0);
  return first !== undefined && Buffer.byteLength(first) <= maxLineBytes && first.replace(/^\ufeff/, "").trim() === "{";
}

describe("NDJSON event reader under fuzzing", () => {
  it(
    "any mix of lines, chunked anywhere (even inside a UTF-8 character): the same result",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          ndjsonText,
          fc.array(fc.nat(), { maxLength: 10 }),
          fc.option(fc.constantFrom(16, 64, 200, 400), { nil: undefined }),
          async (text, raw, maxLineBytes) => {
            const bytes = new Uint8Array(Buffer.from(text, "utf8"));
            const whole = await read(bytes, [], maxLineBytes);
            const split = await read(bytes, cutPoints(raw, bytes.length), maxLineBytes);
            expect(split).toEqual(whole);
            const { result, malformed } = whole;
            expect(result.events).toBe(whole.events.length);
            expect(result.malformed).toBe(malformed.length);
            expect(result.summaries).toBe(whole.summaries.length);
            expect(result.events + result.malformed + result.summaries).toBeLessThanOrEqual(Math.max(result.lines, 1));
            if (!startsDocument(text, maxLineBytes ?? Number.POSITIVE_INFINITY)) expect(result.lines).toBe(lineCount(bytes));
            for (const problem of malformed) {
              expect(problem.path).toBe("events.ndjson");
              expect(problem.line).toBeGreaterThanOrEqual(1);
              expect(problem.line).toBeLessThanOrEqual(Math.max(result.lines, 1));
              expect(problem.problem.length).toBeLessThanOrEqual(200);
            }
            for (const [, lineNumber] of whole.events) expect(lineNumber).toBeLessThanOrEqual(result.lines);
          },
        ),
        fuzzParameters(300, 3),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a pretty-printed document (a summary file, or junk after a lone '{'): the same result however chunked",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.constant(JSON.stringify(offlineSummary(), null, 2)),
            fc.string({ maxLength: 60 }).map((text) => `{\n${text}`),
            fc.constant(JSON.stringify(event(), null, 2)),
          ),
          fc.array(fc.nat(), { maxLength: 10 }),
          async (text, raw) => {
            const bytes = new Uint8Array(Buffer.from(text, "utf8"));
            const whole = await read(bytes, [], undefined);
            const split = await read(bytes, cutPoints(raw, bytes.length), undefined);
            expect(split).toEqual(whole);
            expect(whole.result.events + whole.result.malformed + whole.result.summaries).toBe(1);
          },
        ),
        fuzzParameters(100, 3),
      );
    },
    fuzzTimeoutMs,
  );
});
