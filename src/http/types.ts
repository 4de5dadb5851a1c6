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

/**
 * A request head that was dropped before it completed, with what was seen of it: the request
 * line (in part, when the head was cut inside it) and the header lines that were whole.
 */
export interface IncompleteRequestHead {
  readonly method: string;
  /** The request target as far as it was seen. */
  readonly target: string;
  /** False when the head was cut inside the target: `target` is only its beginning. */
  readonly targetComplete: boolean;
  /** "1.0", "1.1"; null when the head was cut before the version. */
  readonly httpVersion: string | null;
  /** Header lines seen whole before the head was dropped (only the reported names). */
  readonly headers: readonly HttpHeader[];
}

/**
 * Why a head in progress was dropped: bytes were missing ("gap"), the stream ended inside it
 * ("end"), or it failed to parse after its start line.
 */
export type HeadLossCause = "gap" | "end" | HttpParseErrorReason;

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
