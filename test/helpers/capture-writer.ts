/**
 * Builds pcap and pcapng capture files in memory, for tests.
 *
 *   const bytes = writePcap([{ linkType: 1, timestampSeconds: 1700000000, timestampNanos: 5000, bytes: frame }]);
 *   const ng = writePcapng(frames, { byteOrder: "big-endian" });
 *
 * `build*` variants also return where every record landed (`records`), for tests that truncate or
 * corrupt a file at a record boundary. Writers validate their input and throw a plain Error on
 * misuse (a link type that does not match the interface, a pcap with two link types), so a wrong
 * test fails loudly instead of producing a file that tests something else.
 */

/** One frame to write: the same fields a reader's `Frame` reports. */
export interface CaptureFrame {
  /** LINKTYPE_* value (1 = Ethernet, 113 = Linux SLL, 276 = Linux SLL2, 101 = raw IP). */
  readonly linkType: number;
  readonly timestampSeconds: number;
  /** 0..999,999,999; truncated to the file's resolution (µs pcap, the interface's if_tsresol). */
  readonly timestampNanos: number;
  /** The captured bytes. */
  readonly bytes: Uint8Array;
  /** Length on the wire; defaults to `bytes.length`. Larger means the frame was cut by snaplen. */
  readonly originalLength?: number;
  /** pcapng only: index of the interface (IDB) in its section; defaults to 0. */
  readonly interfaceId?: number;
}

export type ByteOrder = "little-endian" | "big-endian";

/** Where one record (file header, pcap record, pcapng block) lies in a built capture. */
export interface RecordLayout {
  readonly kind: "file-header" | "packet" | "block";
  readonly offset: number;
  readonly length: number;
  /** pcapng block type (0x0a0d0d0a, 1, 6, ...); absent for pcap. */
  readonly blockType?: number;
}

export interface BuiltCapture {
  readonly bytes: Uint8Array;
  /** Every record in file order; for pcapng, every block (kind "packet" for EPB/SPB/PB). */
  readonly records: readonly RecordLayout[];
}

// ---------------------------------------------------------------------------------------------
// Classic pcap

export interface PcapOptions {
  /** Default little-endian. */
  readonly byteOrder?: ByteOrder;
  /** Default microseconds (magic a1b2c3d4); nanoseconds writes magic a1b23c4d. */
  readonly timestampPrecision?: "microseconds" | "nanoseconds";
  /** Header snaplen; default 262144. Frames are written whole regardless. */
  readonly snaplen?: number;
  /** Header link type; default the frames' link type (required when there are no frames). */
  readonly linkType?: number;
  /** OR'ed into the header's link type field (FCS length and flag bits 28..31). */
  readonly linkTypeUpperBits?: number;
  /** Default 2.4. */
  readonly version?: { readonly major: number; readonly minor: number };
}

export const pcapMagic = { microseconds: 0xa1b2c3d4, nanoseconds: 0xa1b23c4d } as const;
export const defaultSnaplen = 262_144;

export function buildPcap(frames: readonly CaptureFrame[], options: PcapOptions = {}): BuiltCapture {
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
  const records: RecordLayout[] = [{ kind: "file-header", offset: 0, length: 24 }];
  writer.u32(nanos ? pcapMagic.nanoseconds : pcapMagic.microseconds);
  writer.u16(options.version?.major ?? 2);
  writer.u16(options.version?.minor ?? 4);
  writer.u32(0); // thiszone
  writer.u32(0); // sigfigs
  writer.u32(options.snaplen ?? defaultSnaplen);
  writer.u32((linkType | (options.linkTypeUpperBits ?? 0)) >>> 0);
  for (const frame of frames) {
    const offset = writer.length;
    writer.u32(frame.timestampSeconds);
    writer.u32(nanos ? frame.timestampNanos : Math.floor(frame.timestampNanos / 1000));
    writer.u32(frame.bytes.length);
    writer.u32(frame.originalLength ?? frame.bytes.length);
    writer.bytes(frame.bytes);
    records.push({ kind: "packet", offset, length: writer.length - offset });
  }
  return { bytes: writer.finish(), records };
}

