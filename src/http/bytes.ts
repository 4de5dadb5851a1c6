/** Byte values and character classes of HTTP/1.x syntax (RFC 9110 / 9112), as lookup tables. */

export const Byte = {
  tab: 0x09,
  lf: 0x0a,
  cr: 0x0d,
  space: 0x20,
  dot: 0x2e,
  slash: 0x2f,
  zero: 0x30,
  nine: 0x39,
  colon: 0x3a,
  semicolon: 0x3b,
  del: 0x7f,
} as const;

const tokenCharacters = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** 1 for `tchar` bytes (method and header-name characters), 0 for everything else. */
const tokenByteTable = new Uint8Array(256);
for (let index = 0; index < tokenCharacters.length; index++) tokenByteTable[tokenCharacters.charCodeAt(index)] = 1;

export function isTokenByte(byte: number): boolean {
  return tokenByteTable[byte] === 1;
}

export function isDigitByte(byte: number): boolean {
  return byte >= Byte.zero && byte <= Byte.nine;
}

/** Optional whitespace (OWS) around header values and in chunk-size lines. */
export function isOwsByte(byte: number): boolean {
  return byte === Byte.space || byte === Byte.tab;
}

/** Value of a hexadecimal digit, or -1. */
export function hexDigitValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** "0.0" .. "9.9" by major * 10 + minor, so reporting a version allocates nothing. */
const versionTexts: readonly string[] = Array.from({ length: 100 }, (_, index) => `${Math.floor(index / 10)}.${index % 10}`);

/**
 * `HTTP/d.d` at `start` (it must end by `end`): returns major * 10 + minor, or -1.
 */
export function httpVersionCodeAt(line: Uint8Array, start: number, end: number): number {
  if (end - start < 8) return -1;
  if (
    line[start] !== 0x48 || line[start + 1] !== 0x54 || line[start + 2] !== 0x54 || line[start + 3] !== 0x50 ||
    line[start + 4] !== Byte.slash || line[start + 6] !== Byte.dot
  ) {
    return -1;
  }
  const major = line[start + 5]!;
  const minor = line[start + 7]!;
  if (!isDigitByte(major) || !isDigitByte(minor)) return -1;
  return (major - Byte.zero) * 10 + (minor - Byte.zero);
}

export function httpVersionTextOf(versionCode: number): string {
  return versionTexts[versionCode]!;
}
