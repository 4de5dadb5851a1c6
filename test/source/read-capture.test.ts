import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { CaptureFormatError, CaptureTruncatedError, InputError } from "../../src/errors.js";
import { captureStream, openCaptureFile, openCaptureInput } from "../../src/source/capture-input.js";
import { readChunkBytes } from "../../src/source/file-chunk-source.js";
import { readCapture } from "../../src/source/read-capture.js";
import type { Frame } from "../../src/source/frame.js";
import { buildPcap, writePcap } from "../../src/wire-format/pcap-file.mjs";
import { buildPcapng, buildPcapngSections, writePcapng } from "../../src/wire-format/pcapng-file.mjs";
import { concatBytes } from "../../src/wire-format/bytes.mjs";
import type { BuiltCapture } from "../../src/wire-format/pcap-file.mjs";
import { chunked, collect, readError, splitAt } from "./read-helpers.js";
import type { Collected } from "./read-helpers.js";
import { pattern, sampleFrames, smallFrames } from "./sample-frames.js";

const tempDir = mkdtempSync(join(tmpdir(), "imds-read-capture-"));
afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

/** A small capture of every format variant, for the exhaustive split and truncation tests. */
function smallCaptures(): Record<string, BuiltCapture> {
  const frames = smallFrames();
  return {
    "pcap little-endian µs": buildPcap(frames),
    "pcap big-endian ns": buildPcap(frames, { byteOrder: "big-endian", timestampPrecision: "nanoseconds" }),
    "pcapng little-endian": buildPcapng(frames),
    "pcapng big-endian, SPB, unknown block, two sections": buildPcapngSections([
      {
        byteOrder: "big-endian",
        interfaces: [{ linkType: 1, tsresol: 0x80 | 10 }],
        records: [
          { kind: "enhanced-packet", frame: frames[0]! },
          { kind: "block", blockType: 0x77, body: pattern(5, 1) },
          { kind: "simple-packet", bytes: pattern(6, 2) },
        ],
      },
      { interfaces: [{ linkType: 113 }], records: [{ kind: "enhanced-packet", frame: { ...frames[1]!, linkType: 113 } }] },
    ]),
  };
}

async function expectSameAs(reference: Collected, input: AsyncIterable<Uint8Array>, label: string): Promise<void> {
  const { frames, result } = await collect(input);
  expect(frames, label).toEqual(reference.frames);
  expect(result, label).toEqual(reference.result);
}

describe("readCapture: any chunking gives the same frames", () => {
  for (const [name, built] of Object.entries(smallCaptures())) {
    it(`${name}: chunks of every size, and split at every byte and every pair of bytes`, async () => {
      const reference = await collect(built.bytes);
      expect(reference.frames.length).toBeGreaterThan(0);
      for (let size = 1; size <= built.bytes.length; size++) {
        await expectSameAs(reference, chunked(built.bytes, size), `chunks of ${size}`);
      }
      for (let cut = 0; cut <= built.bytes.length; cut++) {
        await expectSameAs(reference, splitAt(built.bytes, [cut]), `split at ${cut}`);
      }
      for (let first = 1; first < built.bytes.length; first += 3) {
        for (let second = first; second < built.bytes.length; second += 5) {
          await expectSameAs(reference, splitAt(built.bytes, [first, second]), `split at ${first}, ${second}`);
        }
      }
    });
  }

  it("a file with a jumbo frame, in chunks of 1..64 bytes and larger", async () => {
    for (const built of [buildPcap(sampleFrames()), buildPcapng(sampleFrames(), { byteOrder: "big-endian" })]) {
      const reference = await collect(built.bytes);
      expect(reference.frames.length).toBe(6);
      const sizes = [...Array.from({ length: 64 }, (_, index) => index + 1), 99, 128, 255, 1000, 4095, 4096, 8191, 9000, 9017, 9100];
      for (const size of sizes) await expectSameAs(reference, chunked(built.bytes, size), `chunks of ${size}`);
    }
  });
});

