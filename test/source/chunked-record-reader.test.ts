import { describe, expect, it } from "vitest";
import { ChunkedRecordReader } from "../../src/source/chunked-record-reader.js";
import { PcapParser } from "../../src/source/pcap.js";
import { PcapngParser } from "../../src/source/pcapng.js";
import type { RecordParser } from "../../src/source/record-parser.js";
import type { FrameConsumer } from "../../src/source/types.js";
import { writePcap } from "../../src/wire-format/pcap-file.mjs";
import { writePcapng } from "../../src/wire-format/pcapng-file.mjs";
import type { FrameCopy } from "./read-helpers.js";
import { copyFrame } from "./read-helpers.js";
import { sampleFrames } from "./sample-frames.js";

/**
 * Pushes `bytes` in `chunkSize` pieces through one reused buffer, overwritten with 0xee after
 * every push: the reader must copy a record that straddles chunks, never keep a view into one.
 */
function readThroughReusedBuffer(bytes: Uint8Array, chunkSize: number, makeParser: (consumer: FrameConsumer) => RecordParser): FrameCopy[] {
  const frames: FrameCopy[] = [];
  const reader = new ChunkedRecordReader(makeParser({ onFrame: (frame) => frames.push(copyFrame(frame)) }));
  const buffer = new Uint8Array(chunkSize);
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    const piece = bytes.subarray(offset, Math.min(offset + chunkSize, bytes.length));
    buffer.set(piece);
    reader.push(buffer.subarray(0, piece.length));
    buffer.fill(0xee);
  }
  expect(reader.finish()).toBeNull();
  expect(reader.bytesPushed).toBe(bytes.length);
  return frames;
}

describe("ChunkedRecordReader", () => {
  const cases = [
    { name: "pcap", bytes: writePcap(sampleFrames()), makeParser: (consumer: FrameConsumer) => new PcapParser(consumer, "t") },
    { name: "pcapng", bytes: writePcapng(sampleFrames(), { byteOrder: "big-endian" }), makeParser: (consumer: FrameConsumer) => new PcapngParser(consumer, "t") },
  ];
  for (const { name, bytes, makeParser } of cases) {
    it(`${name}: copies records that straddle chunks out of a reused input buffer`, () => {
      const reference = readThroughReusedBuffer(bytes, bytes.length, makeParser);
      expect(reference.map((frame) => frame.bytes.length)).toEqual([60, 61, 0, 1, 9000, 3]);
      for (const size of [1, 2, 3, 5, 16, 17, 64, 100, 1000, 4096, 8999, 9001]) {
        expect(readThroughReusedBuffer(bytes, size, makeParser), `chunks of ${size}`).toEqual(reference);
      }
    });
  }
});
