import { describe, expect, it } from "vitest";
import { LargestQueueHeap } from "../../src/reassembly/largest-queue-heap.js";
import type { QueueHolder } from "../../src/reassembly/largest-queue-heap.js";
import { OutOfOrderQueue } from "../../src/reassembly/out-of-order-queue.js";

function holder(tieBreak: number): QueueHolder {
  return { heapIndex: -1, queue: new OutOfOrderQueue(), tieBreak };
}

/** Queues `bytes` bytes at the end of the holder's queue (a hole before each piece). */
function grow(item: QueueHolder, bytes: number): void {
  const start = 1_000_000 * (item.queue.pieceCount + 1);
  item.queue.insert(item.queue.planInsert(start, start + bytes, start + bytes), new Uint8Array(bytes), start);
}

describe("LargestQueueHeap", () => {
  it("peeks the largest queue; ties go to the lower tieBreak; empty queues leave", () => {
    const heap = new LargestQueueHeap<QueueHolder>();
    const [a, b, c] = [holder(0), holder(1), holder(2)];
    for (const [item, bytes] of [[a, 100], [b, 300], [c, 300]] as const) {
      grow(item, bytes);
      heap.update(item);
    }
    expect(heap.peek()).toBe(b);
    grow(a, 500);
    heap.update(a);
    expect(heap.peek()).toBe(a);
    a.queue.shift();
    a.queue.shift();
    heap.update(a); // now empty
    expect([heap.size, a.heapIndex, heap.peek()]).toEqual([2, -1, b]);
    heap.remove(b);
    expect(heap.peek()).toBe(c);
  });

  it("matches a full scan after random updates", () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const heap = new LargestQueueHeap<QueueHolder>();
    const items = Array.from({ length: 50 }, (_, index) => holder(index));
    for (let step = 0; step < 5000; step++) {
      const item = items[random(items.length)]!;
      if (random(3) === 0 && !item.queue.isEmpty) item.queue.shift();
      else grow(item, 1 + random(200));
      heap.update(item);
      let best: QueueHolder | undefined;
      for (const candidate of items) {
        if (candidate.queue.isEmpty) continue;
        if (best === undefined || candidate.queue.chargedBytes > best.queue.chargedBytes) best = candidate;
      }
      expect(heap.peek()).toBe(best);
    }
  });
});
