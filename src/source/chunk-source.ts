import { sniffBytes } from "./sniff.js";

/**
 * A pull-based stream of chunks with push-back (for sniffing the format), read by
 * `readCapture`. Errors are typed: an InputError for a failing input, a CompressedDataError for
 * corrupt gzip data.
 */
export abstract class ChunkSource {
  /** Input bytes consumed so far (compressed bytes for gzip). */
  abstract readonly inputBytes: number;
  /** True when compressed data stopped before its end marker. */
  endedEarly = false;
  private readonly pushedBack: Uint8Array[] = [];

  /** The next chunk, or null at the end of the stream. */
  async next(): Promise<Uint8Array | null> {
    const chunk = this.pushedBack.shift();
    return chunk ?? (await this.pull());
  }

  /** The next chunk (or null at the end) when it can be had without waiting; else undefined. */
  nextNow(): Uint8Array | null | undefined {
    return this.pushedBack.shift() ?? this.pullNow();
  }

  unread(chunks: readonly Uint8Array[]): void {
    this.pushedBack.unshift(...chunks);
  }

  /**
   * From now on every chunk is consumed before the next is asked for (not while sniffing, which
   * pushes chunks back), so a source may hand out one reused buffer. Sources that cannot, don't.
   */
  reuseChunks(): void {
    // Streams hand over their own chunks.
  }

  protected abstract pull(): Promise<Uint8Array | null>;

  /** A chunk without waiting, when this source can; undefined sends the caller to `next`. */
  protected pullNow(): Uint8Array | null | undefined {
    return undefined;
  }

  /** Stops the input early (on an error) or releases it at the end. */
  abstract close(): Promise<void>;
}

/** The first `sniffBytes` bytes (fewer if the stream is shorter), leaving them to be read again. */
export async function peek(source: ChunkSource): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length < sniffBytes) {
    const chunk = await source.next();
    if (chunk === null) break;
    chunks.push(chunk);
    length += chunk.byteLength;
  }
  source.unread(chunks);
  const head = new Uint8Array(Math.min(length, sniffBytes));
  let filled = 0;
  for (const chunk of chunks) {
    if (filled === head.length) break;
    const part = chunk.subarray(0, head.length - filled);
    head.set(part, filled);
    filled += part.length;
  }
  return head;
}
