// @ts-check
/**
 * Writes classic pcap files (https://www.tcpdump.org/manpages/pcap-savefile.5.html): the one
 * place that knows their layout on the writing side, for `--write-pcap` (src/sink/pcap-writer.ts),
 * tests, the hostile corpus and the bench generator. Plain JavaScript with JSDoc types.
 *
 *   const bytes = writePcap([{ linkType: 1, timestampSeconds: 1700000000, timestampNanos: 5000, bytes: frame }]);
 */
import { ByteWriter, put16, put32 } from "./bytes.mjs";

export const pcapMagic = /** @type {const} */ ({ microseconds: 0xa1b2c3d4, nanoseconds: 0xa1b23c4d });
export const pcapFileHeaderBytes = 24;
export const pcapRecordHeaderBytes = 16;
export const defaultSnaplen = 262_144;

/**
 * One frame to write: the same fields a reader's `Frame` reports.
 * @typedef {object} CaptureFrame
 * @property {number} linkType LINKTYPE_* value (1 = Ethernet, 113 = Linux SLL, 276 = Linux SLL2, 101 = raw IP)
 * @property {number} timestampSeconds
 * @property {number} timestampNanos 0..999,999,999; truncated to the file's resolution (µs pcap, the interface's if_tsresol). A nanosecond pcap writes it as it is, even beyond 10^9 (corrupt files on purpose).
 * @property {Uint8Array} bytes the captured bytes
 * @property {number} [originalLength] length on the wire; defaults to `bytes.length`. Larger means the frame was cut by snaplen.
 * @property {number} [interfaceId] pcapng only: index of the interface (IDB) in its section; defaults to 0
 */

/** @typedef {"little-endian" | "big-endian"} ByteOrder */

/**
 * Where one record (file header, pcap record, pcapng block) lies in a built capture.
 * @typedef {object} RecordLayout
 * @property {"file-header" | "packet" | "block"} kind
 * @property {number} offset
 * @property {number} length
 * @property {number} [blockType] pcapng block type (0x0a0d0d0a, 1, 6, ...); absent for pcap
 */

/**
 * @typedef {object} BuiltCapture
 * @property {Uint8Array} bytes
 * @property {readonly RecordLayout[]} records every record in file order; for pcapng, every block (kind "packet" for EPB/SPB/PB)
 */

/**
 * @typedef {object} PcapFileHeaderFields
 * @property {number} linkType the link type field, upper bits (FCS length, flags 28..31) included
 * @property {"microseconds" | "nanoseconds"} [timestampPrecision] default microseconds (magic a1b2c3d4); nanoseconds writes a1b23c4d
 * @property {number} [snaplen] default 262144
 * @property {{ major: number, minor: number }} [version] default 2.4
 */

/**
 * The 24-byte file header at `offset`.
 * @param {Uint8Array} bytes @param {number} offset @param {PcapFileHeaderFields} fields @param {boolean} [littleEndian] default true
 * @returns {number} its length
 */
export function writePcapFileHeader(bytes, offset, fields, littleEndian = true) {
  put32(bytes, offset, fields.timestampPrecision === "nanoseconds" ? pcapMagic.nanoseconds : pcapMagic.microseconds, littleEndian);
  put16(bytes, offset + 4, fields.version?.major ?? 2, littleEndian);
  put16(bytes, offset + 6, fields.version?.minor ?? 4, littleEndian);
  put32(bytes, offset + 8, 0, littleEndian); // thiszone
  put32(bytes, offset + 12, 0, littleEndian); // sigfigs
  put32(bytes, offset + 16, (fields.snaplen ?? defaultSnaplen) >>> 0, littleEndian);
  put32(bytes, offset + 20, fields.linkType >>> 0, littleEndian);
  return pcapFileHeaderBytes;
}

/**
 * A 16-byte record header at `offset`; the captured bytes follow it.
 * @param {Uint8Array} bytes @param {number} offset
 * @param {number} seconds @param {number} fraction microseconds or nanoseconds, by the file's magic
 * @param {number} capturedLength @param {number} originalLength @param {boolean} [littleEndian] default true
 * @returns {number} its length
 */
