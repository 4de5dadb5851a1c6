import { describe, expect, it } from "vitest";
import { OutOfOrderQueue, minChargedBytesPerPiece, pieceChargeBytes } from "../../src/reassembly/out-of-order-queue.js";

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "latin1"));

/** The queue as "offset:text" (missing bytes as `?` per byte), draining it. */
function drain(queue: OutOfOrderQueue): string[] {
  const result: string[] = [];
  for (let piece = queue.shift(); piece !== undefined; piece = queue.shift()) {
    const text = piece.bytes === null ? "?".repeat(piece.length) : Buffer.from(piece.bytes).toString("latin1");
    expect(text.length).toBe(piece.length);
    result.push(`${piece.offset}:${text}`);
  }
  return result;
}

/** Inserts `text` with its first byte at `offset`, the whole of it captured. */
function insertText(queue: OutOfOrderQueue, offset: number, text: string): number {
  return queue.insert(queue.planInsert(offset, offset + text.length, offset + text.length), bytes(text), offset);
}

describe("OutOfOrderQueue", () => {
  it("charges at least the per-piece minimum", () => {
    expect(pieceChargeBytes(1)).toBe(minChargedBytesPerPiece);
    expect(pieceChargeBytes(minChargedBytesPerPiece + 1)).toBe(minChargedBytesPerPiece + 1);
  });

  it("keeps pieces sorted and adds only uncovered ranges (first copy wins)", () => {
    const queue = new OutOfOrderQueue();
    expect(insertText(queue, 10, "klmn")).toBe(64);
    expect(insertText(queue, 20, "uv")).toBe(64);
    expect(queue.planInsert(8, 24, 24).charge).toBe(3 * 64); // 8..9, 14..19, 22..23
    expect(insertText(queue, 8, "ijKLMNopqrstUVwx")).toBe(3 * 64);
    expect(queue.planInsert(9, 23, 23).charge).toBe(0);
    expect(insertText(queue, 12, "MN")).toBe(0);
    expect(queue.pieceCount).toBe(5);
    expect(queue.chargedBytes).toBe(5 * 64);
    expect(drain(queue)).toEqual(["8:ij", "10:klmn", "14:opqrst", "20:uv", "22:wx"]);
    expect(queue.chargedBytes).toBe(0);
    expect(queue.isEmpty).toBe(true);
  });

  it("copies: the caller's buffer can change after insert", () => {
    const queue = new OutOfOrderQueue();
    const buffer = bytes("abc");
    queue.insert(queue.planInsert(0, 3, 3), buffer, 0);
    buffer.fill(0);
    expect(drain(queue)).toEqual(["0:abc"]);
  });

  it("inserts only the part from `start` on, and missing bytes from `capturedEnd` on", () => {
    const queue = new OutOfOrderQueue();
    // Payload "abcdef" at 0, stream needs it from 2, bytes 6..9 missing (snaplen).
    const plan = queue.planInsert(2, 10, 6);
    expect(plan.charge).toBe(2 * 64);
    expect(queue.insert(plan, bytes("abcdef"), 0)).toBe(2 * 64);
    expect(drain(queue)).toEqual(["2:cdef", "6:????"]);
  });

  it("discardFrom drops and trims pieces at and past an offset", () => {
    const queue = new OutOfOrderQueue();
    insertText(queue, 0, "abcd");
    insertText(queue, 10, "klmnop");
    insertText(queue, 20, "uv");
    expect(queue.discardFrom(12)).toBe(64); // "mnop" trimmed off "klmnop", "uv" dropped: 3 -> 2 pieces
    expect(drain(queue)).toEqual(["0:abcd", "10:kl"]);
    insertText(queue, 5, "f");
    expect(queue.discardFrom(100)).toBe(0);
    expect(queue.discardFrom(5)).toBe(64);
    expect(queue.isEmpty).toBe(true);
  });

  it("charges long pieces by their length", () => {
    const queue = new OutOfOrderQueue();
    expect(insertText(queue, 0, "x".repeat(100))).toBe(100);
    expect(queue.discardFrom(30)).toBe(100 - 64);
    expect(queue.chargedBytes).toBe(64);
  });

  it("stays sorted across many shifts and inserts (head index compaction)", () => {
    const queue = new OutOfOrderQueue();
    for (let offset = 0; offset < 3000; offset++) insertText(queue, offset * 2, "x");
    for (let index = 0; index < 2500; index++) expect(queue.shift()?.offset).toBe(index * 2);
    insertText(queue, 5001, "y"); // between the pieces at 5000 and 5002
    insertText(queue, 7000, "z");
    const offsets: number[] = [];
    for (let piece = queue.shift(); piece !== undefined; piece = queue.shift()) offsets.push(piece.offset);
    expect(offsets.length).toBe(502);
    expect(offsets.slice(0, 3)).toEqual([5000, 5001, 5002]);
    expect(offsets.at(-1)).toBe(7000);
    expect(queue.chargedBytes).toBe(0);
  });
  it("refuses a plan made before the queue changed", () => {
    const queue = new OutOfOrderQueue();
    const stale = queue.planInsert(10, 14, 14);
    insertText(queue, 12, "mn");
    expect(() => queue.insert(stale, bytes("klmn"), 10)).toThrow(/changed since the plan/);
    const shifted = queue.planInsert(20, 22, 22);
    queue.shift();
    expect(() => queue.insert(shifted, bytes("uv"), 20)).toThrow(/changed since the plan/);
    expect(drain(queue)).toEqual([]);
  });

  it("charges exactly what it planned, and its total is the sum over the pieces it holds, under random inserts, shifts and discards", () => {
    // mulberry32, seeded: a failure reproduces.
    let state = 0x5eed;
    const random = (below: number): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) % below;
    };
    const stream = Uint8Array.from({ length: 4096 }, (_, offset) => (offset * 31 + 7) & 0xff);
    const queue = new OutOfOrderQueue();
    for (let step = 0; step < 20_000; step++) {
      const action = random(20);
      if (action === 0) queue.shift();
      else if (action === 1) queue.discardFrom(random(stream.length));
      else {
        const start = random(stream.length - 1);
        const end = start + 1 + random(Math.min(300, stream.length - start));
        const capturedEnd = start + random(end - start + 1); // from `capturedEnd` on: missing
        const before = queue.chargedBytes;
        const plan = queue.planInsert(start, end, capturedEnd);
        expect(queue.insert(plan, stream.subarray(start, capturedEnd), start)).toBe(plan.charge);
        expect(queue.chargedBytes - before).toBe(plan.charge);
      }
    }
    // Recount from what is held: sorted, disjoint, the right bytes, and charged exactly so.
    const expectedCharge = queue.chargedBytes;
    let recount = 0;
    let previousEnd = -1;
    for (let piece = queue.shift(); piece !== undefined; piece = queue.shift()) {
      expect(piece.offset).toBeGreaterThanOrEqual(previousEnd);
      previousEnd = piece.offset + piece.length;
      if (piece.bytes !== null) expect(piece.bytes).toEqual(stream.subarray(piece.offset, previousEnd));
      recount += pieceChargeBytes(piece.length);
    }
    expect(recount).toBe(expectedCharge);
    expect(queue.chargedBytes).toBe(0);
  });
});
