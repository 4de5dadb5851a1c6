/**
 * Property tests of the incremental HTTP/1.x request and response parsers: the same events
 * however the bytes are split (reporting every header, and only the pipeline's, which must be
 * exactly the pipeline's headers of what the other reports), buffers within the head limit, work
 * linear in the input, no header value in an error detail, well-formed requests reported exactly
 * (and classified by parsed header names only), and a fresh request found again after a gap.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isInstanceId } from "../../src/events.js";
import { classifyImdsRequest } from "../../src/imds/classify.js";
import { IdentityPath, instanceIdFromBody } from "../../src/pipeline/instance-identity.js";
import { maxMethodBytes } from "../../src/http/request-parser.js";
import { HttpResponseParser } from "../../src/http/response-parser.js";
import type { HttpBodySink, HttpParseLimits } from "../../src/http/types.js";
import { defaultHttpParseLimits } from "../../src/http/types.js";
import { headerConfigurations, pushCopy, recordRequests, recordResponses, reportedUnder } from "../http/scan-harness.js";
import type { ParsedEvent, ParserUnderTest, Recorder } from "../http/scan-harness.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";
import { cutPoints } from "./capture-arbitraries.js";
import {
  garbageText,
  latin1,
  requestStreamText,
  responseStreamText,
  secretMarker,
  validRequest,
  validResponse,
} from "./http-arbitraries.js";

const limitsArbitrary: fc.Arbitrary<HttpParseLimits> = fc.oneof(
  fc.constant(defaultHttpParseLimits),
  fc.record({ maxHeadBytes: fc.constantFrom(40, 64, 100, 300), maxHeaderCount: fc.constantFrom(1, 2, 5, 100) }),
);

/** Parsers reporting every header, or only those the pipeline reads (src/pipeline/imds-flow.ts). */
const headersArbitrary = fc.constantFrom(...headerConfigurations);

interface FeedResult {
  readonly events: ParsedEvent[];
  readonly maxBuffered: number;
}

/** Pushes `bytes` in the pieces given by `cuts`, then ends the stream. */
function feed<P extends ParserUnderTest>(recorder: Recorder<P>, bytes: Uint8Array, cuts: readonly number[]): FeedResult {
  let maxBuffered = 0;
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    pushCopy(recorder.parser, bytes, start, cut);
    maxBuffered = Math.max(maxBuffered, recorder.parser.bufferedByteCapacity);
    start = cut;
  }
  recorder.parser.end();
  return { events: recorder.events, maxBuffered };
}

function byteByByte(bytes: Uint8Array): number[] {
  return Array.from({ length: Math.max(0, bytes.length - 1) }, (_, index) => index + 1);
}

function lineFeeds(bytes: Uint8Array): number {
  let count = 0;
  for (const byte of bytes) if (byte === 0x0a) count++;
  return count;
}

/** The checks that hold for any input and any split. */
function expectBounded(result: FeedResult, bytes: Uint8Array, limits: HttpParseLimits): void {
  // Memory: a line split across pushes is held up to the head limit (a would-be method: 32 bytes).
  expect(result.maxBuffered).toBeLessThanOrEqual(Math.max(limits.maxHeadBytes, maxMethodBytes));
  // Work: at most one report per line (an error, or a head ended by an empty line), plus one.
  expect(result.events.length).toBeLessThanOrEqual(lineFeeds(bytes) + 1);
  for (const event of result.events) {
    if ("error" in event) {
      expect(event.detail).not.toContain(secretMarker);
      expect(event.detail.length).toBeLessThan(100);
    }
  }
}