describe("readCapture: truncated files", () => {
  for (const [name, built] of Object.entries(smallCaptures())) {
    it(`${name}: cut at every offset gives a typed error or the complete records before the cut`, async () => {
      const full = await collect(built.bytes);
      const packets = built.records.filter((record) => record.kind === "packet");
      const header = built.records[0]!;
      for (let cut = 0; cut < built.bytes.length; cut++) {
        const label = `cut at ${cut}`;
        const bytes = built.bytes.slice(0, cut);
        if (cut < header.offset + header.length) {
          const error = (await readError(bytes)) as CaptureFormatError;
          expect(error, label).toBeInstanceOf(CaptureFormatError);
          expect(error.byteOffset, label).toBe(0);
          expect(error.message, label).toMatch(cut === 0 ? /: empty file$/ : /file (too short|ends inside)/);
          continue;
        }
        const { frames, result } = await collect(bytes);
        const complete = packets.filter((record) => record.offset + record.length <= cut).length;
        expect(frames, label).toEqual(full.frames.slice(0, complete));
        expect(result.frames, label).toBe(complete);
        expect(result.bytes, label).toBe(cut);
        const cutRecord = built.records.find((record) => record.offset < cut && cut < record.offset + record.length);
        if (cutRecord === undefined) {
          expect(result.truncated, label).toBeNull();
          continue;
        }
        const truncated = result.truncated;
        expect(truncated, label).toBeInstanceOf(CaptureTruncatedError);
        expect(truncated?.byteOffset, label).toBe(cutRecord.offset);
        expect(truncated?.frameNumber, label).toBe(complete + 1);
        const headerBytes = cutRecord.kind === "packet" && built.records[0]!.kind === "file-header" ? 16 : 12;
        const present = cut - cutRecord.offset;
        expect(truncated?.missingBytes, label).toBe(present < headerBytes ? headerBytes - present : cutRecord.length - present);
        expect(truncated?.message, label).toContain(`test.pcap: at byte offset ${cutRecord.offset} (frame ${complete + 1}): capture ends inside`);
      }
    });
  }

  it("says how much of the record is missing", async () => {
    const built = buildPcap(sampleFrames());
    const { result } = await collect(built.bytes.slice(0, built.records[2]!.offset + 16 + 10));
    expect(result.truncated?.message).toBe(
      `test.pcap: at byte offset ${built.records[2]!.offset} (frame 2): capture ends inside a record: 10 of 61 frame bytes present, 51 missing`,
    );
    const ng = buildPcapng(sampleFrames());
    const epb = ng.records[2]!;
    const { result: ngResult } = await collect(ng.bytes.slice(0, epb.offset + 40));
    expect(ngResult.truncated?.message).toBe(
      `test.pcap: at byte offset ${epb.offset} (frame 1): capture ends inside a enhanced packet block: 40 of ${epb.length} bytes present, ${epb.length - 40} missing`,
    );
  });
});

describe("readCapture: sniffing", () => {
  it("rejects an empty file, a short file and an unknown magic", async () => {
    const empty = (await readError(new Uint8Array(0))) as CaptureFormatError;
    expect(empty).toBeInstanceOf(CaptureFormatError);
    expect(empty.message).toBe("test.pcap: at byte offset 0 (frame 1): empty file");
    const short = (await readError(Uint8Array.of(0xd4, 0xc3))) as CaptureFormatError;
    expect(short.message).toBe("test.pcap: at byte offset 0 (frame 1): file too short to be a capture (2 bytes)");
    const html = (await readError(new TextEncoder().encode("<html><body>not a capture</body></html>"))) as CaptureFormatError;
    expect(html).toBeInstanceOf(CaptureFormatError);
    expect(html.message).toBe(
      'test.pcap: at byte offset 0 (frame 1): not a pcap or pcapng file (magic 0x3c68746d ("<htm"); expected pcap a1b2c3d4 or a1b23c4d in either byte order, pcapng 0a0d0d0a, or gzip 1f8b)',
    );
    const binary = (await readError(Uint8Array.of(0, 1, 2, 0xff, 9, 9, 9, 9))) as CaptureFormatError;
    expect(binary.message).toContain("(magic 0x000102ff; expected");
  });

  it("sniffs even when the magic arrives one byte at a time", async () => {
    const bytes = writePcapng(smallFrames());
    const { result } = await collect(chunked(bytes, 1));
    expect(result.format).toBe("pcapng");
    expect(result.frames).toBe(4);
  });
});

