/** What the incremental HTTP/1.x parsers report. They know nothing of TCP or IMDS. */

export interface HttpHeader {
  /** Name as sent (case preserved); compare case-insensitively. */
  readonly name: string;
  /** Value with surrounding whitespace removed. */
  readonly value: string;
}

export interface HttpRequestHead {
  readonly method: string;
  /** Request target as sent (origin-form path, absolute-form URL, ...). */
  readonly target: string;
  /** "1.0" or "1.1" (whatever digits followed "HTTP/"). */
  readonly httpVersion: string;
  readonly headers: readonly HttpHeader[];
}

export interface HttpResponseHead {
  readonly statusCode: number;
  readonly httpVersion: string;
  readonly headers: readonly HttpHeader[];
}

/**
 * Receives the body of one message (chunked framing removed). Only messages a listener asks for
 * (HttpResponseParser.captureBody) have a sink: every other body is skipped by counting.
 */
export interface HttpBodySink {
  /** Body bytes `bytes[start, end)`; only read during the call (copy what must outlive it). */
  onBodyData(bytes: Uint8Array, start: number, end: number): void;
  /**
   * The body is over. `complete`: every byte was delivered. False when bytes were lost (a gap,
   * even one of known length), the message failed to parse, or the stream ended inside it.
   * Called exactly once.
   */
  onBodyEnd(complete: boolean): void;
}

/** Why a parser gave up on the current message and went looking for the next one. */
export type HttpParseErrorReason =
  | "bad-request-line"
  | "bad-status-line"
  | "bad-header"
  | "head-too-large"
  | "bad-content-length"
  | "bad-chunk";

export interface HttpParseLimits {
  /** Request line + headers, in bytes; beyond it the message is dropped and counted. */
  readonly maxHeadBytes: number;
  /** Headers per message. */
  readonly maxHeaderCount: number;
}

export const defaultHttpParseLimits: HttpParseLimits = {
  maxHeadBytes: 64 * 1024,
  maxHeaderCount: 100,
};
