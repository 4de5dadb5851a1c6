import { describe, expect, it } from "vitest";
import { defaultHttpParseLimits } from "../../src/http/types.js";
import type { ParserUnderTest } from "./scan-harness.js";
import { bytesOf, pushCopy, recordRequests, recordResponses } from "./scan-harness.js";

const maxHeadBytes = defaultHttpParseLimits.maxHeadBytes;

/** Feeds `bytes` in pieces; returns the largest buffer the parser held after any piece. */
function pushInPieces(parser: ParserUnderTest, bytes: Uint8Array, pieceBytes: number): number {
  let largestBuffer = 0;
  for (let start = 0; start < bytes.length; start += pieceBytes) {
    pushCopy(parser, bytes, start, Math.min(bytes.length, start + pieceBytes));
    largestBuffer = Math.max(largestBuffer, parser.bufferedByteCapacity);
  }
  return largestBuffer;
}

describe("gaps", () => {
  it("a gap mid-head drops that request without an error and finds the next one", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("GET /lost HTTP/1.1\r\nHost: 169.2"));
    expect(parser.gap(700)).toBe(false);
    pushCopy(parser, bytesOf("54\r\nUser-Agent: x\r\n\r\nGET /found HTTP/1.1\r\nHost: h\r\n\r\n"));
    expect(events).toEqual([{ request: "GET /found", version: "1.1", headers: [["Host", "h"]] }]);
    expect(parser.resyncCount).toBe(1);
  });

  it("the byte right after a gap may start a request (a lost segment ended at a boundary)", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("GET /a HTTP/1.1\r\nHost: h"));
    parser.gap();
    pushCopy(parser, bytesOf("GET /b HTTP/1.1\r\n\r\n"));
    expect(events).toEqual([{ request: "GET /b", version: "1.1", headers: [] }]);
  });

  it("a gap of unknown size mid-body: resync on the next request line", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabc"));
    expect(parser.gap(null)).toBe(false);
    pushCopy(parser, bytesOf("xyz GET /in-body\r\nmore body\r\nGET /next HTTP/1.1\r\n\r\n"));
    expect(events).toEqual([
      { request: "POST /upload", version: "1.1", headers: [["Content-Length", "1000"]] },
      { request: "GET /next", version: "1.1", headers: [] },
    ]);
  });

  it("a gap of known size inside a body is skipped exactly", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nab"));
    expect(parser.gap(5)).toBe(true);
    pushCopy(parser, bytesOf("fghPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab"));
    expect(parser.gap(6)).toBe(true);
    pushCopy(parser, bytesOf("\r\n0\r\n\r\nGET /c HTTP/1.1\r\n\r\n"));
    expect(events.map((event) => ("request" in event ? event.request : event))).toEqual(["POST /a", "POST /b", "GET /c"]);
    expect(parser.resyncCount).toBe(0);
  });

  it("a known gap longer than the rest of the body resynchronises", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"));
    expect(parser.gap(40)).toBe(false);
    pushCopy(parser, bytesOf("Host: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n"));
    expect(events.map((event) => ("request" in event ? event.request : event))).toEqual(["POST /a", "GET /b"]);
  });

  it("after a gap only HTTP/1.x request lines are taken", () => {
    const { parser, events } = recordRequests();
    parser.gap();
    pushCopy(parser, bytesOf("GET /x HTTP/2.0\r\n\r\nfoo bar baz\r\nGET /y HTTP/1.0\r\n\r\n"));
    expect(events).toEqual([{ request: "GET /y", version: "1.0", headers: [] }]);
  });

  it("errors are sticky: one error per lost message, however many bad lines follow", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("GET / HTTP/1.1\r\nBad Header: 1\r\nAnother Bad: 2\r\n\x00\x01\r\n\r\nGET /ok HTTP/1.1\r\n\r\n"));
    expect(events).toEqual([
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { request: "GET /ok", version: "1.1", headers: [] },
    ]);
  });

  it("a response gap mid-head resyncs on the next HTTP/1. status line", () => {
    const { parser, events } = recordResponses(["GET", "GET"]);
    pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\nContent-Le"));
    parser.gap();
    pushCopy(parser, bytesOf("ngth: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    expect(events).toEqual([{ response: 404, version: "1.1", headers: [["Content-Length", "0"]] }]);
  });
});

