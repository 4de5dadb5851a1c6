import type { CallKind } from "../events.js";
import type { HttpHeader, HttpRequestHead, IncompleteRequestHead } from "../http/types.js";

/** Header names IMDS defines, lower case (HTTP header names are case-insensitive). */
export const imdsHeader = {
  token: "x-aws-ec2-metadata-token",
  tokenTtlSeconds: "x-aws-ec2-metadata-token-ttl-seconds",
} as const;

export const tokenPath = "/latest/api/token";

/** Every header `classifyImdsRequest` reads, lower case (a parser may report only these). */
export const classifiedHeaderNames = [imdsHeader.token, imdsHeader.tokenTtlSeconds, "user-agent", "x-forwarded-for"] as const;

/** What the classifier takes from a request head: never the token value itself. */
export interface ClassifiedCall {
  readonly kind: CallKind;
  readonly userAgent: string | null;
  readonly tokenTtlSeconds: number | null;
  readonly forwardedFor: boolean;
}

/**
 * Classifies one request already known to be addressed to an IMDS endpoint (by destination
 * address and port). The decision uses parsed header names only: a token header name inside the
 * URL, inside another header's value, or as a prefix of a longer header name
 * (`x-aws-ec2-metadata-token-foo`) does not make a call v2.
 */
export function classifyImdsRequest(head: HttpRequestHead): ClassifiedCall {
  let hasToken = false;
  let userAgent: string | null = null;
  let ttlText: string | null = null;
  let forwardedFor = false;
  for (const header of head.headers) {
    const name = header.name.toLowerCase();
    if (name === imdsHeader.token) {
      if (header.value.length > 0) hasToken = true;
    } else if (name === "user-agent") {
      userAgent ??= header.value;
    } else if (name === imdsHeader.tokenTtlSeconds) {
      ttlText ??= header.value;
    } else if (name === "x-forwarded-for") {
      forwardedFor = true;
    }
  }
  const kind: CallKind = isTokenRequest(head) ? "token-request" : hasToken ? "v2" : "v1";
  return {
    kind,
    userAgent,
    tokenTtlSeconds: kind === "token-request" ? parseTtlSeconds(ttlText) : null,
    forwardedFor,
  };
}

/**
 * Classifies a request seen only in part, as far as the part proves: a token request from its
 * request line (method and whole target), v2 from a whole token header line with a value;
 * otherwise "unclassified". Never v1: the headers that would make it v2 may be in the lost part.
 * The header fields say only what was seen (forwardedFor false: not seen).
 */
export function classifyIncompleteRequest(head: IncompleteRequestHead): ClassifiedCall {
  const seen = classifyImdsRequest({ method: head.method, target: head.target, httpVersion: head.httpVersion ?? "", headers: head.headers });
  const tokenRequest = seen.kind === "token-request" && head.targetComplete;
  const kind: CallKind = tokenRequest ? "token-request" : seen.kind === "v2" ? "v2" : "unclassified";
  return { ...seen, kind, tokenTtlSeconds: tokenRequest ? seen.tokenTtlSeconds : null };
}

function isTokenRequest(head: HttpRequestHead): boolean {
  return head.method === "PUT" && requestPath(head.target) === tokenPath;
}

/**
 * The path part of a request target: origin-form as is, absolute-form ("http://host/path") with
 * the scheme and authority removed, the query kept (it is part of what was asked for).
 */
export function requestPath(target: string): string {
  if (target.startsWith("/")) return target;
  const schemeEnd = target.indexOf("://");
  if (schemeEnd < 0) return target;
  const pathStart = target.indexOf("/", schemeEnd + 3);
  return pathStart < 0 ? "/" : target.slice(pathStart);
}

function parseTtlSeconds(text: string | null): number | null {
  if (text === null || !/^\d{1,10}$/.test(text)) return null;
  return Number(text);
}

/** Case-insensitive header lookup for callers that need one more header. */
export function findHeader(headers: readonly HttpHeader[], lowerCaseName: string): string | null {
  for (const header of headers) if (header.name.toLowerCase() === lowerCaseName) return header.value;
  return null;
}
