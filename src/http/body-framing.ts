import type { HttpHeader } from "./types.js";

/**
 * How a message body is delimited (RFC 9112 section 6.3), as one number so that deciding it
 * allocates nothing: a value >= 0 is a Content-Length in bytes (0: no body), a negative value is
 * one of these.
 */
export const BodyFraming = {
  chunked: -1,
  /** Responses only: the body runs until the connection closes. */
  untilClose: -2,
  badContentLength: -3,
  /** Requests only: Transfer-Encoding whose final coding is not chunked (length unknowable). */
  badTransferEncoding: -4,
} as const;

/** The headers `bodyFramingOf` reads, lower case. */
export const framingHeaderNames = ["content-length", "transfer-encoding"] as const;

/**
 * Reads Content-Length and Transfer-Encoding. Transfer-Encoding overrides Content-Length (RFC
 * 9112 6.3 item 3; llhttp rejects the pair to stop smuggling, but an observer must follow what
 * the server will do, and servers follow Transfer-Encoding). Repeated Content-Length headers are
 * accepted only when they all carry the same value.
 */
export function bodyFramingOf(headers: readonly HttpHeader[], isRequest: boolean): number {
  let lastTransferEncoding: string | null = null;
  let contentLength = -1;
  let contentLengthInvalid = false;
  for (const header of headers) {
    const name = header.name;
    if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      lastTransferEncoding = header.value;
    } else if (name.length === 14 && name.toLowerCase() === "content-length") {
      const value = parseDecimal(header.value);
      if (value < 0 || (contentLength >= 0 && value !== contentLength)) contentLengthInvalid = true;
      else contentLength = value;
    }
  }
  if (lastTransferEncoding !== null) {
    if (finalCodingIsChunked(lastTransferEncoding)) return BodyFraming.chunked;
    return isRequest ? BodyFraming.badTransferEncoding : BodyFraming.untilClose;
  }
  if (contentLengthInvalid) return BodyFraming.badContentLength;
  if (contentLength >= 0) return contentLength;
  return isRequest ? 0 : BodyFraming.untilClose;
}

/** 1*DIGIT as a safe integer, or -1 (empty, other characters, lists like "5, 5", overflow). */
function parseDecimal(text: string): number {
  if (text.length === 0 || text.length > 15) return -1;
  let value = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return -1;
    value = value * 10 + (code - 0x30);
  }
  return value;
}

/** Multiple Transfer-Encoding headers form one list, so only the last header's last item counts. */
function finalCodingIsChunked(value: string): boolean {
  const lastItem = value.slice(value.lastIndexOf(",") + 1).trim();
  return lastItem.length === 7 && lastItem.toLowerCase() === "chunked";
}
