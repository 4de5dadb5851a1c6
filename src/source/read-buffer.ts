/**
 * Buffers for `read(2)` from the page cache that the kernel can fill at full speed.
 *
 * The kernel copies from page-cache pages, at the file position's offset within a page (0 for
 * our reads: they are 128 KiB apart). When the destination has nearly the same offset within
 * its page, the copy's loads and stores alias on the low 12 address bits ("4K aliasing") and it
 * runs about four times slower: measured here, 200 against 50 ms for 256 MiB. Large
 * ArrayBuffers start at or just after a page boundary, so a buffer that starts half a page into
 * its allocation stays clear of that.
 */
export const readBufferOffsetBytes = 2048;

/** A `length`-byte buffer that starts half a page into its own allocation. */
export function allocateReadBuffer(length: number): Uint8Array {
  return new Uint8Array(length + 4096).subarray(readBufferOffsetBytes, readBufferOffsetBytes + length);
}
