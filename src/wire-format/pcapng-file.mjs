// @ts-check
/**
 * Writes pcapng files (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html): the one
 * place that knows their layout on the writing side, for tests, the hostile corpus and the bench
 * generator. Plain JavaScript with JSDoc types.
 *
 *   const bytes = writePcapng(frames, { byteOrder: "big-endian" });
 *   const built = buildPcapngSections([{ interfaces: [{ linkType: 1, tsresol: 6 }], records: [...] }]);
 *
 * Writers validate their input and throw a plain Error on misuse (a link type that does not
 * match the interface), so a wrong test fails loudly instead of producing a file that tests
 * something else; what a hostile file needs wrong on purpose is asked for by name
 * (`trailingLength`, `byteOrderMagic`, a packet naming a missing interface).
 */
import { ByteWriter, concatBytes, paddedTo4, put32 } from "./bytes.mjs";
import { defaultSnaplen } from "./pcap-file.mjs";

/** @typedef {import("./pcap-file.mjs").CaptureFrame} CaptureFrame */
/** @typedef {import("./pcap-file.mjs").ByteOrder} ByteOrder */
/** @typedef {import("./pcap-file.mjs").RecordLayout} RecordLayout */
/** @typedef {import("./pcap-file.mjs").BuiltCapture} BuiltCapture */

export const pcapngBlockType = /** @type {const} */ ({
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 1,
  packet: 2,
  simplePacket: 3,
  nameResolution: 4,
  interfaceStatistics: 5,
  enhancedPacket: 6,
  decryptionSecrets: 0x0a,
});

export const pcapngByteOrderMagic = 0x1a2b3c4d;

const optionCode = /** @type {const} */ ({ endOfOptions: 0, comment: 1, ifName: 2, ifTsresol: 9, ifTsoffset: 14 });

/**
 * A block: type, total length, body padded to 4, total length again.
 * @param {number} blockType @param {Uint8Array} body @param {boolean} [littleEndian] default true
 * @param {number} [trailingLength] written instead of the true total length at the end (corrupt on purpose)
 * @returns {Uint8Array}
 */
export function pcapngBlock(blockType, body, littleEndian = true, trailingLength) {
  const totalLength = 12 + paddedTo4(body.length);
  const block = new Uint8Array(totalLength);
  put32(block, 0, blockType >>> 0, littleEndian);
  put32(block, 4, totalLength, littleEndian);
  block.set(body, 8);
  put32(block, totalLength - 4, (trailingLength ?? totalLength) >>> 0, littleEndian);
  return block;
}

/** @param {ByteWriter} writer @param {number} code @param {Uint8Array} value an option: code, length, value padded to 4 */
function writeOption(writer, code, value) {
  writer.u16(code);
  writer.u16(value.length);
  writer.bytes(value);
  writer.pad();
}

/**
 * A section header block (version 1.0, section length unknown, no options).
 * @param {boolean} [littleEndian] default true @param {number} [byteOrderMagic] default 0x1a2b3c4d; anything else is a corrupt section
 * @returns {Uint8Array}
 */
export function sectionHeaderBlock(littleEndian = true, byteOrderMagic = pcapngByteOrderMagic) {
  const body = new ByteWriter(littleEndian);
  body.u32(byteOrderMagic);
  body.u16(1);
  body.u16(0);
  body.u64(-1n); // section length: unknown
  return pcapngBlock(pcapngBlockType.sectionHeader, body.finish(), littleEndian);
}

/**
 * An interface description block.
 * @typedef {object} PcapngInterface
 * @property {number} linkType
 * @property {number} [snaplen] default 262144; 0 means "no limit"
 * @property {number | null} [tsresol] raw if_tsresol byte: 6 = µs, 9 = ns, 3 = ms, 0x80 | 10 = 2^-10 s. Default 9. `null` writes no if_tsresol option at all (readers then assume µs).
 * @property {number} [tsoffsetSeconds] if_tsoffset: seconds the reader adds to every timestamp; written only when given
 * @property {string} [name] if_name option, written only when given
 */

