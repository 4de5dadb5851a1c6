/**
 * A fixed set of header names, matched against raw bytes without decoding them. A parser given
 * one reports only those headers: the IMDS pipeline needs a handful (User-Agent, the token
 * headers, X-Forwarded-For and the body framing), and decoding every other header of every
 * request and response into strings was a large share of the cost of an all-IMDS capture.
 */
export class HeaderNameSet {
  /** Lower-case names as byte arrays, grouped by length. */
  private readonly byLength = new Map<number, Uint8Array[]>();

  constructor(lowerCaseNames: readonly string[]) {
    for (const name of lowerCaseNames) {
      const bytes = Uint8Array.from(name, (character) => character.charCodeAt(0));
      const group = this.byLength.get(bytes.length) ?? [];
      group.push(bytes);
      this.byLength.set(bytes.length, group);
    }
  }

  /** True when `bytes[start, end)` is one of the names, in any letter case. */
  has(bytes: Uint8Array, start: number, end: number): boolean {
    const group = this.byLength.get(end - start);
    if (group === undefined) return false;
    for (const name of group) {
      let index = 0;
      for (; index < name.length; index++) {
        const byte = bytes[start + index]!;
        const lower = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
        if (lower !== name[index]) break;
      }
      if (index === name.length) return true;
    }
    return false;
  }
}
