/**
 * Incremental HTTP/1.x parsers: heads out, bodies skipped (or, when a listener asks, handed to a
 * bounded sink); they know nothing of TCP or IMDS.
 */
export { HttpRequestParser } from "./request-parser.js";
export type { HttpRequestListener } from "./request-parser.js";
export { HttpResponseParser } from "./response-parser.js";
export type { HttpResponseListener } from "./response-parser.js";
export { BoundedBodyCollector } from "./body-capture.js";
export { HeaderNameSet } from "./header-name-set.js";
export { defaultHttpParseLimits } from "./types.js";
export type {
  HeadLossCause,
  HttpBodySink,
  HttpHeader,
  HttpParseErrorReason,
  HttpParseLimits,
  HttpRequestHead,
  HttpResponseHead,
  IncompleteRequestHead,
} from "./types.js";
