import type { OutOfOrderQueue } from "./out-of-order-queue.js";

/** A direction of a flow as the heap sees it; `heapIndex` belongs to the heap (-1: not in it). */
export interface QueueHolder {
  heapIndex: number;
  readonly queue: OutOfOrderQueue;
  /** Breaks ties between equally charged queues, so the choice never depends on history. */
  readonly tieBreak: number;
}

/**
 * The directions whose out-of-order queue is not empty, largest charge first: what the
 * total-limit eviction gives up first. A binary max-heap with each holder's index stored on it,
 * so a change of one queue costs O(log n). (A scan for the largest on every eviction is O(n) per
 * segment: with 100,000 flows each holding a little, a flood at the total limit would take hours.)
 */
export class LargestQueueHeap<T extends QueueHolder> {
  private readonly holders: T[] = [];

  get size(): number {
    return this.holders.length;
  }

  /** The holder with the largest charge, or undefined when every queue is empty. */
  peek(): T | undefined {
    return this.holders[0];
  }

  /** Call after `holder.queue`'s charge changed: adds, moves or (when empty) removes it. */
  update(holder: T): void {
    if (holder.queue.isEmpty) {
      this.remove(holder);
      return;
    }
    if (holder.heapIndex < 0) {
      holder.heapIndex = this.holders.length;
      this.holders.push(holder);
    }
    this.siftDown(this.siftUp(holder.heapIndex));
  }

  remove(holder: T): void {
    const index = holder.heapIndex;
    if (index < 0) return;
    holder.heapIndex = -1;
    const last = this.holders.pop()!;
    if (last === holder) return;
    this.holders[index] = last;
    last.heapIndex = index;
    this.siftDown(this.siftUp(index));
  }

  private before(a: T, b: T): boolean {
    const difference = a.queue.chargedBytes - b.queue.chargedBytes;
    return difference > 0 || (difference === 0 && a.tieBreak < b.tieBreak);
  }

  private siftUp(start: number): number {
    const holders = this.holders;
    let index = start;
    const holder = holders[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = holders[parentIndex]!;
      if (!this.before(holder, parent)) break;
      holders[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    holders[index] = holder;
    holder.heapIndex = index;
    return index;
  }

  private siftDown(start: number): void {
    const holders = this.holders;
    const count = holders.length;
    let index = start;
    const holder = holders[index]!;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= count) break;
      const right = left + 1;
      const child = right < count && this.before(holders[right]!, holders[left]!) ? right : left;
      const candidate = holders[child]!;
      if (!this.before(candidate, holder)) break;
      holders[index] = candidate;
      candidate.heapIndex = index;
      index = child;
    }
    holders[index] = holder;
    holder.heapIndex = index;
  }
}
