// @ts-check
/**
 * Byte helpers shared by the packet and capture-file builders: joining parts, padding, and
 * unsigned integers written at an offset in either byte order (no DataView per call: the bench
 * generator writes millions of headers).
 */

/** @param {readonly Uint8Array[]} parts @returns {Uint8Array} the parts, one after the other */
export function concatBytes(parts) {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** @param {number} length @returns {number} `length` rounded up to a multiple of 4 */
export function paddedTo4(length) {
  return (length + 3) & ~3;
}

/** @param {string | Uint8Array | undefined} data @returns {Uint8Array} text as Latin-1 (one byte per char code), bytes as they are */
export function latin1Bytes(data) {
  if (data === undefined) return new Uint8Array(0);
  if (typeof data !== "string") return data;
  const out = new Uint8Array(data.length);
  for (let index = 0; index < data.length; index++) out[index] = data.charCodeAt(index) & 0xff;
  return out;
}

/** @param {Uint8Array} bytes @param {number} offset @param {number} value @param {boolean} [littleEndian] network order unless true */
export function put16(bytes, offset, value, littleEndian = false) {
  const high = (value >>> 8) & 0xff;
  const low = value & 0xff;
  bytes[offset] = littleEndian ? low : high;
  bytes[offset + 1] = littleEndian ? high : low;
}

/** @param {Uint8Array} bytes @param {number} offset @param {number} value @param {boolean} [littleEndian] network order unless true */
export function put32(bytes, offset, value, littleEndian = false) {
  if (littleEndian) {
    put16(bytes, offset, value & 0xffff, true);
    put16(bytes, offset + 2, (value >>> 16) & 0xffff, true);
  } else {
    put16(bytes, offset, (value >>> 16) & 0xffff);
    put16(bytes, offset + 2, value & 0xffff);
  }
}

/** @param {Uint8Array} bytes @param {number} offset @param {bigint} value two's complement, 64 bits @param {boolean} [littleEndian] */
export function put64(bytes, offset, value, littleEndian = false) {
  const unsigned = BigInt.asUintN(64, value);
  const high = Number(unsigned >> 32n);
  const low = Number(unsigned & 0xffffffffn);
  put32(bytes, offset + (littleEndian ? 4 : 0), high, littleEndian);
  put32(bytes, offset + (littleEndian ? 0 : 4), low, littleEndian);
}

/** Append-only writer of unsigned integers in one byte order, growing as needed. */
export class ByteWriter {
  /** @param {boolean} littleEndian */
  constructor(littleEndian) {
    this.littleEndian = littleEndian;
    this.buffer = new Uint8Array(256);
    this.length = 0;
  }

  /** @param {number} value */
  u8(value) {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
  }

  /** @param {number} value */
  u16(value) {
    this.reserve(2);
    put16(this.buffer, this.length, value, this.littleEndian);
    this.length += 2;
  }

  /** @param {number} value */
  u32(value) {
    this.reserve(4);
    put32(this.buffer, this.length, value >>> 0, this.littleEndian);
    this.length += 4;
  }

  /** @param {bigint} value */
  u64(value) {
    this.reserve(8);
    put64(this.buffer, this.length, value, this.littleEndian);
    this.length += 8;
  }

  /** @param {Uint8Array} value */
  bytes(value) {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /** Zero bytes up to the next multiple of 4. */
  pad() {
    const target = paddedTo4(this.length);
    this.reserve(target - this.length);
    this.buffer.fill(0, this.length, target);
    this.length = target;
  }

  /** @returns {Uint8Array} a copy of what was written */
  finish() {
    return this.buffer.slice(0, this.length);
  }

  /** @param {number} extra */
  reserve(extra) {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }
}
