/**
 * Property tests of the capture readers (pcap, pcapng, gzip, `readCapture`): whatever the bytes
 * and however they are split into chunks, a reader returns the same frames and ends the same way,
 * with either nothing wrong, a truncation naming where the file ended, or a CaptureFormatError
 * naming the byte offset and frame; never another exception, and never a buffer past its limit.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CaptureFormatError, ErrorCode } from "../../src/errors.js";
import type { CaptureTruncatedError } from "../../src/errors.js";
import { ChunkedRecordReader } from "../../src/source/chunked-record-reader.js";
import { captureLimits } from "../../src/source/limits.js";
import { PcapParser } from "../../src/source/pcap.js";
import { PcapngParser } from "../../src/source/pcapng.js";
import { captureStream } from "../../src/source/capture-input.js";
import { readCapture } from "../../src/source/read-capture.js";
import type { RecordParser } from "../../src/source/record-parser.js";
import type { FrameConsumer } from "../../src/source/types.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";
import { captureArbitrary, cutPoints, mutate, mutationArbitrary, piecesAt } from "./capture-arbitraries.js";
import type { GeneratedCapture } from "./capture-arbitraries.js";
import { copyFrame } from "../source/read-helpers.js";
import type { FrameCopy } from "../source/read-helpers.js";

const path = "fuzz.cap";

/** What every capture error message starts with. */
const positionPattern = /^fuzz\.cap: at byte offset (\d+) \(frame (\d+)\): \S/;

interface EndState {
  readonly code: string;
  readonly message: string;
  readonly byteOffset: number;
  readonly frameNumber: number;
}

interface ReadOutcome {
  readonly frames: FrameCopy[];
  readonly error: EndState | null;
  readonly truncated: EndState | null;
  /** Largest `pendingLength` the parser asked for: what bounds the carry buffer. */
  readonly maxPendingLength: number;
}

function endState(error: CaptureFormatError | CaptureTruncatedError): EndState {
  return { code: error.code, message: error.message, byteOffset: error.byteOffset, frameNumber: error.frameNumber };
}

/** Reads `pieces` synchronously through the chunked reader, as readCapture does. */
function readSync(format: "pcap" | "pcapng", pieces: readonly Uint8Array[]): ReadOutcome {
  const frames: FrameCopy[] = [];
  const consumer: FrameConsumer = { onFrame: (frame) => frames.push(copyFrame(frame)) };
  const parser: RecordParser = format === "pcap" ? new PcapParser(consumer, path) : new PcapngParser(consumer, path, () => undefined);
  const reader = new ChunkedRecordReader(parser);
  let maxPendingLength = parser.pendingLength;
  try {
    for (const piece of pieces) {
      // The reader may keep no view of a chunk: scribble over it once pushed.
      const scratch = piece.slice();
      reader.push(scratch);
      scratch.fill(0xee);
      maxPendingLength = Math.max(maxPendingLength, parser.pendingLength);
    }
    const truncated = reader.finish();
    return { frames, error: null, truncated: truncated === null ? null : endState(truncated), maxPendingLength };
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    return { frames, error: endState(error), truncated: null, maxPendingLength };
  }
}

/** The checks every outcome must pass, whatever the input. */
function expectWellFormed(outcome: ReadOutcome, inputLength: number): void {
  for (const state of [outcome.error, outcome.truncated]) {
    if (state === null) continue;
    const match = positionPattern.exec(state.message);
    expect(match, state.message).not.toBeNull();
    expect(Number(match![1])).toBe(state.byteOffset);
    expect(Number(match![2])).toBe(state.frameNumber);
    expect(state.byteOffset).toBeLessThanOrEqual(inputLength);
    expect(state.frameNumber).toBe(outcome.frames.length + 1);
  }
  if (outcome.error !== null) expect(outcome.error.code).toBe(ErrorCode.captureFormat);
  if (outcome.truncated !== null) expect(outcome.truncated.code).toBe(ErrorCode.captureTruncated);
  // Work bound: a record is at least 12 bytes (pcapng) / 16 bytes (pcap record header).
  expect(outcome.frames.length).toBeLessThanOrEqual(Math.floor(inputLength / 12));
  // Memory bound: the carry buffer never has to hold more than one block at the limit.
  expect(outcome.maxPendingLength).toBeLessThanOrEqual(captureLimits.maxBlockBytes);
  let previousOffset = -1;
  outcome.frames.forEach((frame, index) => {
    expect(frame.number).toBe(index + 1);
    expect(frame.byteOffset).toBeGreaterThan(previousOffset);
    previousOffset = frame.byteOffset;
    expect(frame.timestampNanos).toBeGreaterThanOrEqual(0);
    expect(frame.timestampNanos).toBeLessThan(1_000_000_000);
    expect(frame.bytes.length).toBeLessThanOrEqual(captureLimits.maxCaptureLengthBytes);
  });
}

