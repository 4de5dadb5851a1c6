import { describe, expect, it } from "vitest";
import { CaptureFormatError } from "../../src/errors.js";
import { buildPcap, writePcap } from "../../src/wire-format/pcap-file.mjs";
import type { ByteOrder, CaptureFrame } from "../../src/wire-format/pcap-file.mjs";
import { collect, readError } from "./read-helpers.js";
import { expectedNanos, pattern, sampleFrames } from "./sample-frames.js";

function setUint32(bytes: Uint8Array, offset: number, value: number, littleEndian = true): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, value, littleEndian);
}

describe("classic pcap", () => {
  const variants: [ByteOrder, "microseconds" | "nanoseconds"][] = [
    ["little-endian", "microseconds"],
    ["little-endian", "nanoseconds"],
    ["big-endian", "microseconds"],
    ["big-endian", "nanoseconds"],
  ];
  for (const [byteOrder, timestampPrecision] of variants) {
    it(`reads ${byteOrder} files with ${timestampPrecision}`, async () => {
      const frames = sampleFrames(113);
      const built = buildPcap(frames, { byteOrder, timestampPrecision });
      const { frames: read, result, warnings } = await collect(built.bytes);
      const digits = timestampPrecision === "nanoseconds" ? 9 : 6;
      expect(read).toEqual(
        frames.map((frame, index) => ({
          number: index + 1,
          linkType: 113,
          timestampSeconds: frame.timestampSeconds,
          timestampNanos: expectedNanos(frame.timestampNanos, digits),
          timePrecisionDigits: digits,
          bytes: Array.from(frame.bytes),
          originalLength: frame.originalLength ?? frame.bytes.length,
          byteOffset: built.records[index + 1]?.offset,
          interfaceId: 0,
        })),
      );
      expect(result).toEqual({
        format: "pcap",
        compressed: false,
        frames: 6,
        bytes: built.bytes.length,
        linkTypes: [113],
        unknownBlocksSkipped: 0,
        truncated: null,
      });
      expect(warnings).toEqual([]);
    });
  }

  it("masks the FCS bits out of the link type field", async () => {
    const frames = sampleFrames(276);
    const { frames: read, result } = await collect(writePcap(frames, { linkTypeUpperBits: 0xf000_0000 }));
    expect(read.map((frame) => frame.linkType)).toEqual(frames.map(() => 276));
    expect(result.linkTypes).toEqual([276]);
  });

  it("reads a file with a header and no records", async () => {
    const { frames, result } = await collect(writePcap([], { linkType: 1 }));
    expect(frames).toEqual([]);
    expect(result.frames).toBe(0);
    expect(result.bytes).toBe(24);
    expect(result.truncated).toBeNull();
  });

  it("carries a sub-second field of a second or more into the seconds", async () => {
    const frame: CaptureFrame = { linkType: 1, timestampSeconds: 100, timestampNanos: 0, bytes: pattern(10, 1) };
    const micro = writePcap([frame]);
    setUint32(micro, 24 + 4, 2_500_000);
    const nano = writePcap([frame], { timestampPrecision: "nanoseconds", byteOrder: "big-endian" });
    setUint32(nano, 24 + 4, 3_000_000_001, false);
    const [microFrame] = (await collect(micro)).frames;
    const [nanoFrame] = (await collect(nano)).frames;
    expect([microFrame?.timestampSeconds, microFrame?.timestampNanos]).toEqual([102, 500_000_000]);
    expect([nanoFrame?.timestampSeconds, nanoFrame?.timestampNanos]).toEqual([103, 1]);
  });

  it("accepts frames up to 256 KiB whatever the snaplen, and up to a larger snaplen", async () => {
    const big = { linkType: 1, timestampSeconds: 1, timestampNanos: 0, bytes: pattern(256 * 1024, 7) };
    const { result } = await collect(writePcap([big], { snaplen: 1500 }));
    expect(result.frames).toBe(1);
    const bigger = { ...big, bytes: pattern(600 * 1024, 8) };
    const { frames } = await collect(writePcap([bigger], { snaplen: 1024 * 1024 }));
    expect(frames[0]?.bytes.length).toBe(600 * 1024);
  });

  it("rejects a record longer than max(snaplen, 256 KiB)", async () => {
    const frames = [
      { linkType: 1, timestampSeconds: 1, timestampNanos: 0, bytes: pattern(100, 1) },
      { linkType: 1, timestampSeconds: 1, timestampNanos: 0, bytes: pattern(256 * 1024 + 1, 2) },
    ];
    const error = await readError(writePcap(frames, { snaplen: 65_535 }));
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as CaptureFormatError).message).toBe(
      "test.pcap: at byte offset 140 (frame 2): record captured length 262145 exceeds the limit of 262144 bytes (file snaplen 65535): the file is corrupt",
    );
    expect((error as CaptureFormatError).byteOffset).toBe(140);
    expect((error as CaptureFormatError).frameNumber).toBe(2);
  });

  it("never trusts a snaplen above 16 MiB", async () => {
    const bytes = writePcap(sampleFrames(), { snaplen: 0xffff_ffff });
    setUint32(bytes, 24 + 8, 16 * 1024 * 1024 + 1);
    const error = await readError(bytes);
    expect((error as CaptureFormatError).message).toContain("record captured length 16777217 exceeds the limit of 16777216 bytes");
  });

  it("rejects a record whose captured length exceeds its original length", async () => {
    const built = buildPcap(sampleFrames(), { byteOrder: "big-endian" });
    const second = built.records[2]!.offset;
    setUint32(built.bytes, second + 12, 10, false);
    const error = (await readError(built.bytes)) as CaptureFormatError;
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect(error.message).toBe(
      `test.pcap: at byte offset ${second} (frame 2): record captured length 61 exceeds its original length 10: the file is corrupt`,
    );
  });

  it("rejects unsupported versions and the modified pcap format by name", async () => {
    const version = (await readError(writePcap(sampleFrames(), { version: { major: 1, minor: 0 } }))) as CaptureFormatError;
    expect(version.message).toBe("test.pcap: at byte offset 0 (frame 1): unsupported pcap version 1.0 (expected 2.x)");
    const modified = writePcap(sampleFrames());
    setUint32(modified, 0, 0xa1b2cd34);
    const error = (await readError(modified)) as CaptureFormatError;
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect(error.message).toContain("modified (Kuznetsov) pcap format is not supported");
  });

  it("fails clearly when the file ends inside its header", async () => {
    const error = (await readError(writePcap(sampleFrames()).subarray(0, 10))) as CaptureFormatError;
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect(error.message).toBe("test.pcap: at byte offset 0 (frame 1): file ends inside the pcap file header (10 of 24 bytes)");
  });
});
