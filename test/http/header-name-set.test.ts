import { describe, expect, it } from "vitest";
import { HeaderNameSet } from "../../src/http/header-name-set.js";
import { HttpRequestParser } from "../../src/http/request-parser.js";
import { HttpResponseParser } from "../../src/http/response-parser.js";
import type { HttpHeader, HttpParseErrorReason } from "../../src/http/types.js";
import { bytesOf } from "./scan-harness.js";

const names = new HeaderNameSet(["user-agent", "x-aws-ec2-metadata-token", "content-length"]);

function has(text: string): boolean {
  const bytes = bytesOf(`..${text}..`);
  return names.has(bytes, 2, 2 + text.length);
}

describe("HeaderNameSet", () => {
  it("matches its names in any letter case, and nothing else", () => {
    expect(["user-agent", "User-Agent", "USER-AGENT", "X-aws-ec2-metadata-token", "Content-Length"].map(has)).toEqual([true, true, true, true, true]);
    expect([
      "user-agen", "user-agentx", "x-aws-ec2-metadata-token-ttl-seconds", "x-aws-ec2-metadata-toke~", "user_agent",
      // Only A-Z fold: bytes that differ by 0x20 elsewhere ("^" and "~", "@" and "`") must not match.
      "user~agent", "", "host",
    ].map(has)).toEqual([false, false, false, false, false, false, false, false]);
  });
});

describe("parsers reporting only some headers", () => {
  function requestHeaders(text: string, maxHeaderCount = 100): { headers: HttpHeader[][]; errors: HttpParseErrorReason[] } {
    const headers: HttpHeader[][] = [];
    const errors: HttpParseErrorReason[] = [];
    const parser = new HttpRequestParser(
      { onRequest: (head) => { headers.push([...head.headers]); }, onError: (reason) => { errors.push(reason); } },
      { maxHeadBytes: 64 * 1024, maxHeaderCount },
      names,
    );
    parser.push(bytesOf(text));
    return { headers, errors };
  }

  it("reports the named headers with their values, in order, and skips the rest", () => {
    const result = requestHeaders(
      "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n" +
        "X-aws-ec2-metadata-token: AQAE\r\nX-aws-ec2-metadata-token-foo: x\r\n\r\n",
    );
    expect(result).toEqual({
      headers: [[{ name: "User-Agent", value: "curl/8.0" }, { name: "X-aws-ec2-metadata-token", value: "AQAE" }]],
      errors: [],
    });
  });

  it("applies a continuation line to a reported header only", () => {
    const result = requestHeaders("GET / HTTP/1.1\r\nAccept: a\r\n b\r\nUser-Agent: one\r\n two\r\n\r\n");
    expect(result.headers).toEqual([[{ name: "User-Agent", value: "one two" }]]);
  });

  it("counts skipped headers against maxHeaderCount, and still rejects malformed ones", () => {
    expect(requestHeaders("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 2)).toEqual({ headers: [], errors: ["head-too-large"] });
    expect(requestHeaders("GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n")).toEqual({ headers: [], errors: ["bad-header"] });
    expect(requestHeaders("GET / HTTP/1.1\r\n continued\r\n\r\n")).toEqual({ headers: [], errors: ["bad-header"] });
  });

  it("frames response bodies by Content-Length when only the framing headers are reported", () => {
    const statuses: number[] = [];
    const parser = new HttpResponseParser(
      { onResponse: (head) => { statuses.push(head.statusCode); }, onError: () => undefined },
      undefined,
      new HeaderNameSet(["content-length", "transfer-encoding"]),
    );
    parser.push(bytesOf("HTTP/1.1 200 OK\r\nServer: EC2ws\r\nContent-Length: 12\r\n\r\nHTTP/1.1 404HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"));
    expect(statuses).toEqual([200, 401]);
  });
});
