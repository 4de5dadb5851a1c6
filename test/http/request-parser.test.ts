import { describe, expect, it } from "vitest";
import type { HttpParseLimits } from "../../src/http/types.js";
import type { ParsedEvent } from "./scan-harness.js";
import { bytesOf, headerConfigurations, recordRequests, reportedUnder, scanAllSplits } from "./scan-harness.js";

interface RequestCase {
  readonly name: string;
  readonly input: string;
  readonly expected: readonly ParsedEvent[];
  readonly limits?: HttpParseLimits;
}

const smallLimits: HttpParseLimits = { maxHeadBytes: 256, maxHeaderCount: 4 };

// A 256-byte head: request line (16) + "X-Long: " (8) + value + CRLF (2) + final CRLF (2).
const valueFillingHead = "v".repeat(256 - 16 - 8 - 2 - 2);

const cases: readonly RequestCase[] = [
  {
    name: "simple GET from curl",
    input: "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    expected: [
      {
        request: "GET /latest/meta-data/",
        version: "1.1",
        headers: [["Host", "169.254.169.254"], ["User-Agent", "curl/7.88.1"], ["Accept", "*/*"]],
      },
    ],
  },
  {
    name: "HTTP/1.0 from wget",
    input: "GET /latest/meta-data/ami-id HTTP/1.0\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\n" +
      "Accept-Encoding: identity\r\nHost: 169.254.169.254\r\nConnection: Keep-Alive\r\n\r\n",
    expected: [
      {
        request: "GET /latest/meta-data/ami-id",
        version: "1.0",
        headers: [
          ["User-Agent", "Wget/1.21.3"],
          ["Accept", "*/*"],
          ["Accept-Encoding", "identity"],
          ["Host", "169.254.169.254"],
          ["Connection", "Keep-Alive"],
        ],
      },
    ],
  },
  {
    name: "headers without a space after the colon (ec2-metadata) and extra whitespace",
    input: "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost:169.254.169.254\r\n" +
      "X-aws-ec2-metadata-token:AQAEAFAKE-token==\r\nX-Padded: \t padded value \t \r\nX-Empty:\r\n\r\n",
    expected: [
      {
        request: "GET /latest/meta-data/instance-id",
        version: "1.1",
        headers: [
          ["Host", "169.254.169.254"],
          ["X-aws-ec2-metadata-token", "AQAEAFAKE-token=="],
          ["X-Padded", "padded value"],
          ["X-Empty", ""],
        ],
      },
    ],
  },
  {
    name: "obsolete line folding appends to the previous value",
    input: "GET / HTTP/1.1\r\nX-Folded: first\r\n   second part\r\n\tthird\r\nX-Empty-Start:\r\n next\r\nHost: a\r\n\r\n",
    expected: [
      {
        request: "GET /",
        version: "1.1",
        headers: [["X-Folded", "first second part third"], ["X-Empty-Start", "next"], ["Host", "a"]],
      },
    ],
  },
  {
    name: "three pipelined requests",
    input: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nHEAD /c HTTP/1.1\r\n\r\n",
    expected: [
      { request: "GET /a", version: "1.1", headers: [["Host", "h"]] },
      { request: "GET /b", version: "1.1", headers: [["Host", "h"]] },
      { request: "HEAD /c", version: "1.1", headers: [] },
    ],
  },
  {
    name: "Content-Length body is skipped, even when it looks like a request",
    input: "POST /upload HTTP/1.1\r\nContent-Length: 30\r\n\r\nGET /inside-body HTTP/1.1\r\n\r\n\r\n" +
      "GET /next HTTP/1.1\r\n\r\n",
    expected: [
      { request: "POST /upload", version: "1.1", headers: [["Content-Length", "30"]] },
      { request: "GET /next", version: "1.1", headers: [] },
    ],
  },
  {
    name: "equal duplicate Content-Length values and a zero length",
    input: "POST /x HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 003\r\n\r\nabcPOST /y HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { request: "POST /x", version: "1.1", headers: [["Content-Length", "3"], ["content-length", "003"]] },
      { request: "POST /y", version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "chunked body with extensions and trailers",
    input: "POST /chunks HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 1\r\n\r\n" +
      "5;name=value;quoted=\"a;b\"\r\nhello\r\n" +
      "1A \r\nGET /in-chunk HTTP/1.1\r\n\r\n\r\n" +
      "0;last\r\nVary: *\r\nX-Trailer: t\r\n\r\n" +
      "GET /after-chunks HTTP/1.1\r\n\r\n",
    expected: [
      {
        request: "POST /chunks",
        version: "1.1",
        headers: [["Transfer-Encoding", "gzip, chunked"], ["Content-Length", "1"]],
      },
      { request: "GET /after-chunks", version: "1.1", headers: [] },
    ],
  },
  {
    name: "chunked body without trailers, bare LF after chunk data",
    input: "PUT /c HTTP/1.1\r\ntransfer-encoding: CHUNKED\r\n\r\n3\r\nabc\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\n",
    expected: [
      { request: "PUT /c", version: "1.1", headers: [["transfer-encoding", "CHUNKED"]] },
      { request: "GET /d", version: "1.1", headers: [] },
    ],
  },
  {
    name: "token PUT then a GET with the token (JS SDK: lower-case names, keep-alive)",
    input: "PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\n" +
      "Host: 169.254.169.254\r\nConnection: keep-alive\r\n\r\n" +
      "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nx-aws-ec2-metadata-token: FAKE\r\n" +
      "Host: 169.254.169.254\r\nConnection: keep-alive\r\n\r\n",
    expected: [
      {
        request: "PUT /latest/api/token",
        version: "1.1",
        headers: [
          ["x-aws-ec2-metadata-token-ttl-seconds", "21600"],
          ["Host", "169.254.169.254"],
          ["Connection", "keep-alive"],
        ],
      },
      {
        request: "GET /latest/meta-data/iam/security-credentials/",
        version: "1.1",
        headers: [["x-aws-ec2-metadata-token", "FAKE"], ["Host", "169.254.169.254"], ["Connection", "keep-alive"]],
      },
    ],
  },
  {
    name: "bare LF line ends and empty lines before a request",
    input: "\r\n\nGET /lf HTTP/1.1\nHost: h\n\nGET /mixed HTTP/1.1\r\nA: 1\n\r\n",
    expected: [
      { request: "GET /lf", version: "1.1", headers: [["Host", "h"]] },
      { request: "GET /mixed", version: "1.1", headers: [["A", "1"]] },
    ],
  },
  {
    name: "latin1 values, absolute-form target, runs of spaces in the request line",
    input: "GET  http://169.254.169.254/latest/user-data  HTTP/1.1\r\nX-Latin: caf\xe9 \x80\xff\r\n\r\n",
    expected: [
      { request: "GET http://169.254.169.254/latest/user-data", version: "1.1", headers: [["X-Latin", "caf\xe9 \x80\xff"]] },
    ],
  },
  {
    name: "head exactly at maxHeadBytes is accepted",
    limits: smallLimits,
    input: `GET / HTTP/1.1\r\nX-Long: ${valueFillingHead}\r\n\r\nGET /next HTTP/1.1\r\n\r\n`,
    expected: [
      { request: "GET /", version: "1.1", headers: [["X-Long", valueFillingHead]] },
      { request: "GET /next", version: "1.1", headers: [] },
    ],
  },
  {
    name: "head one byte over maxHeadBytes is dropped",
    limits: smallLimits,
    input: `GET / HTTP/1.1\r\nX-Long: ${valueFillingHead}x\r\n\r\nGET /next HTTP/1.1\r\n\r\n`,
    expected: [
      { error: "head-too-large", detail: "head exceeds 256 bytes" },
      { request: "GET /next", version: "1.1", headers: [] },
    ],
  },
  {
    name: "more headers than maxHeaderCount",
    limits: smallLimits,
    input: "GET /many HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\nGET /few HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
    expected: [
      { error: "head-too-large", detail: "more than 4 headers" },
      { request: "GET /few", version: "1.1", headers: [["A", "1"], ["B", "2"], ["C", "3"], ["D", "4"]] },
    ],
  },
  {
    name: "header name with NUL is an error, not a header",
    input: "GET /bad HTTP/1.1\r\nX-aws-ec2-metadata\0-token: SECRET\r\nHost: h\r\n\r\nGET /good HTTP/1.1\r\n\r\n",
    expected: [
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { request: "GET /good", version: "1.1", headers: [] },
    ],
  },
  {
    name: "space before the colon, missing colon, and folding before any header",
    input: "GET /1 HTTP/1.1\r\nX-aws-ec2-metadata-token : SECRET\r\n\r\n" +
      "GET /2 HTTP/1.1\r\nNoColonSECRET\r\n\r\n" +
      "GET /3 HTTP/1.1\r\n SECRET\r\n\r\n" +
      "GET /4 HTTP/1.1\r\n: SECRET\r\n\r\n" +
      "GET /5 HTTP/1.1\r\n\r\n",
    expected: [
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { error: "bad-header", detail: "continuation line before the first header" },
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { request: "GET /5", version: "1.1", headers: [] },
    ],
  },
  {
    name: "bad request lines, then resync on the next plausible line",
    input: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\n\r\n" +
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\nPOST /ok2 HTTP/1.1\r\n\r\n" +
      "GET /x HTTP/1.1 extra\r\nGET /y HTTP/2.0\r\nGET /z HTTP/1.0\r\n\r\n",
    expected: [
      { error: "bad-request-line", detail: "malformed start line" },
      { request: "GET /ok", version: "1.1", headers: [] },
      { error: "bad-request-line", detail: "malformed start line" },
      { request: "POST /ok2", version: "1.1", headers: [] },
      { error: "bad-request-line", detail: "malformed start line" },
      { request: "GET /z", version: "1.0", headers: [] },
    ],
  },
  {
    name: "conflicting Content-Length values",
    input: "POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello\r\nGET /after HTTP/1.1\r\n\r\n",
    expected: [
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { request: "GET /after", version: "1.1", headers: [] },
    ],
  },
  {
    name: "Content-Length that is not a single decimal number",
    input: "POST /1 HTTP/1.1\r\nContent-Length: 4 2\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: -1\r\n\r\n" +
      "POST /3 HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nPOST /4 HTTP/1.1\r\nContent-Length: 1000000000000000000000\r\n\r\n" +
      "POST /5 HTTP/1.1\r\nContent-Length:\r\n\r\nGET /ok HTTP/1.1\r\n\r\n",
    expected: [
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { request: "GET /ok", version: "1.1", headers: [] },
    ],
  },
  {
    name: "request Transfer-Encoding not ending in chunked",
    input: "POST /te HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\nGET /ok HTTP/1.1\r\n\r\n",
    expected: [
      { error: "bad-content-length", detail: "Transfer-Encoding does not end with chunked" },
      { request: "GET /ok", version: "1.1", headers: [] },
    ],
  },
  {
    name: "bad chunk-size line and missing CRLF after chunk data",
    input: "POST /1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2 junk\r\naa\r\n0\r\n\r\n" +
      "POST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\naaXX\r\n0\r\n\r\n" +
      "POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n" +
      "POST /4 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n" +
      "GET /ok HTTP/1.1\r\n\r\n",
    expected: [
      { request: "POST /1", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-chunk", detail: "malformed chunk-size line" },
      { request: "POST /2", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-chunk", detail: "chunk data not followed by CRLF" },
      { request: "POST /3", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-chunk", detail: "malformed chunk-size line" },
      { request: "POST /4", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-chunk", detail: "chunk size too large" },
      { request: "GET /ok", version: "1.1", headers: [] },
    ],
  },
  {
    name: "bad trailer",
    input: "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: SECRET\r\n\r\nGET /ok HTTP/1.1\r\n\r\n",
    expected: [
      { request: "POST /t", version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { error: "bad-header", detail: "trailer name is not a token followed by a colon" },
      { request: "GET /ok", version: "1.1", headers: [] },
    ],
  },
  {
    name: "partial head at the end is dropped silently",
    input: "GET /done HTTP/1.1\r\n\r\nGET /partial HTTP/1.1\r\nHost: h\r\n",
    expected: [{ request: "GET /done", version: "1.1", headers: [] }],
  },
];

describe("HttpRequestParser scan cases (whole, split at every index, byte by byte; every header, and only the pipeline's)", () => {
  for (const testCase of cases) {
    it.each(headerConfigurations)(`${testCase.name} (%s headers)`, (headers) => {
      const { whole, differing } = scanAllSplits(() => recordRequests(testCase.limits, headers), bytesOf(testCase.input));
      expect(whole).toEqual(reportedUnder(headers, "request", testCase.expected));
      expect(differing).toEqual([]);
      for (const event of whole) {
        if ("error" in event) expect(event.detail).not.toContain("SECRET");
      }
    });
  }
});