/** A classic pcap file holding `frames` (all of one link type). */
export function writePcap(frames: readonly CaptureFrame[], options: PcapOptions = {}): Uint8Array {
  return buildPcap(frames, options).bytes;
}

// ---------------------------------------------------------------------------------------------
// pcapng

export const pcapngBlockType = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 1,
  packet: 2,
  simplePacket: 3,
  nameResolution: 4,
  interfaceStatistics: 5,
  enhancedPacket: 6,
  decryptionSecrets: 0x0a,
} as const;

/** An interface description block. */
export interface PcapngInterface {
  readonly linkType: number;
  /** Default 262144; 0 means "no limit". */
  readonly snaplen?: number;
  /**
   * Raw if_tsresol byte: 6 = µs, 9 = ns, 3 = ms, 0x80 | 10 = 2^-10 s. Default 9. `null` writes
   * no if_tsresol option at all (readers then assume µs).
   */
  readonly tsresol?: number | null;
  /** if_tsoffset: seconds the reader adds to every timestamp; written only when given. */
  readonly tsoffsetSeconds?: number;
  /** if_name option, written only when given. */
  readonly name?: string;
}

/** One block after the interface description blocks of a section. */
export type PcapngRecord =
  /** Enhanced Packet Block; `comment` adds an opt_comment option after the data. */
  | { readonly kind: "enhanced-packet"; readonly frame: CaptureFrame; readonly comment?: string }
  /** Simple Packet Block: interface 0, no timestamp; data cut to interface 0's snaplen. */
  | { readonly kind: "simple-packet"; readonly bytes: Uint8Array; readonly originalLength?: number }
  /** Obsolete Packet Block (type 2): 16-bit interface id and a drops count. */
  | { readonly kind: "obsolete-packet"; readonly frame: CaptureFrame }
  /** An interface description block in the middle of the section (it gets the next id). */
  | { readonly kind: "interface"; readonly iface: PcapngInterface }
  /** Any block written as-is: unknown types, name resolution, statistics, secrets... */
  | { readonly kind: "block"; readonly blockType: number; readonly body: Uint8Array };

export interface PcapngSection {
  /** Default little-endian. */
  readonly byteOrder?: ByteOrder;
  /** IDBs written right after the section header, ids 0, 1, ... */
  readonly interfaces: readonly PcapngInterface[];
  readonly records: readonly PcapngRecord[];
}

const optionCode = { endOfOptions: 0, comment: 1, ifName: 2, ifTsresol: 9, ifTsoffset: 14 } as const;

/** A pcapng file of one or more sections, each with its own byte order and interfaces. */
export function buildPcapngSections(sections: readonly PcapngSection[]): BuiltCapture {
  const parts: Uint8Array[] = [];
  const records: RecordLayout[] = [];
  let offset = 0;
  const add = (block: Uint8Array, blockType: number, kind: RecordLayout["kind"]): void => {
    parts.push(block);
    records.push({ kind, offset, length: block.length, blockType });
    offset += block.length;
  };
  for (const section of sections) {
    const littleEndian = (section.byteOrder ?? "little-endian") === "little-endian";
    add(sectionHeaderBlock(littleEndian), pcapngBlockType.sectionHeader, "block");
    const interfaces: PcapngInterface[] = [];
    const addInterface = (iface: PcapngInterface): void => {
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
          add(timestampedPacketBlock(record.frame, interfaces, littleEndian, "enhanced", record.comment), pcapngBlockType.enhancedPacket, "packet");
          break;
        case "obsolete-packet":
          add(timestampedPacketBlock(record.frame, interfaces, littleEndian, "obsolete", undefined), pcapngBlockType.packet, "packet");
          break;
        case "simple-packet":
          add(simplePacketBlock(record.bytes, record.originalLength, interfaces[0], littleEndian), pcapngBlockType.simplePacket, "packet");
          break;
        case "block":
          add(pcapngBlock(record.blockType, record.body, littleEndian), record.blockType, "block");
          break;
      }
    }
  }
  return { bytes: concatBytes(parts), records };
}

