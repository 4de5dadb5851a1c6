import { bodyFramingOf, BodyFraming } from "./body-framing.js";
import { Byte, httpVersionCodeAt, httpVersionTextOf, isDigitByte } from "./bytes.js";
import type { HeaderNameSet } from "./header-name-set.js";
import { HttpMessageParser, StartLinePrefix } from "./message-parser.js";
import type { HeadLossCause, HttpBodySink, HttpHeader, HttpParseErrorReason, HttpParseLimits, HttpResponseHead } from "./types.js";
import { defaultHttpParseLimits } from "./types.js";

export interface HttpResponseListener {
  /**
   * A final (non-1xx) response head is complete; interim 1xx responses are not reported. The
   * listener may call `captureBody` on the parser now to receive this response's body.
   */
  onResponse(head: HttpResponseHead): void;
  /** The current message was dropped. `detail` is short and never contains header values. */
  onError(reason: HttpParseErrorReason, detail: string): void;
  /**
   * A final response whose status line (or its "HTTP/" start) was seen was dropped before its
   * head was complete (a gap, the end of the stream, a parse error after the status line): a
   * response all the same, which answered some request.
   */
  onIncompleteResponse?(cause: HeadLossCause): void;
}

/**
 * Requests remembered for pairing. A capture that sees only requests would otherwise grow the
 * queue without end; past this the oldest entry is dropped (its pairing is lost anyway).
 */
export const maxPendingRequests = 1024;

/** What the response framing needs to know about the request it answers. */
const RequestKind = { other: 0, head: 1, connect: 2 } as const;
type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

const statusLinePrefix = [0x48, 0x54, 0x54, 0x50, 0x2f] as const; // "HTTP/"

/** Incremental HTTP/1.x response parser for one direction of one connection. */
export class HttpResponseParser extends HttpMessageParser {
  protected readonly badStartLineReason = "bad-status-line";
  private statusCode = 0;
  private httpVersion = "";
  private readonly pendingRequestKinds: RequestKind[] = [];
  /** Set by captureBody during onResponse, for the response being reported. */
  private requestedBodySink: HttpBodySink | null = null;

  constructor(
    private readonly listener: HttpResponseListener,
    limits: HttpParseLimits = defaultHttpParseLimits,
    /** Report only these headers (null: all); see HttpMessageParser. */
    reportedHeaders: HeaderNameSet | null = null,
  ) {
    super(limits, reportedHeaders);
  }

  /**
   * A request was sent on this connection (call in request order). Only HEAD and CONNECT change
   * how a response is framed; a response beyond the queue is framed as for any other method.
   */
  expectResponseTo(method: string): void {
    if (this.pendingRequestKinds.length >= maxPendingRequests) this.pendingRequestKinds.shift();
    this.pendingRequestKinds.push(
      method === "HEAD" ? RequestKind.head : method === "CONNECT" ? RequestKind.connect : RequestKind.other,
    );
  }

  /**
   * Call only from `onResponse`: the body of the response just reported goes to `sink` (bytes
   * as they arrive, chunked framing removed, then onBodyEnd). A response without a body (HEAD,
   * 204, 304, Content-Length 0) ends the sink at once; a switch of protocols ends it incomplete.
   */
  captureBody(sink: HttpBodySink): void {
    this.requestedBodySink = sink;
  }

  /** Requests still waiting for their response. */
  get pendingRequestCount(): number {
    return this.pendingRequestKinds.length;
  }

  protected startLinePrefix(byte: number, index: number): StartLinePrefix {
    if (byte !== statusLinePrefix[index]) return StartLinePrefix.impossible;
    return index === statusLinePrefix.length - 1 ? StartLinePrefix.plausible : StartLinePrefix.needMore;
  }

  /** `HTTP/d.d SP+ 3DIGIT [SP reason]`; the reason phrase may be absent or empty. */
  protected parseStartLine(line: Uint8Array, start: number, end: number): number {
    const versionCode = httpVersionCodeAt(line, start, end);
    if (versionCode < 0) return -1;
    let index = start + 8;
    if (index === end || line[index] !== Byte.space) return -1;
    while (index < end && line[index] === Byte.space) index++;
    if (end - index < 3) return -1;
    const hundreds = line[index]!;
    const tens = line[index + 1]!;
    const units = line[index + 2]!;
    if (!isDigitByte(hundreds) || !isDigitByte(tens) || !isDigitByte(units) || hundreds === Byte.zero) return -1;
    if (index + 3 < end && line[index + 3] !== Byte.space) return -1;
    this.statusCode = (hundreds - Byte.zero) * 100 + (tens - Byte.zero) * 10 + (units - Byte.zero);
    this.httpVersion = httpVersionTextOf(versionCode);
    return Math.floor(versionCode / 10);
  }

  protected completeHead(headers: readonly HttpHeader[]): void {
    const statusCode = this.statusCode;
    if (statusCode < 200 && statusCode !== 101) {
      // Interim (100 Continue, 103 Early Hints): the final response to the same request follows.
      this.beginBody(0);
      return;
    }
    const requestKind = this.pendingRequestKinds.shift() ?? RequestKind.other;
    const head: HttpResponseHead = { statusCode, httpVersion: this.httpVersion, headers };
    const switchesProtocol = statusCode === 101 || (requestKind === RequestKind.connect && statusCode < 300);
    let framing = 0;
    if (!switchesProtocol && requestKind !== RequestKind.head && statusCode !== 204 && statusCode !== 304) {
      framing = bodyFramingOf(headers, false);
      if (framing === BodyFraming.badContentLength) {
        this.fail("bad-content-length", "Content-Length is not one decimal number", true);
        return;
      }
    }
    // The listener hears the head before the body starts, so it can ask for the body.
    this.requestedBodySink = null;
    this.listener.onResponse(head);
    // (TypeScript cannot see that onResponse may have set it.)
    const sink = this.requestedBodySink as HttpBodySink | null;
    this.requestedBodySink = null;
    if (switchesProtocol) {
      this.stop();
      sink?.onBodyEnd(false);
    } else {
      this.beginBody(framing, sink);
    }
  }

  protected override headLost(cause: HeadLossCause, startLine: Uint8Array | null): void {
    if (startLine === null) {
      if (this.statusCode >= 200) this.listener.onIncompleteResponse?.(cause);
      return;
    }
    // "HTTP/" and, when it arrived, a status that is not an interim 1xx.
    const statusDigit = startLine.length > 9 && startLine[8] === Byte.space ? startLine[9]! : -1;
    if (startLine.length >= statusLinePrefix.length && statusLinePrefix.every((byte, index) => startLine[index] === byte) && statusDigit !== 0x31) {
      this.listener.onIncompleteResponse?.(cause);
    }
  }

  protected reportError(reason: HttpParseErrorReason, detail: string): void {
    this.listener.onError(reason, detail);
  }
}
