/** Incremental HTTP/1.x parsers: heads out, bodies skipped; they know nothing of TCP or IMDS. */
export { HttpRequestParser } from "./request-parser.js";
export type { HttpRequestListener } from "./request-parser.js";
export { HttpResponseParser } from "./response-parser.js";
export type { HttpResponseListener } from "./response-parser.js";
export { defaultHttpParseLimits } from "./types.js";
export type {
  HttpHeader,
  HttpParseErrorReason,
  HttpParseLimits,
  HttpRequestHead,
  HttpResponseHead,
} from "./types.js";
