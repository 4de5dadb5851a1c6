import { ChunkSource } from "./chunk-source.js";
import { toInputError } from "./input-error.js";

/** Chunks of any stream (standard input, a test's pieces), as it hands them over. */
export class StreamChunkSource extends ChunkSource {
  inputBytes = 0;
  private iteratorOrNull: AsyncIterator<Uint8Array> | null = null;

  constructor(
    private readonly chunks: AsyncIterable<Uint8Array>,
    private readonly path: string,
  ) {
    super();
  }

  private get iterator(): AsyncIterator<Uint8Array> {
    this.iteratorOrNull ??= this.chunks[Symbol.asyncIterator]();
    return this.iteratorOrNull;
  }

  protected async pull(): Promise<Uint8Array | null> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.iterator.next();
    } catch (error) {
      throw toInputError(error, this.path);
    }
    if (result.done === true) return null;
    this.inputBytes += result.value.byteLength;
    return result.value;
  }

  async close(): Promise<void> {
    if (this.iteratorOrNull === null) return;
    try {
      await this.iteratorOrNull.return?.();
    } catch {
      // The read already failed or finished; the original outcome is what matters.
    }
  }
}
