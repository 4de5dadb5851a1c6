import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { ReadAhead, ReadAheadError, readAheadSlots } from "../../src/source/read-ahead.js";
import { CaptureFile, readCapture } from "../../src/source/read-capture.js";
import { writePcap } from "../helpers/capture-writer.js";
import { pattern } from "./sample-frames.js";

const tempDir = mkdtempSync(join(tmpdir(), "imds-read-ahead-"));
afterAll(() => {
  rmSync(tempDir, { recursive: true, force: true });
});

/** Bytes that differ at every offset (so a chunk delivered twice or out of place shows). */
function fileBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 7 + (index >>> 8) * 13 + (index >>> 16)) & 0xff;
  return bytes;
}

function readAll(readAhead: ReadAhead): { bytes: number[]; chunkLengths: number[] } {
  const bytes: number[] = [];
  const chunkLengths: number[] = [];
  for (let chunk = readAhead.next(); chunk !== null; chunk = readAhead.next()) {
    chunkLengths.push(chunk.length);
    for (const byte of chunk) bytes.push(byte);
  }
  return { bytes, chunkLengths };
}

describe("ReadAhead", () => {
  it("delivers the file from the given position, in order, once, through many turns of the ring", async () => {
    const slotBytes = 4096;
    // Many more chunks than slots, and a short last chunk.
    const content = fileBytes(slotBytes * readAheadSlots * 5 + 1234);
    const path = join(tempDir, "content.bin");
    writeFileSync(path, content);
    const fd = openSync(path, "r");
    try {
      for (const [start, readHereFirst] of [[0, false], [1, false], [4095, false], [50_000, false], [0, true], [7, true]] as const) {
        // readHereFirst false: every chunk comes through the ring filled by the reader thread.
        const readAhead = new ReadAhead(fd, start, slotBytes, readHereFirst);
        const { bytes, chunkLengths } = readAll(readAhead);
        await readAhead.close();
        expect(bytes.length).toBe(content.length - start);
        expect(Buffer.from(bytes).equals(Buffer.from(content.subarray(start)))).toBe(true);
        expect(chunkLengths.slice(0, -1).every((length) => length === slotBytes)).toBe(true);
        expect(readAhead.next()).toBeNull();
      }
    } finally {
      closeSync(fd);
    }
  });

  it("gives null at once for an empty rest of file, and stops cleanly when closed early", async () => {
    const path = join(tempDir, "small.bin");
    writeFileSync(path, fileBytes(10_000));
    const fd = openSync(path, "r");
    try {
      const atEnd = new ReadAhead(fd, 10_000, 1024, false);
      expect(atEnd.next()).toBeNull();
      await atEnd.close();
      const early = new ReadAhead(fd, 0, 1024);
      expect(early.next()?.length).toBe(1024);
      await early.close();
      await early.close();
      expect(early.next()).toBeNull();
    } finally {
      closeSync(fd);
    }
  });

  it("reports a failing read with its errno code", async () => {
    const fd = openSync(tempDir, "r"); // a directory: read(2) fails with EISDIR
    try {
      const readAhead = new ReadAhead(fd, 0, 1024, false);
      let failure: unknown;
      try {
        readAll(readAhead);
      } catch (error) {
        failure = error;
      }
      await readAhead.close();
      expect(failure).toBeInstanceOf(ReadAheadError);
      expect((failure as ReadAheadError).code).toBe("EISDIR");
    } finally {
      closeSync(fd);
    }
  });
});

describe("readCapture through a read-ahead CaptureFile", () => {
  it("gives the same frames as a plain read, with records straddling every slot boundary", async () => {
    const frames = Array.from({ length: 3000 }, (_, index) => ({
      linkType: 1,
      timestampSeconds: 1_700_000_000 + index,
      timestampNanos: index * 1000,
      bytes: pattern(700 + (index % 900), index),
    }));
    const content = writePcap(frames);
    const path = join(tempDir, "frames.pcap");
    writeFileSync(path, content);
    const checksums: number[] = [];
    for (const readAheadFromBytes of [0, Number.MAX_SAFE_INTEGER]) {
      let checksum = 0;
      let count = 0;
      const file = new CaptureFile(path, openSync(path, "r"), content.length, readAheadFromBytes);
      const result = await readCapture(file, {
        onFrame(frame) {
          count++;
          for (const byte of frame.bytes) checksum = (checksum * 31 + byte) >>> 0;
          checksum = (checksum + frame.timestampSeconds) >>> 0;
        },
      }, { path });
      expect([result.frames, count, result.bytes, result.truncated]).toEqual([3000, 3000, content.length, null]);
      checksums.push(checksum);
    }
    expect(checksums[0]).toBe(checksums[1]);
  });

  it("turns a read error on the reader thread into an InputError naming the file", async () => {
    const path = join(tempDir, "frames.pcap");
    const file = new CaptureFile(path, openSync(tempDir, "r"), 1_000_000, 0);
    // Sniffing reads on the main thread first: a directory fails there already, as an InputError.
    const error = await readCapture(file, { onFrame: () => undefined }, { path }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe(`${path}: is a directory, not a capture file`);
  });
});
