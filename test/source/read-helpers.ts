import { captureStream } from "../../src/source/capture-input.js";
import type { CaptureInput } from "../../src/source/capture-input.js";
import { readCapture } from "../../src/source/read-capture.js";
import type { CaptureReadOptions, CaptureReadResult, FrameConsumer } from "../../src/source/types.js";
import type { Frame } from "../../src/source/frame.js";

/** A frame copied out of the reader's reused object: its fields, and its captured bytes. */
export interface FrameCopy {
  readonly number: number;
  readonly linkType: number;
  readonly timestampSeconds: number;
  readonly timestampNanos: number;
  readonly timePrecisionDigits: number;
  readonly bytes: number[];
  readonly originalLength: number;
  readonly byteOffset: number;
  readonly interfaceId: number;
}

export function copyFrame(frame: Frame): FrameCopy {
  return {
    number: frame.number,
    linkType: frame.linkType,
    timestampSeconds: frame.timestampSeconds,
    timestampNanos: frame.timestampNanos,
    timePrecisionDigits: frame.timePrecisionDigits,
    bytes: Array.from(frame.bytes),
    originalLength: frame.originalLength,
    byteOffset: frame.byteOffset,
    interfaceId: frame.interfaceId,
  };
}

/** `bytes` as a stream of `chunkSize`-byte chunks (fresh buffers, as Node streams give). */
export async function* chunked(bytes: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    await Promise.resolve(); // each chunk arrives asynchronously, as from a stream
    yield bytes.slice(offset, Math.min(offset + chunkSize, bytes.length));
  }
}

/** `bytes` cut into pieces at the given offsets. */
export async function* splitAt(bytes: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    await Promise.resolve();
    yield bytes.slice(start, cut);
    start = cut;
  }
}

export interface Collected {
  readonly frames: FrameCopy[];
  readonly result: CaptureReadResult;
  readonly warnings: { code: string; message: string }[];
}

/** Reads a capture (bytes, a stream of chunks, or an opened input) and copies every frame out. */
export async function collect(
  input: CaptureInput | AsyncIterable<Uint8Array> | Uint8Array,
  options: Partial<CaptureReadOptions> = {},
): Promise<Collected> {
  const frames: FrameCopy[] = [];
  const warnings: { code: string; message: string }[] = [];
  const consumer: FrameConsumer = {
    onFrame(frame) {
      frames.push(copyFrame(frame));
    },
  };
  const source =
    input instanceof Uint8Array ? captureStream(chunked(input, Math.max(1, input.length))) : "kind" in input ? input : captureStream(input);
  const result = await readCapture(source, consumer, {
    path: "test.pcap",
    warn: (code, message) => warnings.push({ code, message }),
    ...options,
  });
  return { frames, result, warnings };
}

/** Reads a capture expecting it to fail; returns the error. */
export async function readError(input: AsyncIterable<Uint8Array> | Uint8Array): Promise<unknown> {
  try {
    await collect(input);
  } catch (error) {
    return error;
  }
  throw new Error("expected the read to fail");
}
