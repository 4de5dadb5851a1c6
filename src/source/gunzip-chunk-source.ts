import { Readable, pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import { ImdsAnalyzerError } from "../errors.js";
import { ChunkSource } from "./chunk-source.js";
import { errorCodeOf } from "./input-error.js";

/** Output chunk size of the gzip decompressor: it yields to the event loop between chunks. */
const gunzipChunkBytes = 256 * 1024;

/** The gzip stream is corrupt (as opposed to cut short, which is a truncation: `endedEarly`). */
export class CompressedDataError extends Error {}

/** The decompressed chunks of a gzip-compressed source. */
export class GunzipChunkSource extends ChunkSource {
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(private readonly compressed: ChunkSource) {
    super();
    const gunzip = createGunzip({ chunkSize: gunzipChunkBytes });
    // Errors reach us through the gunzip iterator (pipeline destroys it with the source's error).
    pipeline(Readable.from(compressedChunks(compressed), { objectMode: false }), gunzip, ignoreError);
    this.iterator = gunzip[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  }

  get inputBytes(): number {
    return this.compressed.inputBytes;
  }

  protected async pull(): Promise<Uint8Array | null> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.iterator.next();
    } catch (error) {
      if (error instanceof ImdsAnalyzerError) throw error;
      const code = errorCodeOf(error);
      if (code === "Z_BUF_ERROR") {
        this.endedEarly = true; // "unexpected end of file": everything before it was delivered
        return null;
      }
      if (code?.startsWith("Z_") === true) {
        throw new CompressedDataError(error instanceof Error ? error.message : String(error), { cause: error });
      }
      throw error;
    }
    return result.done === true ? null : result.value;
  }

  /** Stops decompressing; the compressed source is closed by its owner. */
  async close(): Promise<void> {
    try {
      await this.iterator.return?.();
    } catch {
      // The read already failed or finished; the original outcome is what matters.
    }
  }
}

async function* compressedChunks(source: ChunkSource): AsyncGenerator<Uint8Array> {
  while (true) {
    const chunk = await source.next();
    if (chunk === null) return;
    yield chunk;
  }
}

function ignoreError(): void {
  // pipeline() requires a callback; its error is the one the gunzip iterator throws.
}
