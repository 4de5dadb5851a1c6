/**
 * Bytes of one direction that arrived ahead of a hole, held until the hole is filled or given up.
 *
 * Pieces are kept sorted by stream offset and never overlap: a new segment only adds the ranges
 * no queued piece covers yet, so the first copy of any byte wins (as in gopacket's reassembly).
 * Every piece is a copy: the segment's payload is a view into a reused frame buffer.
 */

/**
 * Each piece is charged at least this many bytes against the queue limits. A JS object plus a
 * typed array costs far more than one payload byte, so charging real payload bytes only would let
 * a flood of 1-byte segments hold hundreds of times the configured memory; with a floor the
 * number of pieces is bounded by limit / floor.
 */
export const minChargedBytesPerPiece = 64;

export function pieceChargeBytes(length: number): number {
  return length > minChargedBytesPerPiece ? length : minChargedBytesPerPiece;
}

export interface QueuedPiece {
  /** Stream offset of the piece's first byte. */
  readonly offset: number;
  readonly length: number;
  /** A copy of the bytes, or null for bytes known to be missing (cut by the snaplen). */
  readonly bytes: Uint8Array | null;
}

/** A piece `planInsert` found to add, at the array index it will have. */
interface PlannedPiece {
  readonly index: number;
  readonly offset: number;
  readonly length: number;
  /** False for bytes known to be missing (from the segment's captured end on). */
  readonly captured: boolean;
}

/** What `planInsert` found; `insert` adds exactly that. */
export interface InsertPlan {
  /** What inserting adds to `chargedBytes`; 0 when queued pieces already cover the whole range. */
  readonly charge: number;
  readonly pieces: readonly PlannedPiece[];
  /** The queue's version when planned: a plan is only good for the queue it was made on, unchanged. */
  readonly version: number;
}

export class OutOfOrderQueue {
  /** Sorted pieces from index `first` on; the slots before it were shifted out. */
  private pieces: (QueuedPiece | undefined)[] = [];
  /** `Array.prototype.shift` is O(n) once an array passes ~16k elements: keep a head index. */
  private first = 0;
  private charged = 0;
  /** Bumped by every change of the pieces, so a stale plan is refused, never applied. */
  private version = 0;

  /** Bytes charged for the pieces held (see `minChargedBytesPerPiece`). */
  get chargedBytes(): number {
    return this.charged;
  }

  get pieceCount(): number {
    return this.pieces.length - this.first;
  }

  get isEmpty(): boolean {
    return this.pieces.length === this.first;
  }

  /** The piece with the lowest offset. */
  peek(): QueuedPiece | undefined {
    return this.pieces[this.first];
  }

  shift(): QueuedPiece | undefined {
    const piece = this.pieces[this.first];
    if (piece === undefined) return undefined;
    this.version++;
    this.pieces[this.first++] = undefined;
    this.charged -= pieceChargeBytes(piece.length);
    if (this.first === this.pieces.length) {
      this.pieces.length = 0;
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.pieces.length) {
      // Amortized O(1): the dead prefix is at least half the array when it is dropped.
      this.pieces = this.pieces.slice(this.first);
      this.first = 0;
    }
    return piece;
  }

  /**
   * Plans inserting the range [start, end): the parts no queued piece covers, as pieces to add
   * (bytes from `capturedEnd` on are missing: snaplen cut), and what they will add to
   * `chargedBytes` (0 when queued pieces already cover all of it). The caller checks the charge
   * against its limits, then hands the plan to `insert`: the charge checked is the charge added,
   * because both come from this one walk.
   */
  planInsert(start: number, end: number, capturedEnd: number): InsertPlan {
    const pieces: PlannedPiece[] = [];
    let charge = 0;
    let cursor = start;
    let index = this.firstEndingAfter(start);
    while (cursor < end) {
      const piece = this.pieces[index];
      if (piece !== undefined && piece.offset <= cursor) {
        cursor = piece.offset + piece.length;
        index++;
        continue;
      }
      const stop = piece === undefined || piece.offset > end ? end : piece.offset;
      // Where each new piece will sit once the ones planned before it are in.
      if (cursor < capturedEnd) {
        const dataEnd = Math.min(stop, capturedEnd);
        pieces.push({ index: index + pieces.length, offset: cursor, length: dataEnd - cursor, captured: true });
        charge += pieceChargeBytes(dataEnd - cursor);
      }
      if (stop > capturedEnd) {
        const missingStart = Math.max(cursor, capturedEnd);
        pieces.push({ index: index + pieces.length, offset: missingStart, length: stop - missingStart, captured: false });
        charge += pieceChargeBytes(stop - missingStart);
      }
      cursor = stop;
    }
    return { charge, pieces, version: this.version };
  }

  /**
   * Adds the pieces `plan` found, copying their bytes from `payload` (`payload[0]` is at stream
   * offset `payloadOffset`). The plan must come from `planInsert` on this queue with nothing
   * changed since. Returns the charge added: `plan.charge`.
   */
  insert(plan: InsertPlan, payload: Uint8Array, payloadOffset: number): number {
    if (plan.version !== this.version) throw new Error("OutOfOrderQueue.insert: the queue changed since the plan was made");
    for (const piece of plan.pieces) {
      const bytes = piece.captured ? payload.slice(piece.offset - payloadOffset, piece.offset + piece.length - payloadOffset) : null;
      this.insertAt(piece.index, { offset: piece.offset, length: piece.length, bytes });
    }
    return plan.charge;
  }

  /** Drops everything at or after `offset` (data past a FIN). Returns the charge released. */
  discardFrom(offset: number): number {
    const chargedBefore = this.charged;
    const index = this.firstEndingAfter(offset);
    this.version++;
    const removed = this.pieces.splice(index);
    for (const piece of removed) this.charged -= pieceChargeBytes(piece!.length);
    const straddling = removed[0];
    if (straddling !== undefined && straddling.offset < offset) {
      const length = offset - straddling.offset;
      const bytes = straddling.bytes === null ? null : straddling.bytes.slice(0, length);
      this.insertAt(index, { offset: straddling.offset, length, bytes });
    }
    return chargedBefore - this.charged;
  }

  private insertAt(index: number, piece: QueuedPiece): void {
    this.version++;
    if (index === this.pieces.length) this.pieces.push(piece);
    else this.pieces.splice(index, 0, piece);
    this.charged += pieceChargeBytes(piece.length);
  }

  /** Index of the first piece that ends after `offset` (pieces are sorted and disjoint). */
  private firstEndingAfter(offset: number): number {
    let low = this.first;
    let high = this.pieces.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const piece = this.pieces[middle]!;
      if (piece.offset + piece.length <= offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
