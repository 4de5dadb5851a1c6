/**
 * fast-check generators for HTTP/1.x byte streams: messages built from fuzzed tokens (methods,
 * targets holding the token header name, versions, header names in odd cases and places, values
 * with NUL bytes and secrets, bare LF, obsolete folding, huge and contradictory lengths, chunked
 * bodies with extensions and trailers), pipelined, with garbage between them. `validRequest`
 * builds only well-formed requests and says what the parser must report for each.
 */
import fc from "fast-check";

/** Latin-1 text to bytes, one byte per character. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0) & 0xff);
}

/** Marks header values that must never appear in an error detail. */
export const secretMarker = "SECRETVALUE";

const tokenHeaderNames = [
  "X-aws-ec2-metadata-token",
  "x-aws-ec2-metadata-token",
  "X-AWS-EC2-METADATA-TOKEN",
  "x-AwS-eC2-MeTaDaTa-ToKeN",
  "X-aws-ec2-metadata-token-ttl-seconds",
  "x-aws-ec2-metadata-token-ttl-SECONDS",
  "X-aws-ec2-metadata-token-foo",
  "X-aws-ec2-metadata",
] as const;

const otherHeaderNames = ["Host", "User-Agent", "Accept", "X-Forwarded-For", "Connection", "Content-Type", "!#$%&'*+-.^_`|~"] as const;

const lineEnd = fc.constantFrom("\r\n", "\r\n", "\n");

/** A header value without CR or LF (any other byte, NUL included). */
const fieldValueText = fc.oneof(
  fc.constantFrom("", "AQAAAExample==", " 21600 ", "21600", "0", "close", "keep-alive", "curl/7.88.1", "aws-sdk-go/1.44.0", "a\u0000b", "X-aws-ec2-metadata-token: v"),
  fc.string({ maxLength: 20 }).map((text) => text.replace(/[\r\n]/g, "")),
  fc.nat().map((n) => `${secretMarker}${n}`),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => String.fromCharCode(...bytes.filter((byte) => byte !== 0x0a && byte !== 0x0d))),
);

const headerName = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...tokenHeaderNames) },
  { weight: 8, arbitrary: fc.constantFrom(...otherHeaderNames) },
  // Invalid names: empty, space inside or before the colon, control bytes, non-token bytes.
  { weight: 1, arbitrary: fc.constantFrom("", "X aws", "X-aws-ec2-metadata-token ", "\u0000", "Na\u00e9me", "(x)", " folded") },
);

const framingHeader = fc.oneof(
  fc.nat({ max: 40 }).map((length) => `Content-Length: ${length}`),
  fc.constantFrom(
    "Content-Length: 99999999999999999999",
    "Content-Length: -1",
    "Content-Length: 5, 5",
    "Content-Length: 0x10",
    "content-length:3",
    "Transfer-Encoding: chunked",
    "transfer-encoding: gzip, chunked",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: chunked, gzip",
  ),
);

const anyHeaderLine = fc.oneof(
  { weight: 24, arbitrary: fc.tuple(headerName, fc.oneof({ weight: 20, arbitrary: fc.constantFrom(": ", ":", ":\t", ": \t ") }, { weight: 1, arbitrary: fc.constant(" : ") }), fieldValueText).map(([name, separator, value]) => `${name}${separator}${value}`) },
  { weight: 2, arbitrary: framingHeader },
  // Obsolete line folding: a continuation of the previous header (or of nothing).
  { weight: 1, arbitrary: fieldValueText.map((value) => ` ${value}`) },
  { weight: 1, arbitrary: fieldValueText.map((value) => `\t${value}`) },
);

const methodText = fc.oneof(
  { weight: 15, arbitrary: fc.constantFrom("GET", "PUT", "HEAD", "POST", "OPTIONS", "CONNECT", "get", "X-aws-ec2-metadata-token") },
  { weight: 1, arbitrary: fc.constantFrom("", "G\u0000T", "GET\t", "A".repeat(33), "UPDATEREDIRECTREF") },
);

const targetText = fc.oneof(
  { weight: 15, arbitrary: fc.constantFrom(
    "/latest/meta-data/",
    "/latest/api/token",
    "/latest/meta-data/iam/security-credentials/role",
    "/?X-aws-ec2-metadata-token=abc",
    "/X-aws-ec2-metadata-token:%20x",
    "http://169.254.169.254/latest/user-data",
    "*",
    "/\u00ff\u0080",
  ) },
  { weight: 1, arbitrary: fc.constantFrom("", "/a b", "/\u0000", "/\u007f") },
);