export function writePcapRecordHeader(bytes, offset, seconds, fraction, capturedLength, originalLength, littleEndian = true) {
  put32(bytes, offset, seconds >>> 0, littleEndian);
  put32(bytes, offset + 4, fraction >>> 0, littleEndian);
  put32(bytes, offset + 8, capturedLength >>> 0, littleEndian);
  put32(bytes, offset + 12, originalLength >>> 0, littleEndian);
  return pcapRecordHeaderBytes;
}

/** @param {PcapFileHeaderFields} fields @param {boolean} [littleEndian] @returns {Uint8Array} a file header of its own */
export function pcapFileHeader(fields, littleEndian = true) {
  const header = new Uint8Array(pcapFileHeaderBytes);
  writePcapFileHeader(header, 0, fields, littleEndian);
  return header;
}

/**
 * A record header of its own, for lengths a writer would never produce.
 * @param {number} seconds @param {number} fraction @param {number} capturedLength @param {number} originalLength @param {boolean} [littleEndian]
 * @returns {Uint8Array}
 */
export function pcapRecordHeader(seconds, fraction, capturedLength, originalLength, littleEndian = true) {
  const header = new Uint8Array(pcapRecordHeaderBytes);
  writePcapRecordHeader(header, 0, seconds, fraction, capturedLength, originalLength, littleEndian);
  return header;
}

/**
 * @typedef {object} PcapOptions
 * @property {ByteOrder} [byteOrder] default little-endian
 * @property {"microseconds" | "nanoseconds"} [timestampPrecision] default microseconds (magic a1b2c3d4); nanoseconds writes magic a1b23c4d
 * @property {number} [snaplen] header snaplen; default 262144. Frames are written whole regardless.
 * @property {number} [linkType] header link type; default the frames' link type (required when there are no frames)
 * @property {number} [linkTypeUpperBits] OR'ed into the header's link type field (FCS length and flag bits 28..31)
 * @property {{ major: number, minor: number }} [version] default 2.4
 */

/**
 * A classic pcap file holding `frames` (all of one link type), and where each record landed.
 * Throws on misuse (a pcap with two link types), so a wrong test fails loudly instead of
 * producing a file that tests something else.
 * @param {readonly CaptureFrame[]} frames @param {PcapOptions} [options]
 * @returns {BuiltCapture}
 */
export function buildPcap(frames, options = {}) {
  const littleEndian = (options.byteOrder ?? "little-endian") === "little-endian";
  const nanos = options.timestampPrecision === "nanoseconds";
  const linkType = options.linkType ?? frames[0]?.linkType;
  if (linkType === undefined) throw new Error("buildPcap: no frames, so options.linkType is required");
  for (const frame of frames) {
    if (frame.linkType !== linkType) {
      throw new Error(`buildPcap: a pcap file has one link type (${linkType}); a frame has ${frame.linkType}`);
    }
  }
  const writer = new ByteWriter(littleEndian);
  /** @type {RecordLayout[]} */
  const records = [{ kind: "file-header", offset: 0, length: pcapFileHeaderBytes }];
  writer.bytes(
    pcapFileHeader(
      {
        linkType: (linkType | (options.linkTypeUpperBits ?? 0)) >>> 0,
        ...(options.timestampPrecision === undefined ? {} : { timestampPrecision: options.timestampPrecision }),
        ...(options.snaplen === undefined ? {} : { snaplen: options.snaplen }),
        ...(options.version === undefined ? {} : { version: options.version }),
      },
      littleEndian,
    ),
  );
  for (const frame of frames) {
    const offset = writer.length;
    const fraction = nanos ? frame.timestampNanos : Math.floor(frame.timestampNanos / 1000);
    writer.bytes(pcapRecordHeader(frame.timestampSeconds, fraction, frame.bytes.length, frame.originalLength ?? frame.bytes.length, littleEndian));
    writer.bytes(frame.bytes);
    records.push({ kind: "packet", offset, length: writer.length - offset });
  }
  return { bytes: writer.finish(), records };
}

/** @param {readonly CaptureFrame[]} frames @param {PcapOptions} [options] @returns {Uint8Array} a classic pcap file holding `frames` (all of one link type) */
export function writePcap(frames, options = {}) {
  return buildPcap(frames, options).bytes;
}
