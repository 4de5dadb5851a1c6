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
