import { describe, expect, it } from "vitest";
import { sequenceAdd, sequenceDifference } from "../../src/reassembly/sequence.js";

describe("sequence arithmetic", () => {
  it.each([
    [100, 105, 5],
    [105, 100, -5],
    [0xfffffffe, 3, 5], // across the wrap
    [3, 0xfffffffe, -5],
    [0, 0x7fffffff, 0x7fffffff],
    [0, 0x80000000, -0x80000000], // exactly half way: taken as behind
    [0xffffffff, 0xffffffff, 0],
  ])("sequenceDifference(%d, %d) = %d", (from, to, expected) => {
    expect(sequenceDifference(from, to)).toBe(expected);
  });

  it.each([
    [0xffffffff, 1, 0],
    [0xfffffff0, 0x20, 0x10],
    [5, -10, 0xfffffffb],
    [1, 2 ** 40 + 3, 4], // stream offsets beyond 2^32
    [0, 0, 0],
  ])("sequenceAdd(%d, %d) = %d", (sequence, amount, expected) => {
    expect(sequenceAdd(sequence, amount)).toBe(expected);
  });
});