/** @param {PcapngInterface} iface @param {boolean} [littleEndian] default true @returns {Uint8Array} */
export function interfaceDescriptionBlock(iface, littleEndian = true) {
  const body = new ByteWriter(littleEndian);
  body.u16(iface.linkType);
  body.u16(0);
  body.u32(iface.snaplen ?? defaultSnaplen);
  const options = new ByteWriter(littleEndian);
  if (iface.name !== undefined) writeOption(options, optionCode.ifName, new TextEncoder().encode(iface.name));
  if (iface.tsresol !== null) writeOption(options, optionCode.ifTsresol, Uint8Array.of(writtenTsresol(iface)));
  if (iface.tsoffsetSeconds !== undefined) {
    const value = new ByteWriter(littleEndian);
    value.u64(BigInt(iface.tsoffsetSeconds));
    writeOption(options, optionCode.ifTsoffset, value.finish());
  }
  if (options.length > 0) {
    body.bytes(options.finish());
    body.u32(optionCode.endOfOptions); // code 0, length 0
  }
  return pcapngBlock(pcapngBlockType.interfaceDescription, body.finish(), littleEndian);
}

/** @param {PcapngInterface | undefined} iface @returns {number} the resolution packets of `iface` are written in (µs when it has no option or does not exist) */
function writtenTsresol(iface) {
  if (iface === undefined || iface.tsresol === null) return 6;
  return iface.tsresol ?? 9;
}

/**
 * @param {Pick<CaptureFrame, "timestampSeconds" | "timestampNanos">} frame @param {number} tsresol @param {number} [offsetSeconds]
 * @returns {bigint} the 64-bit timestamp of `frame` in units of `tsresol`, since the epoch minus `offsetSeconds`
 */
