import { bodyFramingOf, BodyFraming } from "./body-framing.js";
import { Byte, httpVersionCodeAt, httpVersionTextOf, isTokenByte } from "./bytes.js";
import { decodeLatin1 } from "./latin1.js";
import type { HeaderNameSet } from "./header-name-set.js";
import { HttpMessageParser, StartLinePrefix } from "./message-parser.js";
import type { HttpHeader, HttpParseErrorReason, HttpParseLimits, HttpRequestHead } from "./types.js";
import { defaultHttpParseLimits } from "./types.js";

export interface HttpRequestListener {
  /** A request head is complete (its body, if any, is skipped afterwards). */
  onRequest(head: HttpRequestHead): void;
  /** The current message was dropped. `detail` is short and never contains header values. */
  onError(reason: HttpParseErrorReason, detail: string): void;
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

  protected reportError(reason: HttpParseErrorReason, detail: string): void {
    this.listener.onError(reason, detail);
  }
}
