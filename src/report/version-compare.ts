/**
 * Compares dotted version strings the way SDK versions are written: any number of numeric parts
 * ("1.16.289", ".NET's "3.3.634.1"), missing parts count as 0 ("2.10" == "2.10.0"), and a part's
 * non-numeric tail is ignored ("2.0.0dev1" and "1.0.0-rc1" compare by their numbers). Not full
 * semver: pre-release tags do not sort before the release, which only matters for versions
 * exactly at a documented minimum, and none of those is a pre-release.
 *
 * Returns a negative number when a < b, 0 when equal, positive when a > b.
 */
export function compareVersions(a: string, b: string): number {
  const left = versionParts(a);
  const right = versionParts(b);
  const length = Math.max(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return 0;
}

/** Numeric parts of a version: "1.45.11" -> [1, 45, 11]; "3.3.600.0" -> [3, 3, 600, 0]. */
function versionParts(version: string): number[] {
  const parts: number[] = [];
  for (const part of version.split(".")) {
    const digits = /^\d+/.exec(part);
    // A part without leading digits ends the comparable prefix ("1.2.x" compares as "1.2").
    if (digits === null) break;
    parts.push(Number(digits[0]));
  }
  return parts;
}

/** A version string we can compare: starts with digits, dots between numeric parts. */
export function isComparableVersion(version: string): boolean {
  return /^\d+(\.\d+)*/.test(version);
}
