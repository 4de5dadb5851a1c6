/**
 * What an IMDS path gives away. The report flags IMDSv1 calls to these: they are what an SSRF
 * through a token-less caller would steal first.
 */
export type PathCategory = "credentials" | "identity" | "user-data";

/** `/latest/...` or a dated version (`/2021-07-15/...`), then the part that matters. */
const pathCategories = [
  { pattern: /^\/[^/]+\/meta-data\/iam\/security-credentials(?:\/|$)/, category: "credentials" },
  { pattern: /^\/[^/]+\/meta-data\/identity-credentials\//, category: "credentials" },
  { pattern: /^\/[^/]+\/dynamic\/instance-identity(?:\/|$)/, category: "identity" },
  { pattern: /^\/[^/]+\/user-data(?:\/|$)/, category: "user-data" },
] as const satisfies readonly { pattern: RegExp; category: PathCategory }[];

export function categorizePath(path: string): PathCategory | null {
  for (const { pattern, category } of pathCategories) if (pattern.test(path)) return category;
  return null;
}

/** Paths longer than this are cut (hostile input must not grow memory through path names). */
export const maxReportedPathChars = 256;

/**
 * The path as the report lists it: without the query (it only adds distinct rows, and a token
 * pasted into a URL must not reach a report), cut to `maxReportedPathChars`.
 */
export function reportedPath(path: string): string {
  const queryStart = path.indexOf("?");
  const withoutQuery = queryStart < 0 ? path : path.slice(0, queryStart);
  return withoutQuery.length > maxReportedPathChars ? `${withoutQuery.slice(0, maxReportedPathChars)}...` : withoutQuery;
}