describe("readCapture: gzip", () => {
  const plain = writePcap(sampleFrames(), { timestampPrecision: "nanoseconds" });
  const compressed = gzipSync(plain);

  it("decompresses pcap and pcapng, in any chunking, reporting compressed bytes as progress", async () => {
    const reference = await collect(plain);
    for (const size of [1, 7, 100, compressed.length]) {
      const progress: number[] = [];
      const { frames, result } = await collect(chunked(compressed, size), { onProgress: (bytes) => progress.push(bytes) });
      expect(frames).toEqual(reference.frames);
      expect(result).toEqual({ ...reference.result, compressed: true });
      expect(progress.at(-1)).toBe(compressed.length);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    }
    const ng = writePcapng(sampleFrames(113), { byteOrder: "big-endian" });
    const { result } = await collect(gzipSync(ng));
    expect([result.format, result.compressed, result.frames, result.bytes]).toEqual(["pcapng", true, 6, ng.length]);
  });

  it("treats a gzip stream cut short as a truncation, after delivering what it held", async () => {
    const reference = await collect(plain);
    const { frames, result } = await collect(compressed.subarray(0, compressed.length - 4));
    expect(frames).toEqual(reference.frames);
    expect(result.truncated).toBeInstanceOf(CaptureTruncatedError);
    expect(result.truncated?.message).toBe(
      `test.pcap: at byte offset ${plain.length} (frame 7): gzip data ends early (unexpected end of file) after ${plain.length} bytes of capture data`,
    );
    for (let cut = 1; cut < compressed.length; cut += 13) {
      let outcome: Collected | null = null;
      try {
        outcome = await collect(compressed.subarray(0, cut));
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(CaptureFormatError);
        continue;
      }
      expect(outcome.frames, `cut at ${cut}`).toEqual(reference.frames.slice(0, outcome.frames.length));
      expect(outcome.result.truncated, `cut at ${cut}`).toBeInstanceOf(CaptureTruncatedError);
    }
    const headerOnly = (await readError(compressed.subarray(0, 5))) as CaptureFormatError;
    expect(headerOnly.message).toBe("test.pcap: at byte offset 0 (frame 1): gzip data ends before any capture data");
  });

  it("reports corrupt gzip data as a format error", async () => {
    const badChecksum = Uint8Array.from(compressed);
    badChecksum[badChecksum.length - 8]! ^= 0xff; // CRC32 of the trailer
    const delivered: number[] = [];
    let error: unknown = null;
    try {
      await readCapture(captureStream(chunked(badChecksum, 64)), { onFrame: (frame) => delivered.push(frame.number) }, { path: "x.pcap.gz" });
    } catch (caught) {
      error = caught;
    }
    // zlib reports the bad checksum at the end, possibly before handing over the last output.
    expect(error).toBeInstanceOf(CaptureFormatError);
    const formatError = error as CaptureFormatError;
    expect(formatError.message).toBe(
      `x.pcap.gz: at byte offset ${formatError.byteOffset} (frame ${delivered.length + 1}): gzip data is corrupt (incorrect data check)`,
    );
    expect(formatError.byteOffset).toBeGreaterThan(plain.length - 100);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6].slice(0, delivered.length));
    expect(delivered.length).toBeGreaterThanOrEqual(5);
  });

  it("rejects gzip holding something else", async () => {
    const text = (await readError(gzipSync(Buffer.from("hello world")))) as CaptureFormatError;
    expect(text.message).toContain('not a pcap or pcapng file after gzip decompression (magic 0x68656c6c ("hell")');
    expect(((await readError(gzipSync(new Uint8Array(0)))) as CaptureFormatError).message).toContain("empty file (after gzip decompression)");
    expect(((await readError(gzipSync(gzipSync(plain)))) as CaptureFormatError).message).toContain("gzip inside gzip is not supported");
  });
});