/** `buildPcapngSections` without the layout. */
export function writePcapngSections(sections: readonly PcapngSection[]): Uint8Array {
  return buildPcapngSections(sections).bytes;
}

export interface PcapngOptions {
  /** Default little-endian. */
  readonly byteOrder?: ByteOrder;
  /**
   * The section's interfaces; frames pick one with `interfaceId` (default 0). Without this, one
   * interface (ns resolution) per distinct link type, in order of first use, and frames must not
   * set `interfaceId`.
   */
  readonly interfaces?: readonly PcapngInterface[];
}

/** A one-section pcapng file holding `frames` as Enhanced Packet Blocks. */
export function buildPcapng(frames: readonly CaptureFrame[], options: PcapngOptions = {}): BuiltCapture {
  let interfaces = options.interfaces;
  let resolved: readonly CaptureFrame[] = frames;
  if (interfaces === undefined) {
    const linkTypes: number[] = [];
    for (const frame of frames) {
      if (frame.interfaceId !== undefined) throw new Error("buildPcapng: frames set interfaceId, so pass options.interfaces");
      if (!linkTypes.includes(frame.linkType)) linkTypes.push(frame.linkType);
    }
    interfaces = linkTypes.map((linkType) => ({ linkType }));
    resolved = frames.map((frame) => ({ ...frame, interfaceId: linkTypes.indexOf(frame.linkType) }));
  }
  const section: PcapngSection = {
    interfaces,
    records: resolved.map((frame) => ({ kind: "enhanced-packet", frame })),
    ...(options.byteOrder === undefined ? {} : { byteOrder: options.byteOrder }),
  };
  return buildPcapngSections([section]);
}

export function writePcapng(frames: readonly CaptureFrame[], options: PcapngOptions = {}): Uint8Array {
  return buildPcapng(frames, options).bytes;
}

/** A block: type, total length, body padded to 4 bytes, total length again. */
export function pcapngBlock(blockType: number, body: Uint8Array, littleEndian: boolean): Uint8Array {
  const writer = new ByteWriter(littleEndian);
  const totalLength = 12 + padded(body.length);
  writer.u32(blockType);
  writer.u32(totalLength);
  writer.bytes(body);
  writer.pad();
  writer.u32(totalLength);
  return writer.finish();
}

function sectionHeaderBlock(littleEndian: boolean): Uint8Array {
  const body = new ByteWriter(littleEndian);
  body.u32(0x1a2b3c4d);
  body.u16(1);
  body.u16(0);
  body.u32(0xffffffff); // section length -1: unknown
  body.u32(0xffffffff);
  return pcapngBlock(pcapngBlockType.sectionHeader, body.finish(), littleEndian);
}

function interfaceDescriptionBlock(iface: PcapngInterface, littleEndian: boolean): Uint8Array {
  const body = new ByteWriter(littleEndian);
  body.u16(iface.linkType);
  body.u16(0);
  body.u32(iface.snaplen ?? defaultSnaplen);
  const options = new ByteWriter(littleEndian);
  if (iface.name !== undefined) options.option(optionCode.ifName, new TextEncoder().encode(iface.name));
  if (iface.tsresol !== null) options.option(optionCode.ifTsresol, Uint8Array.of(writtenTsresol(iface)));
  if (iface.tsoffsetSeconds !== undefined) {
    const value = new ByteWriter(littleEndian);
    value.u64(BigInt(iface.tsoffsetSeconds));
    options.option(optionCode.ifTsoffset, value.finish());
  }
  if (options.length > 0) {
    body.bytes(options.finish());
    body.u32(optionCode.endOfOptions); // code 0, length 0
  }
  return pcapngBlock(pcapngBlockType.interfaceDescription, body.finish(), littleEndian);
}

/** The resolution packets of `iface` are written in (µs when it has no option or does not exist). */
function writtenTsresol(iface: PcapngInterface | undefined): number {
  if (iface === undefined || iface.tsresol === null) return 6;
  return iface.tsresol ?? 9;
}

