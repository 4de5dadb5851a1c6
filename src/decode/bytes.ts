/**
 * Bounds-unchecked big-endian reads for the decoder's hot path. Callers check bounds first (a
 * read past the end would give `undefined`, which the bit operations turn into 0 silently).
 */
export function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** Unsigned 32-bit: `>>> 0` because `<< 24` makes the top bit a sign bit. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