describe("HTTP parsers under fuzzing", () => {
  it(
    "request streams: the same events however split (every header, or only the pipeline's), bounded buffers and work",
    () => {
      fc.assert(
        fc.property(requestStreamText, fc.array(fc.nat(), { maxLength: 10 }), limitsArbitrary, headersArbitrary, (text, raw, limits, headers) => {
          const bytes = latin1(text);
          const whole = feed(recordRequests(limits, headers), bytes, []);
          expectBounded(whole, bytes, limits);
          const split = feed(recordRequests(limits, headers), bytes, cutPoints(raw, bytes.length));
          expectBounded(split, bytes, limits);
          expect(split.events).toEqual(whole.events);
          const single = feed(recordRequests(limits, headers), bytes, byteByByte(bytes));
          expectBounded(single, bytes, limits);
          expect(single.events).toEqual(whole.events);
          const everyHeader = feed(recordRequests(limits), bytes, []);
          expect(whole.events).toEqual(reportedUnder(headers, "request", everyHeader.events));
        }),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "response streams (after any requests): the same events however split (every header, or only the pipeline's), bounded",
    () => {
      fc.assert(
        fc.property(
          responseStreamText,
          fc.array(fc.constantFrom("GET", "PUT", "HEAD", "CONNECT"), { maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          limitsArbitrary,
          headersArbitrary,
          (text, methods, raw, limits, headers) => {
            const bytes = latin1(text);
            const whole = feed(recordResponses(methods, limits, headers), bytes, []);
            expectBounded(whole, bytes, limits);
            const split = feed(recordResponses(methods, limits, headers), bytes, cutPoints(raw, bytes.length));
            expectBounded(split, bytes, limits);
            expect(split.events).toEqual(whole.events);
            const single = feed(recordResponses(methods, limits, headers), bytes, byteByByte(bytes));
            expect(single.events).toEqual(whole.events);
            const everyHeader = feed(recordResponses(methods, limits), bytes, []);
            expect(whole.events).toEqual(reportedUnder(headers, "response", everyHeader.events));
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "well-formed pipelined requests: each reported exactly, and classified by header names only",
    () => {
      fc.assert(
        fc.property(fc.array(validRequest, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 8 }), (requests, raw) => {
          const bytes = latin1(requests.map((request) => request.text).join(""));
          const heads: ReturnType<typeof classifyImdsRequest>["kind"][] = [];
          const recorder = recordRequests();
          const { events } = feed(recorder, bytes, cutPoints(raw, bytes.length));
          expect(events).toEqual(
            requests.map((request) => ({
              request: `${request.method} ${request.target}`,
              version: request.httpVersion,
              headers: request.headers,
            })),
          );
          for (const event of events) {
            if (!("request" in event)) continue;
            const space = event.request.indexOf(" ");
            heads.push(
              classifyImdsRequest({
                method: event.request.slice(0, space),
                target: event.request.slice(space + 1),
                httpVersion: event.version,
                headers: event.headers.map(([name, value]) => ({ name, value })),
              }).kind,
            );
          }
          expect(heads).toEqual(requests.map((request) => request.kind));
        }),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "after any garbage and a gap, the next request is found again",
    () => {
      fc.assert(
        fc.property(
          fc.oneof(requestStreamText, garbageText),
          fc.option(fc.nat({ max: 100 }), { nil: null }),
          validRequest,
          (prefix, lostBytes, request) => {
            const recorder = recordRequests();
            pushCopy(recorder.parser, latin1(prefix));
            const before = recorder.events.length;
            const skippedInBody = recorder.parser.gap(lostBytes);
            pushCopy(recorder.parser, latin1(request.text));
            const after = recorder.events.slice(before);
            const expected = { request: `${request.method} ${request.target}`, version: request.httpVersion, headers: request.headers };
            // A gap of known size inside a body is skipped; otherwise the parser resyncs at once.
            if (!skippedInBody) expect(after).toEqual([expected]);
            else expect(after.length).toBeLessThanOrEqual(lineFeeds(latin1(request.text)) + 1);
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "response bodies captured on request: the same bytes however split, each body ended exactly once",
    () => {
      fc.assert(
        fc.property(
          responseStreamText,
          fc.array(fc.constantFrom("GET", "HEAD", "CONNECT"), { maxLength: 6 }),
          fc.array(fc.boolean(), { maxLength: 8 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          (text, methods, captureWhich, raw) => {
            const bytes = latin1(text);
            const whole = feedCapturing(bytes, methods, captureWhich, []);
            const split = feedCapturing(bytes, methods, captureWhich, cutPoints(raw, bytes.length));
            expect(split).toEqual(whole);
            for (const entry of whole) if ("body" in entry) expect(entry.ends).toBe(1);
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "identity bodies (the only response bodies read): any bytes give a valid instance id or null",
    () => {
      const documentBody = fc
        .record({ instanceId: fc.oneof(fc.constantFrom("i-0123456789abcdef0", "i-01234567", "i-XYZ", ""), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] })
        .map((document) => JSON.stringify(document));
      fc.assert(
        fc.property(
          fc.constantFrom(IdentityPath.none, IdentityPath.instanceId, IdentityPath.identityDocument),
          fc.oneof(fc.uint8Array({ maxLength: 80 }), documentBody.map((text) => new Uint8Array(Buffer.from(text))), fc.constant(new Uint8Array(5000))),
          (kind, body) => {
            const instanceId = instanceIdFromBody(kind, body);
            if (instanceId !== null) expect(isInstanceId(instanceId)).toBe(true);
          },
        ),
        fuzzParameters(300),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "response bodies with gaps anywhere: every captured body still ends exactly once, nothing after it",
    () => {
      fc.assert(
        fc.property(
          responseStreamText,
          fc.array(fc.boolean(), { maxLength: 8 }),
          fc.array(fc.tuple(fc.nat(), fc.option(fc.nat({ max: 40 }), { nil: null })), { minLength: 1, maxLength: 4 }),
          (text, captureWhich, gaps) => {
            const bytes = latin1(text);
            const gapsAt = new Map(gaps.map(([at, lost]) => [at % (bytes.length + 1), lost] as const));
            const entries = feedCapturing(bytes, ["GET", "GET", "GET"], captureWhich, [...gapsAt.keys()].sort((a, b) => a - b), gapsAt);
            for (const entry of entries) {
              if (!("body" in entry)) continue;
              expect(entry.ends).toBe(1);
              expect(entry.body).not.toContain("<after end>");
            }
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "well-formed responses with captured bodies: each body exactly as sent (de-chunked), complete",
    () => {
      fc.assert(
        fc.property(fc.array(validResponse, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), (responses, raw) => {
          const bytes = latin1(responses.map((response) => response.text).join(""));
          const entries = feedCapturing(bytes, responses.map(() => "GET"), responses.map(() => true), cutPoints(raw, bytes.length));
          expect(entries).toEqual(
            responses.map((response) => ({ status: response.status, body: response.body, complete: true, ends: 1 })),
          );
        }),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );
});

interface CapturedEntry {
  readonly status: number;
  body: string;
  complete: boolean | null;
  ends: number;
}

/** Runs a response parser that asks for the body of the responses `captureWhich` selects. */
function feedCapturing(
  bytes: Uint8Array,
  methods: readonly string[],
  captureWhich: readonly boolean[],
  cuts: readonly number[],
  gapsAt: ReadonlyMap<number, number | null> = new Map(),
): (CapturedEntry | { status: number } | { error: string })[] {
  const entries: (CapturedEntry | { status: number } | { error: string })[] = [];
  let responses = 0;
  const parser: HttpResponseParser = new HttpResponseParser({
    onResponse: (head) => {
      if (captureWhich[responses++] !== true) {
        entries.push({ status: head.statusCode });
        return;
      }
      const entry: CapturedEntry = { status: head.statusCode, body: "", complete: null, ends: 0 };
      entries.push(entry);
      const sink: HttpBodySink = {
        onBodyData: (data, start, end) => {
          if (entry.ends > 0) entry.body += "<after end>";
          entry.body += Buffer.from(data.subarray(start, end)).toString("latin1");
        },
        onBodyEnd: (complete) => {
          entry.ends++;
          entry.complete = complete;
        },
      };
      parser.captureBody(sink);
    },
    onError: (reason) => entries.push({ error: reason }),
  });
  for (const method of methods) parser.expectResponseTo(method);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    pushCopy(parser, bytes, start, cut);
    if (gapsAt.has(cut)) parser.gap(gapsAt.get(cut));
    start = cut;
  }
  parser.end();
  return entries;
}
