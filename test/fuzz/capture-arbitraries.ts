/**
 * fast-check generators for capture files: valid pcap and pcapng files built with the test
 * capture writer (so they get past the magic numbers and into the record parsers), with fuzzed
 * header fields, byte orders, resolutions, block kinds and frame lengths; and mutations of them
 * aimed at the length fields that matter (record and block lengths, with huge and odd values).
 */
import fc from "fast-check";
import { buildPcap } from "../../src/wire-format/pcap-file.mjs";
import { buildPcapngSections } from "../../src/wire-format/pcapng-file.mjs";
import type { BuiltCapture, CaptureFrame, RecordLayout } from "../../src/wire-format/pcap-file.mjs";
import type { PcapngInterface, PcapngRecord, PcapngSection } from "../../src/wire-format/pcapng-file.mjs";

export interface GeneratedCapture {
  readonly format: "pcap" | "pcapng";
  readonly built: BuiltCapture;
  /** Packet records in file order (what a reader must return as frames, in number). */
  readonly packets: number;
}

const linkTypes = [1, 113, 276, 101, 0, 108, 228, 229, 147] as const;

function frameArbitrary(linkType: number, minSeconds: number): fc.Arbitrary<CaptureFrame> {
  return fc
    .record({
      bytes: fc.uint8Array({ maxLength: 96 }),
      timestampSeconds: fc.integer({ min: minSeconds, max: 0xffff_ffff }),
      timestampNanos: fc.integer({ min: 0, max: 999_999_999 }),
      extraOriginal: fc.option(fc.nat({ max: 2000 }), { nil: undefined }),
    })
    .map(({ bytes, timestampSeconds, timestampNanos, extraOriginal }) => ({
      linkType,
      bytes,
      timestampSeconds,
      timestampNanos,
      ...(extraOriginal === undefined ? {} : { originalLength: bytes.length + extraOriginal }),
    }));
}

export const pcapCaptureArbitrary: fc.Arbitrary<GeneratedCapture> = fc
  .record({
    linkType: fc.constantFrom(...linkTypes),
    byteOrder: fc.constantFrom("little-endian" as const, "big-endian" as const),
    timestampPrecision: fc.constantFrom("microseconds" as const, "nanoseconds" as const),
    snaplen: fc.constantFrom(0, 64, 65_535, 262_144, 0xffff_ffff),
    linkTypeUpperBits: fc.constantFrom(0, 0x1000_0000, 0xf000_0000),
  })
  .chain((options) =>
    fc.array(frameArbitrary(options.linkType, 0), { maxLength: 8 }).map((frames) => {
      const built = buildPcap(frames, options);
      return { format: "pcap" as const, built, packets: frames.length };
    }),
  );

const interfaceArbitrary: fc.Arbitrary<PcapngInterface> = fc
  .record({
    linkType: fc.constantFrom(...linkTypes),
    snaplen: fc.constantFrom(0, 64, 65_535, 262_144),
    // Decimal and binary resolutions whose 64-bit timestamps the writer can represent.
    tsresol: fc.constantFrom(null, 3, 6, 9, 0x80 | 10, 0x80 | 20, 0x80 | 30),
    tsoffsetSeconds: fc.option(fc.nat({ max: 1000 }), { nil: undefined }),
    name: fc.option(fc.string({ maxLength: 9 }), { nil: undefined }),
  })
  .map(({ tsoffsetSeconds, name, ...rest }) => ({
    ...rest,
    ...(tsoffsetSeconds === undefined ? {} : { tsoffsetSeconds }),
    ...(name === undefined ? {} : { name }),
  }));

/** Block types for the "skip it" path: known-ignored ones and unknown ones. */
const otherBlockTypes = [4, 5, 9, 0x0a, 0xbad, 0x4000_0bad, 0x77, 0x8000_0001] as const;