describe("readCapture: backpressure and progress", () => {
  it("does not read or parse the next chunk until afterBatch's promise settles", async () => {
    const built = buildPcap(smallFrames());
    const cuts = [built.records[3]!.offset, built.records[4]!.offset];
    const events: string[] = [];
    let pulls = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for await (const chunk of splitAt(built.bytes, cuts)) {
        pulls++;
        events.push(`pull ${pulls}`);
        yield chunk;
      }
    }
    let release: () => void = () => undefined;
    let batches = 0;
    const reading = readCapture(
      captureStream(source()),
      {
        onFrame: (frame: Frame) => events.push(`frame ${frame.number}`),
        afterBatch: () => {
          batches++;
          events.push(`batch ${batches}`);
          if (batches !== 1) return undefined;
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      { path: "test.pcap" },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(["pull 1", "frame 1", "frame 2", "batch 1"]);
    release();
    const result = await reading;
    expect(events).toEqual(["pull 1", "frame 1", "frame 2", "batch 1", "pull 2", "frame 3", "batch 2", "pull 3", "frame 4", "batch 3"]);
    expect(result.frames).toBe(4);
  });

  it("stops and closes the input when afterBatch rejects or onFrame throws", async () => {
    const bytes = writePcap(sampleFrames());
    let closed = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield* chunked(bytes, 100);
      } finally {
        closed++;
      }
    }
    const outputFailed = new Error("output closed");
    await expect(readCapture(captureStream(source()), { onFrame: () => undefined, afterBatch: () => Promise.reject(outputFailed) }, { path: "t" })).rejects.toBe(outputFailed);
    const consumerBug = new TypeError("consumer bug");
    await expect(
      readCapture(captureStream(source()), { onFrame: (frame) => { if (frame.number === 3) throw consumerBug; } }, { path: "t" }),
    ).rejects.toBe(consumerBug);
    expect(closed).toBe(2);
  });

  it("stops a gzip read cleanly when onFrame throws", async () => {
    const compressed = gzipSync(writePcap(sampleFrames()));
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield* chunked(compressed, 10);
      } finally {
        closed = true;
      }
    }
    const consumerBug = new TypeError("consumer bug");
    await expect(readCapture(captureStream(source()), { onFrame: (frame) => { if (frame.number === 2) throw consumerBug; } }, { path: "t.gz" })).rejects.toBe(consumerBug);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(true);
  });

  it("reports consumed input bytes after each chunk", async () => {
    const bytes = writePcap(sampleFrames());
    const progress: number[] = [];
    await collect(chunked(bytes, 1000), { onProgress: (consumed) => progress.push(consumed) });
    const expected = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, index) => Math.min((index + 1) * 1000, bytes.length));
    expect(progress).toEqual(expected);
  });
});