const versionText = fc.oneof(
  { weight: 15, arbitrary: fc.constantFrom("HTTP/1.1", "HTTP/1.0") },
  { weight: 1, arbitrary: fc.constantFrom("HTTP/2.0", "HTTP/0.9", "HTTP/1.x", "http/1.1", "HTTP/1.1 ", "HTTP/11") },
);

/** A chunked body: chunks with optional extensions, the last chunk, optional trailers. */
const chunkedBody = fc
  .tuple(
    fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.constantFrom("", ";ext=1", " ;x", "; a=\"b\"")), { maxLength: 4 }),
    fc.array(fc.constantFrom("Trailer-A: 1", "X-aws-ec2-metadata-token: t", "bad trailer"), { maxLength: 2 }),
    lineEnd,
    fc.constantFrom("0", "000", "0;last"),
  )
  .map(([chunks, trailers, end, last]) =>
    chunks.map(([data, extension]) => `${data.length.toString(16)}${extension}${end}${String.fromCharCode(...data)}${end}`).join("") +
    `${last}${end}` + trailers.map((trailer) => `${trailer}${end}`).join("") + end,
  );

/** A framing header and a body: matching (length, chunked), none, or anything. */
const framedBody: fc.Arbitrary<{ readonly header: string | null; readonly body: string }> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ header: null, body: "" }) },
  {
    weight: 2,
    arbitrary: fc.uint8Array({ maxLength: 30 }).map((bytes) => ({ header: `Content-Length: ${bytes.length}`, body: String.fromCharCode(...bytes) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom("Transfer-Encoding: chunked", "transfer-encoding: gzip, chunked"), chunkedBody)
      .map(([header, body]) => ({ header, body })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.option(framingHeader, { nil: null }), fc.oneof(chunkedBody, fc.uint8Array({ maxLength: 30 }).map((bytes) => String.fromCharCode(...bytes))))
      .map(([header, body]) => ({ header, body })),
  },
);

/** Header lines with the framing header (if any) at a chosen place among them. */
function headerBlock(headers: readonly (readonly [string, string])[], framing: string | null, at: number, end: string): string {
  const lines = headers.map(([line, lineEnding]) => `${line}${lineEnding}`);
  if (framing !== null) lines.splice(at % (lines.length + 1), 0, `${framing}${end}`);
  return lines.join("");
}

/** Any request-like message: mostly plausible, sometimes broken in one place. */
export const anyRequestText = fc
  .tuple(
    methodText,
    fc.constantFrom(" ", " ", " ", "  ", "\t"),
    targetText,
    fc.constantFrom(" ", " ", "  "),
    versionText,
    fc.array(fc.tuple(anyHeaderLine, lineEnd), { maxLength: 8 }),
    lineEnd,
    framedBody,
    fc.nat(),
  )
  .map(
    ([method, space1, target, space2, version, headers, end, framed, at]) =>
      `${method}${space1}${target}${space2}${version}${end}${headerBlock(headers, framed.header, at, end)}${end}${framed.body}`,
  );

/** Bytes that are no message at all: NULs, bare CR/LF runs, binary, TLS-like records. */
export const garbageText = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((bytes) => String.fromCharCode(...bytes)),
  fc.constantFrom("\r\n\r\n", "\n", "\u0000\u0000\u0000", "\u0016\u0003\u0001\u0000\u00a5", "HTTP/1.1 200 OK\r\n", "GET", " / HTTP/1.1\r\n"),
);

/** A stream of requests (pipelined) with garbage between some of them. */
export const requestStreamText = fc
  .array(fc.oneof({ weight: 4, arbitrary: anyRequestText }, { weight: 1, arbitrary: garbageText }), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join(""));

const statusText = fc.oneof(
  { weight: 15, arbitrary: fc.constantFrom("200 OK", "401 Unauthorized", "403 Forbidden", "404 Not Found", "204 No Content", "304 Not Modified", "100 Continue", "103 Early Hints", "101 Switching Protocols", "200", "500 ") },
  { weight: 1, arbitrary: fc.constantFrom("099 x", "20 OK", "2000 OK", "abc", "", "200\tOK") },
);