function timestampedPacketBlock(
  frame: CaptureFrame,
  interfaces: readonly PcapngInterface[],
  littleEndian: boolean,
  variant: "enhanced" | "obsolete",
  comment: string | undefined,
): Uint8Array {
  const interfaceId = frame.interfaceId ?? 0;
  const iface = interfaces[interfaceId];
  // A packet naming a missing interface is written anyway (with µs units): corruption tests.
  if (iface !== undefined && iface.linkType !== frame.linkType) {
    throw new Error(`pcapng writer: frame link type ${frame.linkType} but interface ${interfaceId} has ${iface.linkType}`);
  }
  const units = timestampUnits(frame, writtenTsresol(iface), iface?.tsoffsetSeconds ?? 0);
  const body = new ByteWriter(littleEndian);
  if (variant === "enhanced") {
    body.u32(interfaceId);
  } else {
    body.u16(interfaceId);
    body.u16(0); // drops count
  }
  body.u32(Number(units >> 32n));
  body.u32(Number(units & 0xffffffffn));
  body.u32(frame.bytes.length);
  body.u32(frame.originalLength ?? frame.bytes.length);
  body.bytes(frame.bytes);
  body.pad();
  if (comment !== undefined) {
    body.option(optionCode.comment, new TextEncoder().encode(comment));
    body.u32(optionCode.endOfOptions);
  }
  return pcapngBlock(variant === "enhanced" ? pcapngBlockType.enhancedPacket : pcapngBlockType.packet, body.finish(), littleEndian);
}

function simplePacketBlock(
  bytes: Uint8Array,
  originalLength: number | undefined,
  iface: PcapngInterface | undefined,
  littleEndian: boolean,
): Uint8Array {
  const snaplen = iface?.snaplen ?? defaultSnaplen;
  const kept = snaplen === 0 ? bytes : bytes.subarray(0, Math.min(bytes.length, snaplen));
  const body = new ByteWriter(littleEndian);
  body.u32(originalLength ?? bytes.length);
  body.bytes(kept);
  return pcapngBlock(pcapngBlockType.simplePacket, body.finish(), littleEndian);
}

/** The 64-bit timestamp of `frame` in units of `tsresol`, since the epoch minus `offsetSeconds`. */
export function timestampUnits(
  frame: Pick<CaptureFrame, "timestampSeconds" | "timestampNanos">,
  tsresol: number,
  offsetSeconds = 0,
): bigint {
  const exponent = BigInt(tsresol & 0x7f);
  const unitsPerSecond = (tsresol & 0x80) !== 0 ? 1n << exponent : 10n ** exponent;
  const seconds = BigInt(frame.timestampSeconds - offsetSeconds);
  return seconds * unitsPerSecond + (BigInt(frame.timestampNanos) * unitsPerSecond) / 1_000_000_000n;
}

// ---------------------------------------------------------------------------------------------
// Bytes

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

function padded(length: number): number {
  return (length + 3) & ~3;
}

/** Append-only little/big-endian writer. */
class ByteWriter {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  constructor(private readonly littleEndian: boolean) {}

  u16(value: number): void {
    this.reserve(2).setUint16(this.length, value, this.littleEndian);
    this.length += 2;
  }

  u32(value: number): void {
    this.reserve(4).setUint32(this.length, value >>> 0, this.littleEndian);
    this.length += 4;
  }

  u64(value: bigint): void {
    this.reserve(8).setBigInt64(this.length, value, this.littleEndian);
    this.length += 8;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  /** Zero bytes up to the next multiple of 4. */
  pad(): void {
    const target = padded(this.length);
    this.reserve(target - this.length);
    this.buffer.fill(0, this.length, target);
    this.length = target;
  }

  /** A pcapng option: code, length, value padded to 4. */
  option(code: number, value: Uint8Array): void {
    this.u16(code);
    this.u16(value.length);
    this.bytes(value);
    this.pad();
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private reserve(extra: number): DataView {
    if (this.length + extra > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    return this.view;
  }
}
