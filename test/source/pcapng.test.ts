import { describe, expect, it } from "vitest";
import { CaptureFormatError } from "../../src/errors.js";
import { buildPcapng, buildPcapngSections, pcapngBlockType, timestampUnits, writePcapng } from "../../src/wire-format/pcapng-file.mjs";
import type { BuiltCapture, ByteOrder, CaptureFrame } from "../../src/wire-format/pcap-file.mjs";
import type { PcapngInterface } from "../../src/wire-format/pcapng-file.mjs";
import type { FrameCopy } from "./read-helpers.js";
import { collect, readError } from "./read-helpers.js";
import { pattern, sampleFrames } from "./sample-frames.js";

/** Nanoseconds a reader reports after a writer stored `nanos` at resolution `tsresol`. */
function nanosAfterRoundTrip(nanos: number, tsresol: number): number {
  const units = timestampUnits({ timestampSeconds: 0, timestampNanos: nanos }, tsresol);
  const exponent = BigInt(tsresol & 0x7f);
  const perSecond = (tsresol & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
  return Number((units * 1_000_000_000n) / perSecond);
}

function expected(
  frame: CaptureFrame,
  number: number,
  byteOffset: number,
  timePrecisionDigits: number,
  timestampNanos: number,
): FrameCopy {
  return {
    number,
    linkType: frame.linkType,
    timestampSeconds: frame.timestampSeconds,
    timestampNanos,
    timePrecisionDigits,
    bytes: Array.from(frame.bytes),
    originalLength: frame.originalLength ?? frame.bytes.length,
    byteOffset,
    interfaceId: frame.interfaceId ?? 0,
  };
}

/** Offsets of the packet blocks of a built capture, in order. */
function packetOffsets(built: BuiltCapture): number[] {
  return built.records.filter((record) => record.kind === "packet").map((record) => record.offset);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const frameAt = (linkType: number, interfaceId: number, seconds: number, nanos: number, length: number, seed: number): CaptureFrame => ({
  linkType,
  interfaceId,
  timestampSeconds: seconds,
  timestampNanos: nanos,
  bytes: pattern(length, seed),
});

describe("pcapng", () => {
  const interfaces: PcapngInterface[] = [
    { linkType: 1, tsresol: null, name: "eth0" }, // no if_tsresol: 10^-6
    { linkType: 113, tsresol: 9, snaplen: 0 },
    { linkType: 276, tsresol: 0x80 | 10 },
    { linkType: 101, tsresol: 3, tsoffsetSeconds: 1_600_000_000 },
  ];
  const digitsByInterface = [6, 9, 4, 3];
  const tsresolByInterface = [6, 9, 0x80 | 10, 3];
  const frames: CaptureFrame[] = [
    frameAt(1, 0, 1_700_000_000, 123_456_789, 60, 1),
    frameAt(113, 1, 1_700_000_000, 123_456_789, 61, 2),
    frameAt(276, 2, 1_700_000_000, 123_456_789, 62, 3),
    frameAt(101, 3, 1_700_000_000, 123_456_789, 63, 4),
    frameAt(113, 1, 1_700_000_005, 999_999_999, 0, 5),
    { ...frameAt(1, 0, 1_700_000_006, 1000, 9000, 6), originalLength: 9500 },
  ];

  for (const byteOrder of ["little-endian", "big-endian"] as ByteOrder[]) {
    it(`reads ${byteOrder} EPBs from interfaces with different link types and resolutions`, async () => {
      const built = buildPcapng(frames, { byteOrder, interfaces });
      const { frames: read, result, warnings } = await collect(built.bytes);
      const offsets = packetOffsets(built);
      expect(read).toEqual(
        frames.map((frame, index) => {
          const id = frame.interfaceId ?? 0;
          const tsresol = tsresolByInterface[id]!;
          return expected(frame, index + 1, offsets[index]!, digitsByInterface[id]!, nanosAfterRoundTrip(frame.timestampNanos, tsresol));
        }),
      );
      // Spot checks of the conversions, spelled out.
      expect(read.map((frame) => frame.timestampNanos).slice(0, 4)).toEqual([123_456_000, 123_456_789, 123_046_875, 123_000_000]);
      expect(result).toEqual({
        format: "pcapng",
        compressed: false,
        frames: 6,
        bytes: built.bytes.length,
        linkTypes: [1, 113, 276, 101],
        unknownBlocksSkipped: 0,
        truncated: null,
      });
      expect(warnings).toEqual([]);
    });
  }

  it("reads simple packet blocks: interface 0's snaplen, previous frame's time", async () => {
    const built = buildPcapngSections([
      {
        interfaces: [{ linkType: 1, snaplen: 64, tsresol: 9 }],
        records: [
          { kind: "simple-packet", bytes: pattern(5, 1) },
          { kind: "enhanced-packet", frame: frameAt(1, 0, 1_700_000_000, 42, 10, 2) },
          { kind: "simple-packet", bytes: pattern(100, 3) },
        ],
      },
    ]);
    const { frames: read, result } = await collect(built.bytes);
    const offsets = packetOffsets(built);
    expect(read).toEqual([
      { number: 1, linkType: 1, timestampSeconds: 0, timestampNanos: 0, timePrecisionDigits: 9, bytes: Array.from(pattern(5, 1)), originalLength: 5, byteOffset: offsets[0], interfaceId: 0 },
      expected(frameAt(1, 0, 1_700_000_000, 42, 10, 2), 2, offsets[1]!, 9, 42),
      { number: 3, linkType: 1, timestampSeconds: 1_700_000_000, timestampNanos: 42, timePrecisionDigits: 9, bytes: Array.from(pattern(64, 3)), originalLength: 100, byteOffset: offsets[2], interfaceId: 0 },
    ]);
    expect(result.frames).toBe(3);
  });

  it("cuts a simple packet block to interface 0's snaplen even when the block holds more", async () => {
    const body = new Uint8Array(4 + 100);
    new DataView(body.buffer).setUint32(0, 100, true);
    body.set(pattern(100, 9), 4);
    const built = buildPcapngSections([
      { interfaces: [{ linkType: 1, snaplen: 64 }], records: [{ kind: "block", blockType: pcapngBlockType.simplePacket, body }] },
    ]);
    const { frames: read, result } = await collect(built.bytes);
    expect(read.map((frame) => [frame.bytes, frame.originalLength])).toEqual([[Array.from(pattern(64, 9)), 100]]);
    expect(result.frames).toBe(1);
  });

  it("reads obsolete packet blocks", async () => {
    const frame = frameAt(1, 1, 1_700_000_000, 5000, 33, 1);
    const built = buildPcapngSections([
      { byteOrder: "big-endian", interfaces: [{ linkType: 113 }, { linkType: 1, tsresol: 6 }], records: [{ kind: "obsolete-packet", frame }] },
    ]);
    const { frames: read } = await collect(built.bytes);
    expect(read).toEqual([expected(frame, 1, packetOffsets(built)[0]!, 6, 5000)]);
  });

  it("skips unknown blocks, counting them and warning once per type, and skips known blocks silently", async () => {
    const section = {
      interfaces: [{ linkType: 1 }],
      records: [
        { kind: "block", blockType: 0x1234, body: pattern(7, 1) },
        { kind: "enhanced-packet", frame: frameAt(1, 0, 1, 0, 20, 1) },
        { kind: "block", blockType: pcapngBlockType.nameResolution, body: pattern(12, 2) },
        { kind: "block", blockType: pcapngBlockType.interfaceStatistics, body: pattern(20, 2) },
        { kind: "block", blockType: pcapngBlockType.decryptionSecrets, body: pattern(40, 2) },
        { kind: "block", blockType: 0x0000_0bad, body: pattern(8, 2) },
        { kind: "block", blockType: 0x1234, body: new Uint8Array(0) },
        { kind: "block", blockType: 0x8000_0001, body: pattern(4, 3) },
        { kind: "enhanced-packet", frame: frameAt(1, 0, 2, 0, 21, 2), comment: "options after the data are skipped" },
      ],
    } as const;
    const built = buildPcapngSections([section]);
    const { frames: read, result, warnings } = await collect(built.bytes);
    expect(read.map((frame) => frame.bytes.length)).toEqual([20, 21]);
    expect(read[1]?.bytes).toEqual(Array.from(pattern(21, 2)));
    expect(result.unknownBlocksSkipped).toBe(3);
    const firstUnknown = built.records.find((record) => record.blockType === 0x1234)!.offset;
    const otherUnknown = built.records.find((record) => record.blockType === 0x8000_0001)!.offset;
    expect(warnings).toEqual([
      { code: "pcapng-unknown-block:0x00001234", message: `test.pcap: at byte offset ${firstUnknown}: skipped pcapng block of unknown type 0x00001234` },
      { code: "pcapng-unknown-block:0x80000001", message: `test.pcap: at byte offset ${otherUnknown}: skipped pcapng block of unknown type 0x80000001` },
    ]);
  });

  it("starts afresh at each section: byte order and interface ids", async () => {
    const first = frameAt(1, 0, 1_700_000_000, 1_000, 30, 1);
    const second = frameAt(113, 0, 1_700_000_001, 2, 31, 2);
    const third = frameAt(1, 1, 1_700_000_002, 3_000, 32, 3);
    const fourth = frameAt(276, 2, 1_700_000_003, 4, 33, 4);
    const built = buildPcapngSections([
      { byteOrder: "little-endian", interfaces: [{ linkType: 1, tsresol: 6 }], records: [{ kind: "enhanced-packet", frame: first }] },
      {
        byteOrder: "big-endian",
        interfaces: [{ linkType: 113 }, { linkType: 1, tsresol: 6 }],
        records: [
          { kind: "enhanced-packet", frame: second },
          { kind: "enhanced-packet", frame: third },
          { kind: "interface", iface: { linkType: 276 } },
          { kind: "enhanced-packet", frame: fourth },
        ],
      },
      { byteOrder: "little-endian", interfaces: [], records: [] },
    ]);
    const { frames: read, result } = await collect(built.bytes);
    const offsets = packetOffsets(built);
    expect(read).toEqual([
      expected(first, 1, offsets[0]!, 6, 1_000),
      expected(second, 2, offsets[1]!, 9, 2),
      expected(third, 3, offsets[2]!, 6, 3_000),
      expected(fourth, 4, offsets[3]!, 9, 4),
    ]);
    expect(result.linkTypes).toEqual([1, 113, 276]);

    // Interface 1 of the second section does not exist in the first: ids really reset.
    const reset = buildPcapngSections([
      { interfaces: [{ linkType: 1 }, { linkType: 1 }], records: [] },
      { byteOrder: "big-endian", interfaces: [{ linkType: 1 }], records: [{ kind: "enhanced-packet", frame: frameAt(1, 1, 1, 0, 10, 1) }] },
    ]);
    const error = (await readError(reset.bytes)) as CaptureFormatError;
    expect(error.message).toBe(
      `test.pcap: at byte offset ${packetOffsets(reset)[0]} (frame 1): packet refers to interface 1, but the section has 1 interface(s)`,
    );
  });

  it("warns about interface options that run past the block and keeps the interface", async () => {
    const built = buildPcapng(sampleFrames(), { interfaces: [{ linkType: 1, tsresol: 9, name: "eth0" }] });
    const idb = built.records[1]!;
    // The if_name option (first, at +16) claims 200 bytes.
    view(built.bytes).setUint16(idb.offset + 16 + 2, 200, true);
    const { frames: read, warnings } = await collect(built.bytes);
    expect(read.length).toBe(6);
    expect(read[0]?.timePrecisionDigits).toBe(6); // the if_tsresol after it was lost
    expect(warnings.map((warning) => warning.code)).toEqual(["pcapng-bad-interface-options"]);
  });

  describe("corruption is a CaptureFormatError naming the block", () => {
    const build = (): BuiltCapture => buildPcapng(sampleFrames(), { interfaces: [{ linkType: 1, tsresol: 9 }] });

    async function corrupt(change: (bytes: DataView, built: BuiltCapture, epb: number) => void): Promise<CaptureFormatError> {
      const built = build();
      change(view(built.bytes), built, packetOffsets(built)[1]!);
      const error = await readError(built.bytes);
      expect(error).toBeInstanceOf(CaptureFormatError);
      return error as CaptureFormatError;
    }

    it("total length below 12, not a multiple of 4, or beyond the limit", async () => {
      const epb = packetOffsets(build())[1]!;
      const short = await corrupt((bytes, _, at) => { bytes.setUint32(at + 4, 8, true); });
      expect(short.message).toBe(`test.pcap: at byte offset ${epb} (frame 2): enhanced packet block total length 8 is below the minimum of 12: the file is corrupt`);
      expect([short.byteOffset, short.frameNumber]).toEqual([epb, 2]);
      const odd = await corrupt((bytes, _, at) => { bytes.setUint32(at + 4, 98, true); });
      expect(odd.message).toContain("enhanced packet block total length 98 is not a multiple of 4");
      const huge = await corrupt((bytes, _, at) => { bytes.setUint32(at + 4, 0x7fff_fff0, true); });
      expect(huge.message).toContain("enhanced packet block total length 2147483632 exceeds the limit of 16842752 bytes");
    });

    it("trailing length differing from the leading one", async () => {
      const error = await corrupt((bytes, _built, at) => {
        const length = bytes.getUint32(at + 4, true);
        bytes.setUint32(at + length - 4, length + 4, true);
      });
      expect(error.message).toMatch(/enhanced packet block ends with total length (\d+), but starts with (\d+): the file is corrupt$/);
    });

    it("captured length beyond the block, the original length or the limit", async () => {
      const room = await corrupt((bytes, _, at) => { bytes.setUint32(at + 20, 65, true); bytes.setUint32(at + 24, 2000, true); });
      expect(room.message).toContain("packet captured length 65 exceeds the room for packet data in its block (64 bytes)");
      const original = await corrupt((bytes, _, at) => { bytes.setUint32(at + 24, 60, true); });
      expect(original.message).toContain("packet captured length 61 exceeds its original length 60");
      const big = buildPcapng([frameAt(1, 0, 1, 0, 300 * 1024, 1)], { interfaces: [{ linkType: 1, snaplen: 1500 }] });
      const limit = (await readError(big.bytes)) as CaptureFormatError;
      expect(limit.message).toContain("packet captured length 307200 exceeds the limit of 262144 bytes (interface snaplen 1500)");
    });

    it("packets without an interface", async () => {
      const built = buildPcapngSections([{ interfaces: [], records: [{ kind: "simple-packet", bytes: pattern(4, 1) }] }]);
      const error = (await readError(built.bytes)) as CaptureFormatError;
      expect(error.message).toBe(`test.pcap: at byte offset 28 (frame 1): simple packet block, but the section has no interface`);
      const epb = buildPcapngSections([{ interfaces: [{ linkType: 1 }], records: [{ kind: "enhanced-packet", frame: frameAt(1, 3, 1, 0, 4, 1) }] }]);
      expect(((await readError(epb.bytes)) as CaptureFormatError).message).toContain("packet refers to interface 3, but the section has 1 interface(s)");
    });

    it("blocks shorter than their fixed fields", async () => {
      const idb = buildPcapngSections([{ interfaces: [], records: [{ kind: "block", blockType: 1, body: pattern(4, 1) }] }]);
      expect(((await readError(idb.bytes)) as CaptureFormatError).message).toBe(
        "test.pcap: at byte offset 28 (frame 1): interface description block total length 16 is below its minimum of 20: the file is corrupt",
      );
      const epb = buildPcapngSections([{ interfaces: [{ linkType: 1 }], records: [{ kind: "block", blockType: 6, body: pattern(8, 1) }] }]);
      expect(((await readError(epb.bytes)) as CaptureFormatError).message).toContain("enhanced packet block total length 20 is below its minimum of 32");
    });

    it("a section header with a bad byte-order magic or version", async () => {
      const built = buildPcapngSections([
        { interfaces: [{ linkType: 1 }], records: [{ kind: "enhanced-packet", frame: frameAt(1, 0, 1, 0, 4, 1) }] },
        { byteOrder: "big-endian", interfaces: [], records: [] },
      ]);
      const second = built.records.filter((record) => record.blockType === pcapngBlockType.sectionHeader)[1]!.offset;
      const badMagic = built.bytes.slice();
      view(badMagic).setUint32(second + 8, 0x1a2b3c4e, false);
      const magicError = (await readError(badMagic)) as CaptureFormatError;
      expect(magicError.message).toBe(
        `test.pcap: at byte offset ${second} (frame 2): section header block has byte-order magic 0x4e3c2b1a (expected 0x1a2b3c4d in either byte order): not a pcapng file, or corrupt`,
      );
      const badVersion = built.bytes.slice();
      view(badVersion).setUint16(second + 12, 2, false);
      expect(((await readError(badVersion)) as CaptureFormatError).message).toContain("unsupported pcapng version 2.0 (expected 1.x)");
    });
  });

  it("writes what it reads: writePcapng defaults give one ns interface per link type", async () => {
    const mixed = [...sampleFrames(1).slice(0, 2), ...sampleFrames(113).slice(0, 2)];
    const { frames: read, result } = await collect(writePcapng(mixed));
    expect(read.map((frame) => [frame.linkType, frame.interfaceId, frame.timestampNanos])).toEqual([
      [1, 0, 123_456_789],
      [1, 0, 999_999_999],
      [113, 1, 123_456_789],
      [113, 1, 999_999_999],
    ]);
    expect(result.linkTypes).toEqual([1, 113]);
  });
});