/** Any response-like message. */
export const anyResponseText = fc
  .tuple(
    versionText,
    fc.constantFrom(" ", " ", "  "),
    statusText,
    fc.array(fc.tuple(anyHeaderLine, lineEnd), { maxLength: 6 }),
    lineEnd,
    framedBody,
    fc.nat(),
  )
  .map(
    ([version, space, status, headers, end, framed, at]) =>
      `${version}${space}${status}${end}${headerBlock(headers, framed.header, at, end)}${end}${framed.body}`,
  );

export const responseStreamText = fc
  .array(fc.oneof({ weight: 4, arbitrary: anyResponseText }, { weight: 1, arbitrary: garbageText }), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.join(""));

export interface ValidRequest {
  readonly text: string;
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
  readonly headers: readonly (readonly [string, string])[];
  /** What the IMDS classifier must call it. */
  readonly kind: "v1" | "v2" | "token-request";
}

const validValue = fc.oneof(
  fc.constantFrom("", "AQAAAExample==", "21600", "curl/7.88.1", "a\u0000b", "\u00e9t\u00e9"),
  fc.string({ maxLength: 16 }).map((text) => text.replace(/[\r\n]/g, "").trim()),
);

/** A well-formed request whose parse result and classification are known. */
export const validRequest: fc.Arbitrary<ValidRequest> = fc
  .tuple(
    fc.constantFrom("GET", "PUT", "POST", "DELETE", "get"),
    fc.constantFrom("/latest/meta-data/", "/latest/api/token", "/?X-aws-ec2-metadata-token=1", "http://169.254.169.254/latest/api/token"),
    fc.constantFrom("1.1", "1.0"),
    fc.array(fc.tuple(fc.constantFrom(...tokenHeaderNames, ...otherHeaderNames), validValue, fc.constantFrom(": ", ":", ":\t")), { maxLength: 6 }),
    fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
    lineEnd,
  )
  .map(([method, target, version, headers, body, end]) => {
    const lines = headers.map(([name, value, separator]) => `${name}${separator}${value}${end}`);
    const bodyText = body === undefined ? "" : String.fromCharCode(...body);
    if (body !== undefined) lines.push(`Content-Length: ${body.length}${end}`);
    const text = `${method} ${target} HTTP/${version}${end}${lines.join("")}${end}${bodyText}`;
    const parsedHeaders: [string, string][] = headers.map(([name, value]) => [name, value]);
    if (body !== undefined) parsedHeaders.push(["Content-Length", String(body.length)]);
    const path = target.startsWith("http://") ? target.slice(target.indexOf("/", 7)) : target;
    const hasToken = headers.some(([name, value]) => name.toLowerCase() === "x-aws-ec2-metadata-token" && value.length > 0);
    const kind = method === "PUT" && path === "/latest/api/token" ? "token-request" : hasToken ? "v2" : "v1";
    return { text, method, target, httpVersion: version, headers: parsedHeaders, kind };
  });

export interface ValidResponse {
  readonly text: string;
  readonly status: number;
  /** The body as the application sees it (chunked framing removed), latin1. */
  readonly body: string;
}

/** A well-formed final response to a GET, its body framed by Content-Length or chunked. */
export const validResponse: fc.Arbitrary<ValidResponse> = fc
  .tuple(
    fc.constantFrom(200, 401, 403, 404),
    fc.array(fc.uint8Array({ minLength: 1, maxLength: 25 }), { maxLength: 4 }),
    fc.boolean(),
    lineEnd,
    fc.array(fc.constantFrom("Server: EC2ws", "Content-Type: text/plain", "Connection: keep-alive"), { maxLength: 3 }),
  )
  .map(([status, pieces, chunked, end, headers]) => {
    const body = pieces.map((piece) => String.fromCharCode(...piece)).join("");
    const head = `HTTP/1.1 ${status} X${end}${headers.map((header) => `${header}${end}`).join("")}`;
    const text = chunked
      ? `${head}Transfer-Encoding: chunked${end}${end}${pieces.map((piece) => `${piece.length.toString(16)}${end}${String.fromCharCode(...piece)}${end}`).join("")}0${end}${end}`
      : `${head}Content-Length: ${body.length}${end}${end}${body}`;
    return { text, status, body };
  });
