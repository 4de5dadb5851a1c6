/**
 * Body capture: a listener asks the response parser for the body of one response
 * (captureBody); the bytes reach a bounded collector with chunked framing removed, whatever the
 * split, and a body that lost bytes or outgrew the limit is given up. Other bodies stay unread.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundedBodyCollector, HttpResponseParser } from "../../src/http/index.js";
import { responseHeadersRead } from "../../src/pipeline/imds-flow.js";
import { bytesOf, headerConfigurations, pushCopy, scanAllSplits } from "./scan-harness.js";
import type { HeaderConfiguration, Recorder } from "./scan-harness.js";

/** What the test saw: response heads, and each captured body ("incomplete" when given up). */
type Seen = { readonly response: number } | { readonly body: string | null } | { readonly error: string };

type BodyRecorder = Recorder<HttpResponseParser, Seen>;

/**
 * Captures the body of the responses whose index (0-based) is in `capture`, up to `maxBytes`,
 * with a parser reporting every header or only the pipeline's.
 */
function recordBodies(requests: readonly string[], capture: ReadonlySet<number>, maxBytes = 64, headers: HeaderConfiguration = "all"): BodyRecorder {
  const events: Seen[] = [];
  let index = 0;
  const parser: HttpResponseParser = new HttpResponseParser({
    onResponse: (head) => {
      events.push({ response: head.statusCode });
      if (capture.has(index)) {
        parser.captureBody(
          new BoundedBodyCollector(maxBytes, (body) => {
            events.push({ body: body === null ? null : Buffer.from(body).toString("latin1") });
          }),
        );
      }
      index++;
    },
    onError: (reason) => {
      events.push({ error: reason });
    },
  }, undefined, headers === "production" ? responseHeadersRead : null);
  for (const method of requests) parser.expectResponseTo(method);
  return { parser, events };
}

/**
 * The result of feeding `input` whole, split at every index, and byte by byte, with every header
 * reported and with only the pipeline's: all must agree.
 */
function scan(make: (headers: HeaderConfiguration) => BodyRecorder, text: string): Seen[] {
  const results = headerConfigurations.map((headers) => {
    const { whole, differing } = scanAllSplits(() => make(headers), bytesOf(text));
    expect(differing, `${headers} headers`).toEqual([]);
    return whole;
  });
  for (const result of results) expect(result).toEqual(results[0]);
  return results[0]!;
}

const instanceId = "i-0123456789abcdef0";

