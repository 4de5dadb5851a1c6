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

export class OutOfOrderQueue {
  /** Sorted pieces from index `first` on; the slots before it were shifted out. */
  private pieces: (QueuedPiece | undefined)[] = [];
  /** `Array.prototype.shift` is O(n) once an array passes ~16k elements: keep a head index. */
  private first = 0;
  private charged = 0;

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
   * What inserting the range [start, end) would add to `chargedBytes`; 0 when queued pieces
   * already cover all of it. Bytes from `capturedEnd` on are missing (snaplen cut).
   */
  chargeToInsert(start: number, end: number, capturedEnd: number): number {
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
      if (cursor < capturedEnd) charge += pieceChargeBytes(Math.min(stop, capturedEnd) - cursor);
      if (stop > capturedEnd) charge += pieceChargeBytes(stop - Math.max(cursor, capturedEnd));
      cursor = stop;
    }
    return charge;
  }

  /**
   * Copies the parts of [start, end) that no queued piece covers. `payload[0]` is at stream
   * offset `payloadOffset`; bytes from `capturedEnd` on are queued as missing. Returns the
   * charge added.
   */
  insert(payload: Uint8Array, payloadOffset: number, start: number, end: number, capturedEnd: number): number {
    const chargedBefore = this.charged;
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
      if (cursor < capturedEnd) {
        const dataEnd = Math.min(stop, capturedEnd);
        const bytes = payload.slice(cursor - payloadOffset, dataEnd - payloadOffset);
        this.insertAt(index++, { offset: cursor, length: dataEnd - cursor, bytes });
      }
      if (stop > capturedEnd) {
        const missingStart = Math.max(cursor, capturedEnd);
        this.insertAt(index++, { offset: missingStart, length: stop - missingStart, bytes: null });
      }
      cursor = stop;
    }
    return this.charged - chargedBefore;
  }

  /** Drops everything at or after `offset` (data past a FIN). Returns the charge released. */
  discardFrom(offset: number): number {
    const chargedBefore = this.charged;
    const index = this.firstEndingAfter(offset);
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
