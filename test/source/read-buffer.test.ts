import { describe, expect, it } from "vitest";
import { allocateReadBuffer, readBufferOffsetBytes } from "../../src/source/read-buffer.js";

describe("allocateReadBuffer", () => {
  it("gives a buffer of the asked length half a page into its own allocation", () => {
    const buffer = allocateReadBuffer(128 * 1024);
    expect([buffer.length, buffer.byteOffset, readBufferOffsetBytes]).toEqual([128 * 1024, 2048, 2048]);
    expect(buffer.buffer.byteLength).toBeGreaterThanOrEqual(buffer.byteOffset + buffer.length + 2048);
  });
});