export function timestampUnits(frame, tsresol, offsetSeconds = 0) {
  const exponent = BigInt(tsresol & 0x7f);
  const unitsPerSecond = (tsresol & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
  const seconds = BigInt(frame.timestampSeconds - offsetSeconds);
  return seconds * unitsPerSecond + (BigInt(frame.timestampNanos) * unitsPerSecond) / 1_000_000_000n;
}

/**
 * @typedef {object} PacketBlockFields
 * @property {number} interfaceId
 * @property {bigint} timestamp in the interface's units (see `timestampUnits`)
 * @property {Uint8Array} bytes the captured bytes
 * @property {number} originalLength
 * @property {string} [comment] an opt_comment option after the data
 * @property {number} [trailingLength] written instead of the true total length at the end (corrupt on purpose)
 */

/**
 * An enhanced packet block (type 6), or the obsolete packet block (type 2: a 16-bit interface id
 * and a drops count).
 * @param {PacketBlockFields} fields @param {boolean} [littleEndian] default true @param {"enhanced" | "obsolete"} [variant]
 * @returns {Uint8Array}
 */
export function packetBlock(fields, littleEndian = true, variant = "enhanced") {
  const body = new ByteWriter(littleEndian);
  if (variant === "enhanced") {
    body.u32(fields.interfaceId);
  } else {
    body.u16(fields.interfaceId);
    body.u16(0); // drops count
  }
  body.u32(Number(fields.timestamp >> 32n));
  body.u32(Number(fields.timestamp & 0xffffffffn));
  body.u32(fields.bytes.length);
  body.u32(fields.originalLength);
  body.bytes(fields.bytes);
  body.pad();
  if (fields.comment !== undefined) {
    writeOption(body, optionCode.comment, new TextEncoder().encode(fields.comment));
    body.u32(optionCode.endOfOptions);
  }
  const blockType = variant === "enhanced" ? pcapngBlockType.enhancedPacket : pcapngBlockType.packet;
  return pcapngBlock(blockType, body.finish(), littleEndian, fields.trailingLength);
}

/** The fixed part of an enhanced packet block before its data: type, length, interface, timestamp, lengths. */
export const enhancedPacketBlockHeadBytes = 28;

/** @param {number} capturedLength @returns {number} the total length of an enhanced packet block without options */
export function enhancedPacketBlockLength(capturedLength) {
  return enhancedPacketBlockHeadBytes + paddedTo4(capturedLength) + 4;
}

/**
 * An enhanced packet block without options at `offset`, for generators that fill a reused buffer:
 * the same bytes `packetBlock` gives.
 * @param {Uint8Array} target @param {number} offset @param {number} interfaceId @param {bigint} timestamp
 * @param {Uint8Array} data the captured bytes @param {number} originalLength @param {boolean} [littleEndian] default true
 * @returns {number} the block's length
 */
export function writeEnhancedPacketBlock(target, offset, interfaceId, timestamp, data, originalLength, littleEndian = true) {
  const length = enhancedPacketBlockLength(data.length);
  put32(target, offset, pcapngBlockType.enhancedPacket, littleEndian);
  put32(target, offset + 4, length, littleEndian);
  put32(target, offset + 8, interfaceId, littleEndian);
  put32(target, offset + 12, Number(timestamp >> 32n), littleEndian);
  put32(target, offset + 16, Number(timestamp & 0xffffffffn), littleEndian);
  put32(target, offset + 20, data.length, littleEndian);
  put32(target, offset + 24, originalLength, littleEndian);
  const dataEnd = offset + enhancedPacketBlockHeadBytes + data.length;
  target.set(data, offset + enhancedPacketBlockHeadBytes);
  target.fill(0, dataEnd, offset + length - 4);
  put32(target, offset + length - 4, length, littleEndian);
  return length;
}

/**
 * One block after the interface description blocks of a section:
 * - `enhanced-packet`: an Enhanced Packet Block; `comment` adds an opt_comment option after the data;
 * - `simple-packet`: interface 0, no timestamp; data cut to interface 0's snaplen;
 * - `obsolete-packet`: the Obsolete Packet Block (type 2): 16-bit interface id and a drops count;
 * - `interface`: an interface description block in the middle of the section (it gets the next id);
 * - `block`: any block written from its type and body: unknown types, name resolution, statistics, secrets...;
 * - `raw`: bytes written as they are (a corrupt block, a second section header by hand).
 * @typedef {{ kind: "enhanced-packet", frame: CaptureFrame, comment?: string, trailingLength?: number }
 *   | { kind: "simple-packet", bytes: Uint8Array, originalLength?: number }
 *   | { kind: "obsolete-packet", frame: CaptureFrame }
 *   | { kind: "interface", iface: PcapngInterface }
 *   | { kind: "block", blockType: number, body: Uint8Array }
 *   | { kind: "raw", bytes: Uint8Array }} PcapngRecord
 */

/**
 * @typedef {object} PcapngSection
 * @property {ByteOrder} [byteOrder] default little-endian
 * @property {readonly PcapngInterface[]} interfaces IDBs written right after the section header, ids 0, 1, ...
 * @property {readonly PcapngRecord[]} records
 */

/** @param {readonly PcapngSection[]} sections @returns {BuiltCapture} a pcapng file of one or more sections, each with its own byte order and interfaces */
export function buildPcapngSections(sections) {
  /** @type {Uint8Array[]} */
  const parts = [];
  /** @type {RecordLayout[]} */
  const records = [];
  let offset = 0;
  /** @param {Uint8Array} block @param {number | undefined} blockType @param {RecordLayout["kind"]} kind */
  const add = (block, blockType, kind) => {
    parts.push(block);
    records.push({ kind, offset, length: block.length, ...(blockType === undefined ? {} : { blockType }) });
    offset += block.length;
  };
  for (const section of sections) {
    const littleEndian = (section.byteOrder ?? "little-endian") === "little-endian";
    add(sectionHeaderBlock(littleEndian), pcapngBlockType.sectionHeader, "block");
    /** @type {PcapngInterface[]} */
    const interfaces = [];
    /** @param {PcapngInterface} iface */
    const addInterface = (iface) => {
      interfaces.push(iface);
      add(interfaceDescriptionBlock(iface, littleEndian), pcapngBlockType.interfaceDescription, "block");
    };
    section.interfaces.forEach(addInterface);
    for (const record of section.records) {
      switch (record.kind) {
        case "interface":
          addInterface(record.iface);
          break;
        case "enhanced-packet":
          add(
            packetBlock({ ...framePacketFields(record.frame, interfaces), ...optional("comment", record.comment), ...optional("trailingLength", record.trailingLength) }, littleEndian),
            pcapngBlockType.enhancedPacket,
            "packet",
          );
          break;
        case "obsolete-packet":
          add(packetBlock(framePacketFields(record.frame, interfaces), littleEndian, "obsolete"), pcapngBlockType.packet, "packet");
          break;
        case "simple-packet":
          add(simplePacketBlock(record.bytes, record.originalLength, interfaces[0], littleEndian), pcapngBlockType.simplePacket, "packet");
          break;
        case "block":
          add(pcapngBlock(record.blockType, record.body, littleEndian), record.blockType, "block");
          break;
        case "raw":
          add(record.bytes, undefined, "block");
          break;
      }
    }
  }
  return { bytes: concatBytes(parts), records };
}

/**
 * @template {string} K @template V
 * @param {K} key @param {V | undefined} value
 * @returns {{ [P in K]?: V }} `{ key: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes)
 */
function optional(key, value) {
  return /** @type {{ [P in K]?: V }} */ (value === undefined ? {} : { [key]: value });
}

/**
 * @param {CaptureFrame} frame @param {readonly PcapngInterface[]} interfaces
 * @returns {PacketBlockFields} the frame as a packet block of its interface, timestamp in that interface's units
 */
function framePacketFields(frame, interfaces) {
  const interfaceId = frame.interfaceId ?? 0;
  const iface = interfaces[interfaceId];
  // A packet naming a missing interface is written anyway (with µs units): corruption tests.
  if (iface !== undefined && iface.linkType !== frame.linkType) {
    throw new Error(`pcapng writer: frame link type ${frame.linkType} but interface ${interfaceId} has ${iface.linkType}`);
  }
  return {
    interfaceId,
    timestamp: timestampUnits(frame, writtenTsresol(iface), iface?.tsoffsetSeconds ?? 0),
    bytes: frame.bytes,
    originalLength: frame.originalLength ?? frame.bytes.length,
  };
}

/**
 * @param {Uint8Array} bytes @param {number | undefined} originalLength @param {PcapngInterface | undefined} iface @param {boolean} littleEndian
 * @returns {Uint8Array}
 */
function simplePacketBlock(bytes, originalLength, iface, littleEndian) {
  const snaplen = iface?.snaplen ?? defaultSnaplen;
  const kept = snaplen === 0 ? bytes : bytes.subarray(0, Math.min(bytes.length, snaplen));
  const body = new ByteWriter(littleEndian);
  body.u32(originalLength ?? bytes.length);
  body.bytes(kept);
  return pcapngBlock(pcapngBlockType.simplePacket, body.finish(), littleEndian);
}

/** @param {readonly PcapngSection[]} sections @returns {Uint8Array} `buildPcapngSections` without the layout */
export function writePcapngSections(sections) {
  return buildPcapngSections(sections).bytes;
}

/**
 * @typedef {object} PcapngOptions
 * @property {ByteOrder} [byteOrder] default little-endian
 * @property {readonly PcapngInterface[]} [interfaces] the section's interfaces; frames pick one with `interfaceId` (default 0). Without this, one interface (ns resolution) per distinct link type, in order of first use, and frames must not set `interfaceId`.
 */

/** @param {readonly CaptureFrame[]} frames @param {PcapngOptions} [options] @returns {BuiltCapture} a one-section pcapng file holding `frames` as Enhanced Packet Blocks */
export function buildPcapng(frames, options = {}) {
  let interfaces = options.interfaces;
  let resolved = frames;
  if (interfaces === undefined) {
    /** @type {number[]} */
    const linkTypes = [];
    for (const frame of frames) {
      if (frame.interfaceId !== undefined) throw new Error("buildPcapng: frames set interfaceId, so pass options.interfaces");
      if (!linkTypes.includes(frame.linkType)) linkTypes.push(frame.linkType);
    }
    interfaces = linkTypes.map((linkType) => ({ linkType }));
    resolved = frames.map((frame) => ({ ...frame, interfaceId: linkTypes.indexOf(frame.linkType) }));
  }
  /** @type {PcapngSection} */
  const section = {
    interfaces,
    records: resolved.map((frame) => ({ kind: /** @type {const} */ ("enhanced-packet"), frame })),
    ...(options.byteOrder === undefined ? {} : { byteOrder: options.byteOrder }),
  };
  return buildPcapngSections([section]);
}

/** @param {readonly CaptureFrame[]} frames @param {PcapngOptions} [options] @returns {Uint8Array} */
export function writePcapng(frames, options = {}) {
  return buildPcapng(frames, options).bytes;
}
