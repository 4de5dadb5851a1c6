/**
 * A request dropped before its head completed is still reported, with what was seen of it
 * (onIncompleteRequest): a request line cut by the snaplen, headers lost in a gap, a stream that
 * ends inside a head, a head that fails to parse after its request line. Whole requests never are.
 */
import { describe, expect, it } from "vitest";
import { HttpRequestParser, parsePartialRequestLine } from "../../src/http/request-parser.js";
import type { HeadLossCause, IncompleteRequestHead } from "../../src/http/types.js";
import { defaultHttpParseLimits } from "../../src/http/types.js";

type Record = { readonly cause: HeadLossCause } & Omit<IncompleteRequestHead, "headers"> & { readonly headers: [string, string][] };

function recorder(): { parser: HttpRequestParser; incomplete: Record[]; complete: string[]; errors: string[] } {
  const incomplete: Record[] = [];
  const complete: string[] = [];
  const errors: string[] = [];
  const parser = new HttpRequestParser({
    onRequest: (head) => { complete.push(`${head.method} ${head.target}`); },
    onError: (reason) => { errors.push(reason); },
    onIncompleteRequest: (head, cause) => {
      incomplete.push({ ...head, cause, headers: head.headers.map((header) => [header.name, header.value]) });
    },
  });
  return { parser, incomplete, complete, errors };
}

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "latin1"));

describe("requests seen in part", () => {
  it("a gap inside the headers: the request line and the whole header lines before it", () => {
    const { parser, incomplete, complete } = recorder();
    parser.push(bytes("GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.0\r\nX-aws-ec2-meta"));
    expect(parser.gap(40)).toBe(false);
    expect(complete).toEqual([]);
    expect(incomplete).toEqual([{
      cause: "gap",
      method: "GET",
      target: "/latest/meta-data/",
      targetComplete: true,
      httpVersion: "1.1",
      headers: [["Host", "169.254.169.254"], ["User-Agent", "curl/8.0"]],
    }]);
  });

  it.each([
    ["PUT /latest/api/token HTTP/1.1", { method: "PUT", target: "/latest/api/token", targetComplete: true, httpVersion: "1.1" }],
    ["PUT /latest/api/token HTTP/1.1\r", { method: "PUT", target: "/latest/api/token", targetComplete: true, httpVersion: "1.1" }],
    ["PUT /latest/api/token HTTP/1", { method: "PUT", target: "/latest/api/token", targetComplete: true, httpVersion: null }],
    ["PUT /latest/api/token ", { method: "PUT", target: "/latest/api/token", targetComplete: true, httpVersion: null }],
    ["PUT /latest/api/token", { method: "PUT", target: "/latest/api/token", targetComplete: false, httpVersion: null }],
    ["GET /latest/meta-data/instance", { method: "GET", target: "/latest/meta-data/instance", targetComplete: false, httpVersion: null }],
    ["GET http://169.254.169.254/lat", { method: "GET", target: "http://169.254.169.254/lat", targetComplete: false, httpVersion: null }],
    ["GET ", { method: "GET", target: "", targetComplete: false, httpVersion: null }],
  ])("a request line cut after %j", (line, seen) => {
    const { parser, incomplete } = recorder();
    parser.push(bytes(line));
    parser.gap(500);
    expect(incomplete).toEqual([{ cause: "gap", ...seen, headers: [] }]);
  });

  it.each(["GET", "G", "get /lower-case-method", "GET\t/x", "XYZ junk-not-a-target"])("%j is not taken for the start of a request", (line) => {
    expect(parsePartialRequestLine(bytes(line))).toBeNull();
    const { parser, incomplete } = recorder();
    parser.push(bytes(line));
    parser.gap(10);
    expect(incomplete).toEqual([]);
  });

  it("a second request cut on the same keep-alive connection is reported too (after resynchronising)", () => {
    const { parser, incomplete } = recorder();
    parser.push(bytes("GET /latest/meta-data/ami-id H"));
    parser.gap(60);
    parser.push(bytes("GET /latest/meta-data/hostname"));
    parser.gap(60);
    parser.push(bytes("GET /latest/meta-data/region HTTP/1.1\r\n\r\n"));
    expect(incomplete.map((seen) => seen.target)).toEqual(["/latest/meta-data/ami-id", "/latest/meta-data/hostname"]);
  });

  it("body bytes after a gap are not taken for a request", () => {
    const { parser, incomplete } = recorder();
    parser.push(bytes("POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabc"));
    parser.gap(null);
    parser.push(bytes("xyz GET /in-body"));
    parser.gap(10);
    expect(incomplete).toEqual([]);
  });

  it("the stream ends inside a head", () => {
    const { parser, incomplete } = recorder();
    parser.push(bytes("GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: a\r\n"));
    parser.end();
    parser.end();
    expect(incomplete).toEqual([
      { cause: "end", method: "GET", target: "/latest/meta-data/", targetComplete: true, httpVersion: "1.1", headers: [["User-Agent", "a"]] },
    ]);
  });

  it("a head that fails after its request line: the error first, then what was seen, by reason", () => {
    const { parser, incomplete, errors } = recorder();
    parser.push(bytes("GET /a HTTP/1.1\r\nUser-Agent: a\r\nBad Header: x\r\n\r\n"));
    const tooMany = Array.from({ length: defaultHttpParseLimits.maxHeaderCount + 1 }, (_, index) => `X-${index}: v\r\n`).join("");
    parser.push(bytes(`GET /b HTTP/1.1\r\n${tooMany}\r\n`));
    parser.push(bytes("GET /c HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n"));
    expect(errors).toEqual(["bad-header", "head-too-large", "bad-content-length"]);
    expect(incomplete.map((seen) => [seen.cause, seen.target, seen.headers.length])).toEqual([
      ["bad-header", "/a", 1],
      ["head-too-large", "/b", defaultHttpParseLimits.maxHeaderCount],
      ["bad-content-length", "/c", 1],
    ]);
  });

  it("a malformed request line is no request: counted as an error only", () => {
    const { parser, incomplete, errors } = recorder();
    parser.push(bytes("GET /a HTTP/9\r\n\r\n"));
    expect(errors).toEqual(["bad-request-line"]);
    expect(incomplete).toEqual([]);
  });

  it("whole requests, split anywhere, on a connection that then closes, are never reported in part", () => {
    const text = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\nGET /latest/meta-data/ HTTP/1.1\r\nX-aws-ec2-metadata-token: t\r\n\r\n";
    const all = bytes(text);
    for (let split = 0; split <= all.length; split++) {
      const { parser, incomplete, complete } = recorder();
      parser.push(all.slice(0, split));
      parser.push(all.slice(split));
      parser.end();
      expect(incomplete).toEqual([]);
      expect(complete).toEqual(["PUT /latest/api/token", "GET /latest/meta-data/"]);
    }
  });
});
