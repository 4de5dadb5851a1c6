import { describe, expect, it } from "vitest";
import type { ParsedEvent } from "./scan-harness.js";
import { bytesOf, headerConfigurations, pushCopy, recordResponses, reportedUnder, scanAllSplits } from "./scan-harness.js";

interface ResponseCase {
  readonly name: string;
  /** Methods of the requests sent before the responses, in order. */
  readonly requests: readonly string[];
  readonly input: string;
  readonly expected: readonly ParsedEvent[];
}

const fakeToken = "AQAEAFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFA==";

const cases: readonly ResponseCase[] = [
  {
    name: "IMDS token response: 200 with Content-Length (body looks like a status line)",
    requests: ["PUT", "GET"],
    input: "HTTP/1.1 200 OK\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\nContent-Type: text/plain\r\n" +
      `Server: EC2ws\r\nContent-Length: ${fakeToken.length}\r\n\r\n${fakeToken}` +
      "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\nHTTP/1.1 500 Oops\r\n",
    expected: [
      {
        response: 200,
        version: "1.1",
        headers: [
          ["X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600"],
          ["Content-Type", "text/plain"],
          ["Server", "EC2ws"],
          ["Content-Length", String(fakeToken.length)],
        ],
      },
      { response: 200, version: "1.1", headers: [["Content-Length", "19"]] },
    ],
  },
  {
    name: "401 to a token-less GET",
    requests: ["GET"],
    input: "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nServer: EC2ws\r\n\r\n",
    expected: [{ response: 401, version: "1.1", headers: [["Content-Length", "0"], ["Server", "EC2ws"]] }],
  },
  {
    name: "204 and 304 have no body even with Content-Length",
    requests: ["GET", "GET", "GET"],
    input: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    expected: [
      { response: 204, version: "1.1", headers: [["Content-Length", "10"]] },
      { response: 304, version: "1.1", headers: [["Content-Length", "99"]] },
      { response: 200, version: "1.1", headers: [["Content-Length", "2"]] },
    ],
  },
  {
    name: "response to HEAD has no body, the next one does",
    requests: ["HEAD", "GET"],
    input: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    expected: [
      { response: 200, version: "1.1", headers: [["Content-Length", "1234"]] },
      { response: 200, version: "1.1", headers: [["Content-Length", "5"]] },
    ],
  },
  {
    name: "chunked response",
    requests: ["GET", "GET"],
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nExpires: never\r\n\r\n" +
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { response: 200, version: "1.1", headers: [["Transfer-Encoding", "chunked"]] },
      { response: 404, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "100 Continue is skipped and does not use up a request",
    requests: ["PUT", "GET"],
    input: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
      "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { response: 201, version: "1.1", headers: [["Content-Length", "0"]] },
      { response: 200, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "no length: the body runs until the connection closes",
    requests: ["GET", "GET"],
    input: "HTTP/1.0 200 OK\r\nServer: EC2ws\r\n\r\nbody\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    expected: [{ response: 200, version: "1.0", headers: [["Server", "EC2ws"]] }],
  },
  {
    name: "Transfer-Encoding not ending in chunked: body until close",
    requests: ["GET"],
    input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n\r\n",
    expected: [{ response: 200, version: "1.1", headers: [["Transfer-Encoding", "gzip"], ["Content-Length", "3"]] }],
  },
  {
    name: "Connection: close with Content-Length",
    requests: ["GET"],
    input: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    expected: [{ response: 200, version: "1.1", headers: [["Connection", "close"], ["Content-Length", "3"]] }],
  },
  {
    name: "101 Switching Protocols stops parsing",
    requests: ["GET", "GET"],
    input: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello\r\nHTTP/1.1 200 OK\r\n\r\n",
    expected: [{ response: 101, version: "1.1", headers: [["Upgrade", "websocket"]] }],
  },
  {
    name: "more responses than requests are still reported",
    requests: [],
    input: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc",
    expected: [
      { response: 403, version: "1.1", headers: [["Content-Length", "0"]] },
      { response: 404, version: "1.1", headers: [["Content-Length", "3"]] },
    ],
  },
  {
    name: "status line without reason phrase, lower reason, bare LF",
    requests: ["GET", "GET"],
    input: "HTTP/1.1 200\nContent-Length: 0\n\nHTTP/1.1 405 \r\nContent-Length: 0\r\n\r\n",
    expected: [
      { response: 200, version: "1.1", headers: [["Content-Length", "0"]] },
      { response: 405, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "bad status lines, then resync on the next HTTP/1.x status line",
    requests: ["GET", "GET", "GET"],
    input: "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" +
      "<html>\r\nHTTP/2.0 200 OK\r\n\r\nHTTP/1.1 2000\r\nHTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { error: "bad-status-line", detail: "malformed start line" },
      { response: 200, version: "1.1", headers: [["Content-Length", "0"]] },
      { error: "bad-status-line", detail: "malformed start line" },
      { response: 500, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "conflicting Content-Length in a response",
    requests: ["GET", "GET"],
    input: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { error: "bad-content-length", detail: "Content-Length is not one decimal number" },
      { response: 200, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
  {
    name: "bad header name in a response",
    requests: ["GET", "GET"],
    input: "HTTP/1.1 200 OK\r\nX-Bad\x01Name: SECRET\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    expected: [
      { error: "bad-header", detail: "header name is not a token followed by a colon" },
      { response: 200, version: "1.1", headers: [["Content-Length", "0"]] },
    ],
  },
];

describe("HttpResponseParser scan cases (whole, split at every index, byte by byte; every header, and only the pipeline's)", () => {
  for (const testCase of cases) {
    it.each(headerConfigurations)(`${testCase.name} (%s headers)`, (headers) => {
      const { whole, differing } = scanAllSplits(() => recordResponses(testCase.requests, undefined, headers), bytesOf(testCase.input));
      expect(whole).toEqual(reportedUnder(headers, "response", testCase.expected));
      expect(differing).toEqual([]);
      for (const event of whole) {
        if ("error" in event) expect(event.detail).not.toContain("SECRET");
      }
    });
  }
});

describe("HttpResponseParser pairing with requests", () => {
  it("consumes one expected request per final response, none for 1xx", () => {
    const { parser } = recordResponses(["PUT", "GET", "GET"]);
    pushCopy(parser, bytesOf("HTTP/1.1 100 Continue\r\n\r\n"));
    expect(parser.pendingRequestCount).toBe(3);
    pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    expect(parser.pendingRequestCount).toBe(2);
  });

  it("a 2xx to CONNECT opens a tunnel: the rest is not parsed", () => {
    const { parser, events } = recordResponses(["CONNECT"]);
    pushCopy(parser, bytesOf("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n"));
    expect(events).toEqual([{ response: 200, version: "1.1", headers: [] }]);
  });

  it("bounds the queue of expected requests", () => {
    const { parser } = recordResponses([]);
    for (let index = 0; index < 5000; index++) parser.expectResponseTo("GET");
    expect(parser.pendingRequestCount).toBe(1024);
  });

  it("a gap in a body until close is absorbed; after end nothing is parsed", () => {
    const { parser, events } = recordResponses(["GET"]);
    pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\n\r\npartial body"));
    expect(parser.gap(null)).toBe(true);
    parser.end();
    pushCopy(parser, bytesOf("HTTP/1.1 200 OK\r\n\r\n"));
    expect(events).toEqual([{ response: 200, version: "1.1", headers: [] }]);
  });
});