describe("response body capture", () => {
  it("Content-Length body, then the next response parses as before (its body unread)", () => {
    const input =
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${instanceId.length}\r\n\r\n${instanceId}` +
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    expect(scan((headers) => recordBodies(["GET", "GET"], new Set([0]), 64, headers), input)).toEqual([
      { response: 200 },
      { body: instanceId },
      { response: 200 },
    ]);
  });

  it("chunked body: chunk sizes, extensions and trailers are framing, not body", () => {
    const input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;ext=1\r\ni-012\r\nE\r\n3456789abcdef0\r\n0\r\nX-Trailer: t\r\n\r\n" +
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    expect(scan((headers) => recordBodies(["GET", "GET"], new Set([0]), 64, headers), input)).toEqual([
      { response: 200 },
      { body: instanceId },
      { response: 404 },
    ]);
  });

  it("a body delimited by the end of the connection is complete at end()", () => {
    const input = `HTTP/1.0 200 OK\r\n\r\n${instanceId}`;
    expect(scan((headers) => recordBodies(["GET"], new Set([0]), 64, headers), input)).toEqual([{ response: 200 }, { body: instanceId }]);
  });

  it("an empty body (Content-Length 0, HEAD, 204) ends the capture at once, empty", () => {
    const input = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    expect(scan((headers) => recordBodies(["GET", "HEAD", "GET"], new Set([0, 1, 2]), 64, headers), input)).toEqual([
      { response: 200 },
      { body: "" },
      { response: 200 },
      { body: "" },
      { response: 204 },
      { body: "" },
    ]);
  });

  it("a body longer than the limit is given up; the stream stays in sync", () => {
    const body = "x".repeat(65);
    const input = `HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n${body}HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n${"y".repeat(64)}`;
    expect(scan((headers) => recordBodies(["GET", "GET"], new Set([0, 1]), 64, headers), input)).toEqual([
      { response: 200 },
      { body: null },
      { response: 200 },
      { body: "y".repeat(64) },
    ]);
  });

  it("the stream ending inside the body gives it up", () => {
    const input = "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\ni-0123";
    expect(scan((headers) => recordBodies(["GET"], new Set([0]), 64, headers), input)).toEqual([{ response: 200 }, { body: null }]);
  });

  it("a malformed chunk gives the body up", () => {
    const input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ni-012XX";
    expect(scan((headers) => recordBodies(["GET"], new Set([0]), 64, headers), input)).toEqual([
      { response: 200 },
      { body: null },
      { error: "bad-chunk" },
    ]);
  });

  it("a 101 switch of protocols ends the capture incomplete", () => {
    const input = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nanything";
    expect(scan((headers) => recordBodies(["GET"], new Set([0]), 64, headers), input)).toEqual([{ response: 101 }, { body: null }]);
  });

  it("a gap inside the body gives it up even when its length is known; the next response is still found", () => {
    for (const lost of [1, null]) {
      const { parser, events: seen } = recordBodies(["GET", "GET"], new Set([0, 1]));
      pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\ni-01"));
      parser.gap(lost);
      // Known loss: the rest of the body follows; unknown: the next segment starts a response.
      if (lost !== null) pushCopy(parser, bytesOf("3456789abcdef0"));
      pushCopy(parser, bytesOf(`HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n${instanceId}`));
      parser.end();
      if (lost === 1) {
        // Skipped exactly: the parser keeps its place, the body is incomplete.
        expect(seen).toEqual([{ response: 200 }, { body: null }, { response: 200 }, { body: instanceId }]);
      } else {
        // Unknown loss: the parser resynchronises on the next status line.
        expect(seen).toEqual([{ response: 200 }, { body: null }, { response: 200 }, { body: instanceId }]);
        expect(parser.resyncCount).toBe(1);
      }
    }
  });

  it("a gap of zero bytes loses nothing", () => {
    const { parser, events: seen } = recordBodies(["GET"], new Set([0]));
    pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\ni-0123"));
    expect(parser.gap(0)).toBe(true);
    pushCopy(parser, bytesOf("456789abcdef0"));
    expect(seen).toEqual([{ response: 200 }, { body: instanceId }]);
  });

  it("without captureBody nothing is collected (and a response parsed without a listener call stays unaffected)", () => {
    const input = `HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n${instanceId}`;
    expect(scan((headers) => recordBodies(["GET"], new Set(), 64, headers), input)).toEqual([{ response: 200 }]);
  });
});

describe("BoundedBodyCollector", () => {
  it("keeps at most maxBytes, wipes its buffer after the callback, and reports exactly once", () => {
    let view: Uint8Array | null = null;
    let copied = "";
    const collector = new BoundedBodyCollector(8, (body) => {
      view = body;
      copied = body === null ? "(null)" : Buffer.from(body).toString("latin1");
    });
    collector.onBodyData(bytesOf("xxsecretyy"), 2, 8);
    collector.onBodyEnd(true);
    expect(copied).toBe("secret");
    // The view handed out is wiped once the callback returned: nothing lingers.
    expect(Array.from(view!)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("gives up past the limit and when incomplete", () => {
    const results: (string | null)[] = [];
    const collect = (body: Uint8Array | null): void => { results.push(body === null ? null : Buffer.from(body).toString("latin1")); };
    const tooLong = new BoundedBodyCollector(4, collect);
    tooLong.onBodyData(bytesOf("abc"), 0, 3);
    tooLong.onBodyData(bytesOf("de"), 0, 2);
    tooLong.onBodyEnd(true);
    const exact = new BoundedBodyCollector(4, collect);
    exact.onBodyData(bytesOf("abcd"), 0, 4);
    exact.onBodyEnd(true);
    const cut = new BoundedBodyCollector(4, collect);
    cut.onBodyData(bytesOf("ab"), 0, 2);
    cut.onBodyEnd(false);
    expect(results).toEqual([null, "abcd", null]);
  });
});

describe("body capture, property", () => {
  it("any body, chunked any way or with Content-Length, split anywhere, arrives exactly", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 6 }),
        (body, chunkSizes, chunked, cuts) => {
          const parts: Buffer[] = [];
          if (chunked) {
            parts.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "latin1"));
            let offset = 0;
            for (const size of [...chunkSizes, body.length]) {
              if (offset >= body.length) break;
              const piece = body.subarray(offset, Math.min(body.length, offset + size));
              parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, "latin1"), Buffer.from(piece), Buffer.from("\r\n", "latin1"));
              offset += piece.length;
            }
            parts.push(Buffer.from("0\r\n\r\n", "latin1"));
          } else {
            parts.push(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"), Buffer.from(body));
          }
          parts.push(Buffer.from("HTTP/1.1 204 No Content\r\n\r\n", "latin1"));
          const input = Buffer.concat(parts);
          const received: (Uint8Array | null)[] = [];
          const statuses: number[] = [];
          const parser: HttpResponseParser = new HttpResponseParser({
            onResponse: (head) => {
              statuses.push(head.statusCode);
              if (head.statusCode === 200) {
                parser.captureBody(new BoundedBodyCollector(256, (captured) => { received.push(captured === null ? null : Uint8Array.from(captured)); }));
              }
            },
            onError: () => { statuses.push(-1); },
          });
          parser.expectResponseTo("GET");
          parser.expectResponseTo("GET");
          const points = [...new Set(cuts.map((cut) => Math.min(cut, input.length)))].sort((a, b) => a - b);
          let start = 0;
          for (const point of [...points, input.length]) {
            pushCopy(parser, input, start, point);
            start = point;
          }
          parser.end();
          expect(statuses).toEqual([200, 204]);
          expect(received).toEqual([Uint8Array.from(body)]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