describe("readCapture: input failures", () => {
  it("turns a failing input into an InputError naming the path", async () => {
    async function* failing(code: string | null): AsyncGenerator<Uint8Array> {
      yield writePcap(sampleFrames()).subarray(0, 100);
      await Promise.resolve();
      throw Object.assign(new Error("read failed deep down"), code === null ? {} : { code });
    }
    const eio = await readCapture(captureStream(failing("EIO")), { onFrame: () => undefined }, { path: "/data/a.pcap" }).catch((error: unknown) => error);
    expect(eio).toBeInstanceOf(InputError);
    expect((eio as InputError).message).toBe("/data/a.pcap: I/O error");
    expect((eio as InputError).cause).toBeInstanceOf(Error);
    const other = await readCapture(captureStream(failing(null)), { onFrame: () => undefined }, { path: "/data/a.pcap" }).catch((error: unknown) => error);
    expect((other as InputError).message).toBe("/data/a.pcap: cannot read: read failed deep down");
    const gzipped = gzipSync(writePcap(sampleFrames()));
    async function* failingGzip(): AsyncGenerator<Uint8Array> {
      yield gzipped.subarray(0, 50);
      await Promise.resolve();
      throw Object.assign(new Error("gone"), { code: "EIO" });
    }
    const gz = await readCapture(captureStream(failingGzip()), { onFrame: () => undefined }, { path: "b.pcap.gz" }).catch((error: unknown) => error);
    expect(gz).toBeInstanceOf(InputError);
    expect((gz as InputError).message).toBe("b.pcap.gz: I/O error");
  });
});

describe("openCaptureFile", () => {
  it("reads a file in chunks of readChunkBytes into one reused buffer", async () => {
    // ~6 MB: many chunks, with records straddling every chunk boundary.
    const frames = Array.from({ length: 4000 }, (_, index) => ({
      linkType: 1,
      timestampSeconds: 1_700_000_000 + index,
      timestampNanos: index * 1000,
      bytes: pattern(1000 + (index % 600), index),
    }));
    const path = join(tempDir, "big.pcap");
    const bytes = writePcap(frames);
    writeFileSync(path, bytes);
    const file = openCaptureFile(path);
    expect(file.kind).toBe("file");
    let checksum = 0;
    let count = 0;
    let lengthsMatch = true;
    const progress: number[] = [];
    // Frames point into the buffer their chunk was read into: a reused buffer shows as one
    // ArrayBuffer behind nearly every frame (the others: the first chunk, read while sniffing,
    // and the carry buffer of records that straddle two chunks).
    const buffers = new Set<ArrayBufferLike>();
    const result = await readCapture(file, {
      onFrame(frame) {
        buffers.add(frame.data.buffer);
        const source = frames[count++]!;
        if (frame.bytes.length !== source.bytes.length || frame.timestampSeconds !== source.timestampSeconds) lengthsMatch = false;
        for (const byte of frame.bytes) checksum = (checksum * 31 + byte) >>> 0;
      },
    }, { path, onProgress: (consumed) => progress.push(consumed) });
    const chunks = Math.ceil(bytes.length / readChunkBytes);
    expect(progress).toEqual(Array.from({ length: chunks }, (_, index) => Math.min((index + 1) * readChunkBytes, bytes.length)));
    expect(chunks).toBeGreaterThan(30);
    expect(buffers.size).toBeLessThanOrEqual(4);
    let expectedChecksum = 0;
    for (const frame of frames) for (const byte of frame.bytes) expectedChecksum = (expectedChecksum * 31 + byte) >>> 0;
    expect([result.frames, result.bytes, lengthsMatch, checksum]).toEqual([4000, bytes.length, true, expectedChecksum]);
  });

  it("fails at once with an InputError for a missing file or a directory", () => {
    const missing = join(tempDir, "nope.pcap");
    expect(() => openCaptureFile(missing)).toThrow(new InputError(missing, "no such file or directory"));
    expect(() => openCaptureFile(tempDir)).toThrow(new InputError(tempDir, "is a directory, not a capture file"));
    try {
      openCaptureFile(missing);
    } catch (error) {
      expect((error as InputError).code).toBe("E_IO");
      expect((error as InputError).path).toBe(missing);
    }
  });

  it("uses the given standard input for -", async () => {
    const stdin = chunked(concatBytes([writePcap(smallFrames())]), 10);
    expect(openCaptureInput("-", stdin)).toEqual({ kind: "stream", chunks: stdin });
    const { result } = await collect(openCaptureInput("-", stdin));
    expect(result.frames).toBe(4);
  });
});
