import type { CaptureFile } from "./capture-file.js";
import { ChunkSource } from "./chunk-source.js";
import { allocateReadBuffer } from "./read-buffer.js";

/**
 * Read size for capture files. Measured on files in the page cache (bench/README.md): 64-128 KiB
 * reads run at ~8 GB/s, while 192 KiB and larger ones drop to ~2 GB/s (the destination buffer
 * no longer stays in the CPU cache while the kernel copies into it). 128 KiB also keeps the
 * number of reads, and so the per-read overhead, small.
 */
export const readChunkBytes = 128 * 1024;
/**
 * Synchronous reads never give the event loop a turn by themselves: reading yields to it (output,
 * signals, timers) at least this often.
 */
const yieldEveryBytes = 64 * 1024 * 1024;

/**
 * Chunks of a capture file. Until `reuseChunks`, each read gets a fresh buffer (sniffing keeps
 * chunks to push them back; gzip's decompressor keeps them after asking for the next); after it,
 * every read fills the same buffer, synchronously when `nextNow` is asked.
 */
export class FileChunkSource extends ChunkSource {
  inputBytes = 0;
  private reusedBuffer: Uint8Array | null = null;
  private sinceYieldBytes = 0;

  constructor(private readonly file: CaptureFile) {
    super();
  }

  override reuseChunks(): void {
    this.reusedBuffer ??= allocateReadBuffer(readChunkBytes);
  }

  protected async pull(): Promise<Uint8Array | null> {
    if (this.yieldDue) {
      this.sinceYieldBytes = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return this.read(this.reusedBuffer ?? allocateReadBuffer(readChunkBytes));
  }

  /** A reused-buffer read, unless it is time to let the event loop run (then: ask `next`). */
  protected override pullNow(): Uint8Array | null | undefined {
    if (this.reusedBuffer === null || this.yieldDue) return undefined;
    return this.read(this.reusedBuffer);
  }

  private get yieldDue(): boolean {
    return this.sinceYieldBytes >= yieldEveryBytes;
  }

  private read(buffer: Uint8Array): Uint8Array | null {
    const chunk = this.file.readInto(buffer);
    if (chunk === null) return null;
    this.inputBytes += chunk.length;
    this.sinceYieldBytes += chunk.length;
    return chunk;
  }

  close(): Promise<void> {
    this.file.close();
    return Promise.resolve();
  }
}