function recordArbitrary(interfaces: readonly PcapngInterface[]): fc.Arbitrary<PcapngRecord> {
  const packetOn = (interfaceId: number): fc.Arbitrary<CaptureFrame> =>
    // Seconds at least 1000: the largest tsoffset written, so the stored timestamp stays >= 0.
    frameArbitrary(interfaces[interfaceId]!.linkType, 1000).map((frame) => ({ ...frame, interfaceId }));
  const interfaceId = fc.nat({ max: interfaces.length - 1 });
  return fc.oneof(
    { weight: 4, arbitrary: interfaceId.chain(packetOn).chain((frame) =>
      fc.option(fc.string({ maxLength: 7 }), { nil: undefined }).map((comment): PcapngRecord =>
        comment === undefined ? { kind: "enhanced-packet", frame } : { kind: "enhanced-packet", frame, comment },
      ),
    ) },
    { weight: 1, arbitrary: interfaceId.chain(packetOn).map((frame): PcapngRecord => ({ kind: "obsolete-packet", frame })) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes): PcapngRecord => ({ kind: "simple-packet", bytes })),
    },
    { weight: 1, arbitrary: interfaceArbitrary.map((iface): PcapngRecord => ({ kind: "interface", iface })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ blockType: fc.constantFrom(...otherBlockTypes), body: fc.uint8Array({ maxLength: 24 }) })
        .map(({ blockType, body }): PcapngRecord => ({ kind: "block", blockType, body })),
    },
  );
}

const sectionArbitrary: fc.Arbitrary<PcapngSection> = fc
  .record({
    byteOrder: fc.constantFrom("little-endian" as const, "big-endian" as const),
    interfaces: fc.array(interfaceArbitrary, { minLength: 1, maxLength: 3 }),
  })
  .chain(({ byteOrder, interfaces }) =>
    fc.array(recordArbitrary(interfaces), { maxLength: 7 }).map((records) => ({ byteOrder, interfaces, records })),
  );

export const pcapngCaptureArbitrary: fc.Arbitrary<GeneratedCapture> = fc
  .array(sectionArbitrary, { minLength: 1, maxLength: 3 })
  .map((sections) => {
    const built = buildPcapngSections(sections);
    return { format: "pcapng" as const, built, packets: built.records.filter((record) => record.kind === "packet").length };
  });

export const captureArbitrary: fc.Arbitrary<GeneratedCapture> = fc.oneof(pcapCaptureArbitrary, pcapngCaptureArbitrary);

/** One change to a capture's bytes. Positions are taken modulo the file length. */
export type Mutation =
  | { readonly kind: "byte"; readonly at: number; readonly value: number }
  /** A 32-bit value written over a length-like field of one record (in either byte order). */
  | { readonly kind: "field"; readonly record: number; readonly field: number; readonly value: number; readonly littleEndian: boolean }
  | { readonly kind: "truncate"; readonly at: number };

/** Length values that probe the limit checks: zero, tiny, unaligned, just over the limits, huge. */
const interestingU32 = [0, 1, 3, 11, 12, 13, 16, 24, 28, 31, 32, 0x7fff_ffff, 0xffff_ffff, 0x0101_0000, 16 * 1024 * 1024 + 64 * 1024 + 4, 256 * 1024 + 1];

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("field" as const),
    record: fc.nat(),
    // Offsets of type, length, ids/caplen and origlen fields in pcap records and pcapng blocks.
    field: fc.constantFrom(0, 4, 8, 12, 16, 20, -4),
    value: fc.oneof(fc.constantFrom(...interestingU32), fc.nat({ max: 0xffff_ffff })),
    littleEndian: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

/** A copy of `bytes` with the mutations applied in order. */
export function mutate(bytes: Uint8Array, records: readonly RecordLayout[], mutations: readonly Mutation[]): Uint8Array {
  let result = bytes.slice();
  for (const mutation of mutations) {
    if (result.length === 0) break;
    switch (mutation.kind) {
      case "byte":
        result[mutation.at % result.length] = mutation.value;
        break;
      case "field": {
        const record = records[mutation.record % records.length];
        if (record === undefined) break;
        const at = mutation.field < 0 ? record.offset + record.length + mutation.field : record.offset + mutation.field;
        if (at < 0 || at + 4 > result.length) break;
        new DataView(result.buffer, result.byteOffset, result.length).setUint32(at, mutation.value >>> 0, mutation.littleEndian);
        break;
      }
      case "truncate":
        result = result.slice(0, mutation.at % (result.length + 1));
        break;
    }
  }
  return result;
}

/** Sorted, distinct cut points inside [0, length] from arbitrary numbers. */
export function cutPoints(raw: readonly number[], length: number): number[] {
  return [...new Set(raw.map((value) => value % (length + 1)))].sort((a, b) => a - b);
}

/** `bytes` as pieces split at `cuts` (empty pieces included: a stream may deliver them). */
export function piecesAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    pieces.push(bytes.slice(start, cut));
    start = cut;
  }
  return pieces;
}