describe("limits and memory", () => {
  it("a 1 MB header is dropped with one error, with the buffer bounded by maxHeadBytes", () => {
    const { parser, events } = recordRequests();
    const input = bytesOf(`GET /big HTTP/1.1\r\nX-Big: ${"b".repeat(1024 * 1024)}\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\n\r\n`);
    const largestBuffer = pushInPieces(parser, input, 1448);
    expect(largestBuffer).toBeLessThanOrEqual(maxHeadBytes);
    expect(events).toEqual([
      { error: "head-too-large", detail: `head exceeds ${maxHeadBytes} bytes` },
      { request: "GET /after", version: "1.1", headers: [] },
    ]);
  });

  it("megabytes of request line without CRLF keep the buffer under maxHeadBytes", () => {
    const { parser, events } = recordRequests();
    const garbage = bytesOf(`GET /${"a".repeat(8 * 1024 * 1024)}`);
    const largestBuffer = pushInPieces(parser, garbage, 65_000);
    expect(largestBuffer).toBeLessThanOrEqual(maxHeadBytes);
    expect(largestBuffer).toBeGreaterThan(0);
    expect(events).toEqual([{ error: "head-too-large", detail: `head exceeds ${maxHeadBytes} bytes` }]);
    pushCopy(parser, bytesOf("\r\nGET /ok HTTP/1.1\r\n\r\n"));
    expect(events[1]).toEqual({ request: "GET /ok", version: "1.1", headers: [] });
    expect(parser.bufferedByteCapacity).toBeLessThanOrEqual(maxHeadBytes);
  });

  it("while resynchronising, an endless plausible line is bounded and silent", () => {
    const { parser, events } = recordRequests();
    parser.gap();
    const largestBuffer = pushInPieces(parser, bytesOf(`GET /${"a".repeat(4 * 1024 * 1024)}`), 1000);
    expect(largestBuffer).toBeLessThanOrEqual(maxHeadBytes);
    pushCopy(parser, bytesOf(" HTTP/1.1\r\nGET /ok HTTP/1.1\r\n\r\n"));
    expect(events).toEqual([{ request: "GET /ok", version: "1.1", headers: [] }]);
  });

  it("the same bounds hold byte by byte", () => {
    const limits = { maxHeadBytes: 1024, maxHeaderCount: 10 };
    const { parser, events } = recordRequests(limits);
    const largestBuffer = pushInPieces(parser, bytesOf(`PUT /${"x".repeat(50_000)}`), 1);
    expect(largestBuffer).toBeLessThanOrEqual(1024);
    expect(events).toEqual([{ error: "head-too-large", detail: "head exceeds 1024 bytes" }]);
  });

  it("a chunk-size line with endless extensions is a bad chunk", () => {
    const { parser, events } = recordRequests();
    const input = bytesOf(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;${"e".repeat(100_000)}\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n`);
    const largestBuffer = pushInPieces(parser, input, 1448);
    expect(largestBuffer).toBeLessThanOrEqual(maxHeadBytes);
    expect(events).toEqual([
      { request: "POST /", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-chunk", detail: "chunk-size line exceeds 16384 bytes" },
      { request: "GET /next", version: "1.1", headers: [] },
    ]);
  });

  it("exactly maxHeaderCount headers is fine, one more is too many", () => {
    const headerLines = (count: number): string => Array.from({ length: count }, (_, index) => `H${index}: v\r\n`).join("");
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf(`GET /100 HTTP/1.1\r\n${headerLines(100)}\r\nGET /101 HTTP/1.1\r\n${headerLines(101)}\r\n`));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ request: "GET /100" });
    expect(events[1]).toEqual({ error: "head-too-large", detail: "more than 100 headers" });
  });

  it("large bodies are skipped without buffering", () => {
    const { parser, events } = recordRequests();
    pushCopy(parser, bytesOf("PUT /big HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n"));
    const body = new Uint8Array(1_000_000).fill(0x0a);
    for (let index = 0; index < 50; index++) parser.push(body);
    pushCopy(parser, bytesOf("GET /after HTTP/1.1\r\n\r\n"));
    expect(events.map((event) => ("request" in event ? event.request : event))).toEqual(["PUT /big", "GET /after"]);
    expect(parser.bufferedByteCapacity).toBeLessThanOrEqual(256);
  });

  it("10,000 pipelined requests, in one push and in segment-sized pieces", () => {
    const oneRequest = "GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nHost: 169.254.169.254\r\n" +
      "x-aws-ec2-metadata-token: FAKE\r\nUser-Agent: aws-sdk-js/3.600.0\r\n\r\n";
    const input = bytesOf(oneRequest.repeat(10_000));
    const whole = recordRequests();
    whole.parser.push(input);
    expect(whole.events).toHaveLength(10_000);
    expect(whole.events[9_999]).toEqual({
      request: "GET /latest/meta-data/iam/security-credentials/role",
      version: "1.1",
      headers: [
        ["Host", "169.254.169.254"],
        ["x-aws-ec2-metadata-token", "FAKE"],
        ["User-Agent", "aws-sdk-js/3.600.0"],
      ],
    });
    const pieces = recordRequests();
    pushInPieces(pieces.parser, input, 1448);
    expect(pieces.events).toEqual(whole.events);
  });
});
