/**
 * Header text is decoded as ISO-8859-1: one byte, one character, so values come out exactly as
 * sent. TextDecoder("latin1") is not an option: per WHATWG it is windows-1252 and remaps
 * 0x80-0x9F.
 */

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;

// Buffer's native latin1Slice works on any Uint8Array and saves wrapping every pushed chunk in a
// Buffer; it is not in the public typings, so fall back to a Buffer view if it ever disappears.
const nativeLatin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;

export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  if (start >= end) return "";
  if (nativeLatin1Slice !== undefined) return nativeLatin1Slice.call(bytes, start, end);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1", start, end);
}