const rawCuts = fc.array(fc.nat(), { maxLength: 8 });

describe("capture record readers (pcap, pcapng) under fuzzing", () => {
  it(
    "a valid capture: every packet record comes back, the same however it is chunked",
    () => {
      fc.assert(
        fc.property(captureArbitrary, rawCuts, (capture: GeneratedCapture, raw) => {
          const bytes = capture.built.bytes;
          const whole = readSync(capture.format, [bytes]);
          expectWellFormed(whole, bytes.length);
          expect(whole.error).toBeNull();
          expect(whole.truncated).toBeNull();
          expect(whole.frames.length).toBe(capture.packets);
          const split = readSync(capture.format, piecesAt(bytes, cutPoints(raw, bytes.length)));
          expect(split.frames).toEqual(whole.frames);
          expect(split.error).toEqual(whole.error);
          expect(split.truncated).toEqual(whole.truncated);
        }),
        fuzzParameters(300),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a valid capture cut short: the frames before the cut, and a truncation at the cut record",
    () => {
      fc.assert(
        fc.property(captureArbitrary, fc.nat(), rawCuts, (capture: GeneratedCapture, rawCut, raw) => {
          const full = capture.built;
          const cut = rawCut % (full.bytes.length + 1);
          const bytes = full.bytes.subarray(0, cut);
          const outcome = readSync(capture.format, piecesAt(bytes, cutPoints(raw, bytes.length)));
          expectWellFormed(outcome, bytes.length);
          const complete = full.records.filter((record) => record.offset + record.length <= cut);
          const completePackets = complete.filter((record) => record.kind === "packet").length;
          const reference = readSync(capture.format, [full.bytes]);
          expect(outcome.frames).toEqual(reference.frames.slice(0, completePackets));
          const firstRecord = full.records[0]!;
          const cutRecord = full.records.find((record) => record.offset < cut && cut < record.offset + record.length);
          if (cut < firstRecord.length) {
            // Inside the file header (pcap) or first section header (pcapng): not a capture yet.
            expect(outcome.error?.byteOffset).toBe(0);
          } else if (cutRecord === undefined) {
            expect(outcome.error).toBeNull();
            expect(outcome.truncated).toBeNull();
          } else {
            expect(outcome.error).toBeNull();
            expect(outcome.truncated?.byteOffset).toBe(cutRecord.offset);
          }
        }),
        fuzzParameters(300),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a mutated capture: a typed error naming the offset or frames, the same however it is chunked",
    () => {
      fc.assert(
        fc.property(
          captureArbitrary,
          fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
          rawCuts,
          (capture: GeneratedCapture, mutations, raw) => {
            const bytes = mutate(capture.built.bytes, capture.built.records, mutations);
            const whole = readSync(capture.format, [bytes]);
            expectWellFormed(whole, bytes.length);
            const split = readSync(capture.format, piecesAt(bytes, cutPoints(raw, bytes.length)));
            expectWellFormed(split, bytes.length);
            expect(split.frames).toEqual(whole.frames);
            expect(split.error).toEqual(whole.error);
            expect(split.truncated).toEqual(whole.truncated);
          },
        ),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "byte soup behind a valid magic: only typed errors",
    () => {
      const heads = [
        [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
        [0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
        [0x0a, 0x0d, 0x0d, 0x0a],
        [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0],
        [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0],
      ];
      fc.assert(
        fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 200 }), rawCuts, (head, tail, raw) => {
          const bytes = Uint8Array.from([...head, ...tail]);
          const format = head[0] === 0x0a ? "pcapng" : "pcap";
          const whole = readSync(format, [bytes]);
          expectWellFormed(whole, bytes.length);
          const split = readSync(format, piecesAt(bytes, cutPoints(raw, bytes.length)));
          expect(split.frames).toEqual(whole.frames);
          expect(split.error).toEqual(whole.error);
          expect(split.truncated).toEqual(whole.truncated);
        }),
        fuzzParameters(400),
      );
    },
    fuzzTimeoutMs,
  );
});

async function* streamOf(pieces: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) {
    await Promise.resolve();
    yield piece;
  }
}

interface AsyncOutcome {
  readonly frames: FrameCopy[];
  readonly error: EndState | null;
  readonly truncated: EndState | null;
  readonly compressed: boolean | null;
}

async function readAsync(pieces: readonly Uint8Array[]): Promise<AsyncOutcome> {
  const frames: FrameCopy[] = [];
  try {
    const result = await readCapture(captureStream(streamOf(pieces)), { onFrame: (frame) => frames.push(copyFrame(frame)) }, { path, warn: () => undefined });
    expect(result.frames).toBe(frames.length);
    return { frames, error: null, truncated: result.truncated === null ? null : endState(result.truncated), compressed: result.compressed };
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    return { frames, error: endState(error), truncated: null, compressed: null };
  }
}

function expectPositionsNamed(outcome: AsyncOutcome): void {
  for (const state of [outcome.error, outcome.truncated]) {
    if (state === null) continue;
    const match = positionPattern.exec(state.message);
    expect(match, state.message).not.toBeNull();
    expect(Number(match![1])).toBe(state.byteOffset);
    expect(state.frameNumber).toBe(outcome.frames.length + 1);
  }
}

describe("readCapture (sniffing, gzip) under fuzzing", () => {
  it(
    "gzip of a valid capture, in any chunks: the same frames as the plain file",
    async () => {
      await fc.assert(
        fc.asyncProperty(captureArbitrary, rawCuts, async (capture: GeneratedCapture, raw) => {
          const plain = await readAsync([capture.built.bytes]);
          expect(plain.error).toBeNull();
          const compressed = gzipSync(capture.built.bytes);
          const outcome = await readAsync(piecesAt(compressed, cutPoints(raw, compressed.length)));
          expect(outcome.compressed).toBe(true);
          expect(outcome.frames).toEqual(plain.frames);
          expect(outcome.error).toBeNull();
          expect(outcome.truncated).toBeNull();
        }),
        fuzzParameters(60, 5),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "gzip cut short: the frames before the cut and a truncation, or a typed error",
    async () => {
      await fc.assert(
        fc.asyncProperty(captureArbitrary, fc.nat(), async (capture: GeneratedCapture, rawCut) => {
          const plain = await readAsync([capture.built.bytes]);
          const compressed = gzipSync(capture.built.bytes);
          const cut = rawCut % compressed.length;
          const outcome = await readAsync([compressed.subarray(0, cut)]);
          expectPositionsNamed(outcome);
          expect(outcome.frames).toEqual(plain.frames.slice(0, outcome.frames.length));
          if (outcome.error === null) expect(outcome.truncated).not.toBeNull();
          else expect(outcome.error.code).toBe(ErrorCode.captureFormat);
        }),
        fuzzParameters(60, 5),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "corrupt gzip or mutated plain capture through readCapture: returns or throws a typed error",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          captureArbitrary,
          fc.boolean(),
          fc.array(mutationArbitrary, { minLength: 1, maxLength: 4 }),
          rawCuts,
          async (capture: GeneratedCapture, compress, mutations, raw) => {
            const original = compress ? new Uint8Array(gzipSync(capture.built.bytes)) : capture.built.bytes;
            const records = compress ? [{ kind: "block" as const, offset: 0, length: original.length }] : capture.built.records;
            const bytes = mutate(original, records, mutations);
            const outcome = await readAsync(piecesAt(bytes, cutPoints(raw, bytes.length)));
            expectPositionsNamed(outcome);
            if (outcome.error !== null) expect(outcome.error.code).toBe(ErrorCode.captureFormat);
          },
        ),
        fuzzParameters(80, 5),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "arbitrary leading bytes: a typed error unless they happen to make a capture",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), rawCuts, async (bytes, raw) => {
          const outcome = await readAsync(piecesAt(bytes, cutPoints(raw, bytes.length)));
          expectPositionsNamed(outcome);
          if (outcome.error !== null) expect(outcome.error.code).toBe(ErrorCode.captureFormat);
        }),
        fuzzParameters(200, 2),
      );
    },
    fuzzTimeoutMs,
  );
});
