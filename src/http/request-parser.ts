import { bodyFramingOf, BodyFraming } from "./body-framing.js";
import { Byte, httpVersionCodeAt, httpVersionTextOf, isTokenByte } from "./bytes.js";
import { decodeLatin1 } from "./latin1.js";
import type { HeaderNameSet } from "./header-name-set.js";
import { HttpMessageParser, StartLinePrefix } from "./message-parser.js";
import type { HeadLossCause, HttpHeader, HttpParseErrorReason, HttpParseLimits, HttpRequestHead, IncompleteRequestHead } from "./types.js";
import { defaultHttpParseLimits } from "./types.js";

export interface HttpRequestListener {
  /** A request head is complete (its body, if any, is skipped afterwards). */
  onRequest(head: HttpRequestHead): void;
  /** The current message was dropped. `detail` is short and never contains header values. */
  onError(reason: HttpParseErrorReason, detail: string): void;
  /**
   * A request whose line (or the beginning of it) was seen was dropped before its head was
   * complete: bytes of it are missing, the stream ended inside it, or it failed to parse after
   * its request line (`onError` has already been called then). Tells what was seen of it.
   */
  onIncompleteRequest?(head: IncompleteRequestHead, cause: HeadLossCause): void;
}

/**
 * Methods longer than this are not taken for a method: the longest registered one
 * (UPDATEREDIRECTREF) has 17 characters, and the bound keeps the resync prefix test short.
 */
export const maxMethodBytes = 32;

/** Incremental HTTP/1.x request parser for one direction of one connection. */
export class HttpRequestParser extends HttpMessageParser {
  protected readonly badStartLineReason = "bad-request-line";
  private method = "";
  private target = "";
  private httpVersion = "";

  constructor(
    private readonly listener: HttpRequestListener,
    limits: HttpParseLimits = defaultHttpParseLimits,
    /** Report only these headers (null: all); see HttpMessageParser. */
    reportedHeaders: HeaderNameSet | null = null,
  ) {
    super(limits, reportedHeaders);
  }

  /** A request line starts with a method token and a space. */
  protected startLinePrefix(byte: number, index: number): StartLinePrefix {
    if (isTokenByte(byte)) return index < maxMethodBytes ? StartLinePrefix.needMore : StartLinePrefix.impossible;
    return byte === Byte.space && index > 0 ? StartLinePrefix.plausible : StartLinePrefix.impossible;
  }

  /** `method SP+ target SP+ HTTP/d.d`; runs of spaces are tolerated. */
  protected parseStartLine(line: Uint8Array, start: number, end: number): number {
    let index = start;
    while (index < end && isTokenByte(line[index]!)) index++;
    const methodEnd = index;
    if (methodEnd === start || index === end || line[index] !== Byte.space) return -1;
    while (index < end && line[index] === Byte.space) index++;
    const targetStart = index;
    // Any byte but controls and space: targets are raw bytes (latin1), not necessarily ASCII.
    while (index < end && line[index]! > Byte.space && line[index] !== Byte.del) index++;
    const targetEnd = index;
    if (targetEnd === targetStart || index === end || line[index] !== Byte.space) return -1;
    while (index < end && line[index] === Byte.space) index++;
    if (end - index !== 8) return -1;
    const versionCode = httpVersionCodeAt(line, index, end);
    if (versionCode < 0) return -1;
    this.method = decodeLatin1(line, start, methodEnd);
    this.target = decodeLatin1(line, targetStart, targetEnd);
    this.httpVersion = httpVersionTextOf(versionCode);
    return Math.floor(versionCode / 10);
  }

  protected completeHead(headers: readonly HttpHeader[]): void {
    const framing = bodyFramingOf(headers, true);
    if (framing === BodyFraming.badContentLength) {
      this.fail("bad-content-length", "Content-Length is not one decimal number", true);
      return;
    }
    if (framing === BodyFraming.badTransferEncoding) {
      this.fail("bad-content-length", "Transfer-Encoding does not end with chunked", true);
      return;
    }
    const head: HttpRequestHead = { method: this.method, target: this.target, httpVersion: this.httpVersion, headers };
    this.beginBody(framing);
    this.listener.onRequest(head);
  }

  protected override headLost(cause: HeadLossCause, startLine: Uint8Array | null, headers: readonly HttpHeader[]): void {
    const listener = this.listener;
    if (listener.onIncompleteRequest === undefined) return;
    if (startLine === null) {
      listener.onIncompleteRequest({ method: this.method, target: this.target, targetComplete: true, httpVersion: this.httpVersion, headers }, cause);
      return;
    }
    const seen = parsePartialRequestLine(startLine);
    if (seen !== null) listener.onIncompleteRequest(seen, cause);
  }

  protected reportError(reason: HttpParseErrorReason, detail: string): void {
    this.listener.onError(reason, detail);
  }
}

/**
 * What a request line cut short says: its method (upper-case letters followed by a space, as
 * every IMDS client sends; anything else is not taken for a request) and as much of the target
 * and version as arrived. Null when the bytes do not look like the start of a request line.
 */
export function parsePartialRequestLine(line: Uint8Array): IncompleteRequestHead | null {
  let end = line.length;
  if (end > 0 && line[end - 1] === Byte.cr) end--;
  let index = 0;
  while (index < end && index < maxMethodBytes && isUpperCaseLetter(line[index]!)) index++;
  const methodEnd = index;
  if (methodEnd === 0 || index === end || line[index] !== Byte.space) return null;
  while (index < end && line[index] === Byte.space) index++;
  const targetStart = index;
  while (index < end && line[index]! > Byte.space && line[index] !== Byte.del) index++;
  const targetEnd = index;
  if (index < end && line[index] !== Byte.space) return null;
  const target = decodeLatin1(line, targetStart, targetEnd);
  if (target.length > 0 && !target.startsWith("/") && !/^https?:\/\//i.test(target) && !"http://".startsWith(target.toLowerCase())) {
    return null;
  }
  const targetComplete = index < end;
  while (index < end && line[index] === Byte.space) index++;
  const versionCode = end - index === 8 ? httpVersionCodeAt(line, index, end) : -1;
  return {
    method: decodeLatin1(line, 0, methodEnd),
    target,
    targetComplete,
    httpVersion: versionCode < 0 ? null : httpVersionTextOf(versionCode),
    headers: [],
  };
}

function isUpperCaseLetter(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a;
}
