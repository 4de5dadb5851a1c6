import { describe, expect, it } from "vitest";
import type { HttpHeader, HttpRequestHead } from "../../src/http/types.js";
import { classifyImdsRequest, requestPath } from "../../src/imds/classify.js";

function head(method: string, target: string, headers: [string, string][] = []): HttpRequestHead {
  return {
    method,
    target,
    httpVersion: "1.1",
    headers: headers.map(([name, value]): HttpHeader => ({ name, value })),
  };
}

describe("classifyImdsRequest", () => {
  const cases: [string, HttpRequestHead, string][] = [
    ["plain GET is v1", head("GET", "/latest/meta-data/"), "v1"],
    ["token header makes v2", head("GET", "/latest/meta-data/", [["X-aws-ec2-metadata-token", "AQAEAabc=="]]), "v2"],
    ["header name is case-insensitive", head("GET", "/latest/meta-data/", [["x-AWS-EC2-METADATA-TOKEN", "t"]]), "v2"],
    ["empty token value is v1", head("GET", "/latest/meta-data/", [["X-aws-ec2-metadata-token", ""]]), "v1"],
    ["token PUT", head("PUT", "/latest/api/token", [["X-aws-ec2-metadata-token-ttl-seconds", "21600"]]), "token-request"],
    ["token PUT without TTL is still a token request", head("PUT", "/latest/api/token"), "token-request"],
    ["GET of the token path is v1", head("GET", "/latest/api/token"), "v1"],
    ["absolute-form token PUT", head("PUT", "http://169.254.169.254/latest/api/token"), "token-request"],
    ["token header name in the URL is v1", head("GET", "/latest/meta-data/?x-aws-ec2-metadata-token=abc"), "v1"],
    ["longer header name is not the token header", head("GET", "/", [["X-aws-ec2-metadata-token-foo", "abc"]]), "v1"],
    ["TTL header alone is not a token", head("GET", "/", [["X-aws-ec2-metadata-token-ttl-seconds", "60"]]), "v1"],
    ["token name inside another header value is v1", head("GET", "/", [["Referer", "x-aws-ec2-metadata-token: abc"]]), "v1"],
    ["v2 with the TTL header too", head("GET", "/", [["X-aws-ec2-metadata-token", "t"], ["X-aws-ec2-metadata-token-ttl-seconds", "5"]]), "v2"],
  ];
  it.each(cases)("%s", (_name, request, kind) => {
    expect(classifyImdsRequest(request).kind).toBe(kind);
  });

  it("takes the first User-Agent and notes X-Forwarded-For", () => {
    const result = classifyImdsRequest(
      head("PUT", "/latest/api/token", [
        ["user-agent", "aws-cli/1.45.11"],
        ["User-Agent", "second"],
        ["X-Forwarded-For", "10.0.0.1"],
        ["X-aws-ec2-metadata-token-ttl-seconds", "21600"],
      ]),
    );
    expect(result).toEqual({ kind: "token-request", userAgent: "aws-cli/1.45.11", tokenTtlSeconds: 21600, forwardedFor: true });
  });

  it("reports no TTL for a malformed TTL and none for non-token requests", () => {
    expect(classifyImdsRequest(head("PUT", "/latest/api/token", [["X-aws-ec2-metadata-token-ttl-seconds", "-5"]])).tokenTtlSeconds).toBeNull();
    expect(classifyImdsRequest(head("GET", "/", [["X-aws-ec2-metadata-token-ttl-seconds", "5"]])).tokenTtlSeconds).toBeNull();
    expect(classifyImdsRequest(head("GET", "/")).userAgent).toBeNull();
  });
});

describe("requestPath", () => {
  it.each([
    ["/latest/meta-data/", "/latest/meta-data/"],
    ["http://169.254.169.254/latest/user-data", "/latest/user-data"],
    ["http://[fd00:ec2::254]", "/"],
    ["*", "*"],
  ])("%s -> %s", (target, path) => {
    expect(requestPath(target)).toBe(path);
  });
});
