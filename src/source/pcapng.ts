import { CaptureFormatError, CaptureTruncatedError } from "../errors.js";
import { createFrame } from "./frame.js";
import type { Frame } from "./frame.js";
import { captureLengthLimit, captureLimits } from "./limits.js";
import { hex32 } from "./pcap.js";
import { PcapngTimestampConverter, defaultTsresol } from "./pcapng-timestamp.js";
import type { RecordParser } from "./record-parser.js";
import type { FrameConsumer } from "./types.js";

/** pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html). */
export const pcapngBlockType = {
  sectionHeader: 0x0a0d0d0a,
  interfaceDescription: 0x00000001,
  /** Obsolete Packet Block: like an EPB with a 16-bit interface id and a drops counter. */
  packet: 0x00000002,
  simplePacket: 0x00000003,
  nameResolution: 0x00000004,
  interfaceStatistics: 0x00000005,
  enhancedPacket: 0x00000006,
  systemdJournalExport: 0x00000009,
  decryptionSecrets: 0x0000000a,
  customCopiable: 0x00000bad,
  customNonCopiable: 0x40000bad,
} as const;

/** Byte-order magic of the section header block, as read in the section's own byte order. */
export const pcapngByteOrderMagic = 0x1a2b3c4d;

/** Interface description block option codes this reader uses. */
const interfaceOption = {
  endOfOptions: 0,
  tsresol: 9,
  tsoffset: 14,
} as const;

/** Fixed part of each block: type, total length ... trailing total length. */
const blockMinimumBytes = {
  any: 12,
  sectionHeader: 28,
  interfaceDescription: 20,
  packet: 32,
  simplePacket: 16,
  enhancedPacket: 32,
} as const;
/** Offset of packet data in an EPB or obsolete PB (after type, length, ids, ts high/low, lengths). */
const timestampedPacketDataOffset = 28;
const simplePacketDataOffset = 12;

/** Blocks this reader does not need but knows to be legitimate: skipped without a warning. */
const knownIgnoredBlockTypes: ReadonlySet<number> = new Set([
  pcapngBlockType.nameResolution,
  pcapngBlockType.interfaceStatistics,
  pcapngBlockType.systemdJournalExport,
  pcapngBlockType.decryptionSecrets,
  pcapngBlockType.customCopiable,
  pcapngBlockType.customNonCopiable,
]);

const blockNames: Readonly<Record<number, string>> = {
  [pcapngBlockType.sectionHeader]: "section header block",
  [pcapngBlockType.interfaceDescription]: "interface description block",
  [pcapngBlockType.packet]: "packet block",
  [pcapngBlockType.simplePacket]: "simple packet block",
  [pcapngBlockType.nameResolution]: "name resolution block",
  [pcapngBlockType.interfaceStatistics]: "interface statistics block",
  [pcapngBlockType.enhancedPacket]: "enhanced packet block",
  [pcapngBlockType.decryptionSecrets]: "decryption secrets block",
};

function blockName(blockType: number): string {
  return blockNames[blockType] ?? `block of type 0x${hex32(blockType)}`;
}

interface CaptureInterface {
  readonly linkType: number;
  /** 0 = no limit. */
  readonly snaplen: number;
  readonly maxCaptureLength: number;
  readonly timestamps: PcapngTimestampConverter;
}

/**
 * pcapng: a sequence of blocks (type, total length, body, total length again) grouped in
 * sections. Each section header sets the byte order and starts a fresh interface list; packet
 * blocks name an interface, which gives their link type, snaplen and timestamp resolution.
 */
export class PcapngParser implements RecordParser {
  readonly format = "pcapng";
  pendingLength: number = blockMinimumBytes.any;
  frames = 0;
  unknownBlocksSkipped = 0;
  readonly linkTypes: number[] = [];
  private sections = 0;
  private littleEndian = true;
  private interfaces: CaptureInterface[] = [];
  /** Type of the incomplete block `parse` stopped at (for the truncation message). */
  private pendingBlockType = 0;
  private readonly unknownTypesWarned = new Set<number>();
  private readonly frame: Frame = createFrame();

  constructor(
    private readonly consumer: FrameConsumer,
    private readonly path: string,
    private readonly warn?: (code: string, message: string) => void,
  ) {}

  parse(bytes: Uint8Array, view: DataView, start: number, end: number, baseOffset: number): number {
    let position = start;
    while (true) {
      const available = end - position;
      if (available < blockMinimumBytes.any) {
        this.pendingLength = blockMinimumBytes.any;
        return position;
      }
      const blockType = view.getUint32(position, this.littleEndian);
      // The section header's type reads the same in both byte orders; its byte-order magic
      // decides how to read everything else, its own length included.
      if (blockType === pcapngBlockType.sectionHeader) this.readByteOrder(view, position, baseOffset);
      const littleEndian = this.littleEndian;
      const totalLength = view.getUint32(position + 4, littleEndian);
      if (
        totalLength < blockMinimumBytes.any ||
        (totalLength & 3) !== 0 ||
        totalLength > captureLimits.maxBlockBytes
      ) {
        throw this.badBlockLength(blockType, totalLength, baseOffset + position);
      }
      if (totalLength > available) {
        this.pendingLength = totalLength;
        this.pendingBlockType = blockType;
        return position;
      }
      const trailingLength = view.getUint32(position + totalLength - 4, littleEndian);
      if (trailingLength !== totalLength) {
        throw this.error(
          baseOffset + position,
          `${blockName(blockType)} ends with total length ${trailingLength}, but starts with ${totalLength}: the file is corrupt`,
        );
      }
      if (blockType === pcapngBlockType.enhancedPacket) {
        if (totalLength < blockMinimumBytes.enhancedPacket) {
          throw this.blockTooShort(blockType, totalLength, blockMinimumBytes.enhancedPacket, baseOffset + position);
        }
        this.readTimestampedPacket(bytes, view, position, totalLength, view.getUint32(position + 8, littleEndian), baseOffset);
      } else {
        this.readOtherBlock(bytes, view, position, totalLength, blockType, baseOffset);
      }
      position += totalLength;
    }
  }

  endOfInput(leftoverBytes: number, leftoverOffset: number): CaptureTruncatedError | null {
    const position = { path: this.path, byteOffset: leftoverOffset, frameNumber: this.frames + 1 };
    if (this.sections === 0) {
      throw new CaptureFormatError(position, `file ends inside its first section header block (${leftoverBytes} bytes)`);
    }
    if (leftoverBytes === 0) return null;
    if (leftoverBytes < blockMinimumBytes.any) {
      return new CaptureTruncatedError(
        position,
        blockMinimumBytes.any - leftoverBytes,
        `capture ends inside a block header (${leftoverBytes} of at least ${blockMinimumBytes.any} bytes)`,
      );
    }
    const missing = this.pendingLength - leftoverBytes;
    return new CaptureTruncatedError(
      position,
      missing,
      `capture ends inside a ${blockName(this.pendingBlockType)}: ${leftoverBytes} of ${this.pendingLength} bytes present, ${missing} missing`,
    );
  }

  /** EPB (32-bit interface id) and obsolete PB (16-bit id): same layout from the timestamp on. */
  private readTimestampedPacket(
    bytes: Uint8Array,
    view: DataView,
    position: number,
    totalLength: number,
    interfaceId: number,
    baseOffset: number,
  ): void {
    const littleEndian = this.littleEndian;
    const captureInterface = this.interfaces[interfaceId];
    if (captureInterface === undefined) {
      throw this.error(
        baseOffset + position,
        `packet refers to interface ${interfaceId}, but the section has ${this.interfaces.length} interface(s)`,
      );
    }
    const capturedLength = view.getUint32(position + 20, littleEndian);
    const originalLength = view.getUint32(position + 24, littleEndian);
    const room = totalLength - blockMinimumBytes.enhancedPacket;
    if (capturedLength > room || capturedLength > captureInterface.maxCaptureLength || capturedLength > originalLength) {
      throw this.badPacketLength(position + baseOffset, capturedLength, originalLength, room, captureInterface);
    }
    const frame = this.frame;
    captureInterface.timestamps.apply(
      view.getUint32(position + 12, littleEndian),
      view.getUint32(position + 16, littleEndian),
      frame,
    );
    frame.timePrecisionDigits = captureInterface.timestamps.precisionDigits;
    const dataStart = position + timestampedPacketDataOffset;
    this.emit(bytes, dataStart, capturedLength, originalLength, captureInterface, interfaceId, baseOffset + position);
  }

  private emit(
    bytes: Uint8Array,
    dataStart: number,
    capturedLength: number,
    originalLength: number,
    captureInterface: CaptureInterface,
    interfaceId: number,
    byteOffset: number,
  ): void {
    const frame = this.frame;
    frame.number = ++this.frames;
    frame.linkType = captureInterface.linkType;
    frame.setData(bytes, dataStart, dataStart + capturedLength);
    frame.originalLength = originalLength;
    frame.byteOffset = byteOffset;
    frame.interfaceId = interfaceId;
    this.consumer.onFrame(frame);
  }

  private readOtherBlock(
    bytes: Uint8Array,
    view: DataView,
    position: number,
    totalLength: number,
    blockType: number,
    baseOffset: number,
  ): void {
    if (blockType === pcapngBlockType.sectionHeader) {
      this.readSectionHeader(view, position, totalLength, baseOffset);
      return;
    }
    if (this.sections === 0) {
      throw this.error(baseOffset + position, `file does not start with a section header block (found a ${blockName(blockType)})`);
    }
    switch (blockType) {
      case pcapngBlockType.interfaceDescription:
        this.readInterfaceDescription(bytes, view, position, totalLength, baseOffset);
        return;
      case pcapngBlockType.simplePacket:
        this.readSimplePacket(bytes, view, position, totalLength, baseOffset);
        return;
      case pcapngBlockType.packet:
        if (totalLength < blockMinimumBytes.packet) {
          throw this.blockTooShort(blockType, totalLength, blockMinimumBytes.packet, baseOffset + position);
        }
        this.readTimestampedPacket(bytes, view, position, totalLength, view.getUint16(position + 8, this.littleEndian), baseOffset);
        return;
      default:
        if (!knownIgnoredBlockTypes.has(blockType)) this.skipUnknownBlock(blockType, baseOffset + position);
    }
  }

  private readByteOrder(view: DataView, position: number, baseOffset: number): void {
    const magic = view.getUint32(position + 8, true);
    if (magic === pcapngByteOrderMagic) {
      this.littleEndian = true;
    } else if (view.getUint32(position + 8, false) === pcapngByteOrderMagic) {
      this.littleEndian = false;
    } else {
      throw this.error(
        baseOffset + position,
        `section header block has byte-order magic 0x${hex32(magic)} (expected 0x${hex32(pcapngByteOrderMagic)} in either byte order): not a pcapng file, or corrupt`,
      );
    }
  }

  private readSectionHeader(view: DataView, position: number, totalLength: number, baseOffset: number): void {
    if (totalLength < blockMinimumBytes.sectionHeader) {
      throw this.blockTooShort(pcapngBlockType.sectionHeader, totalLength, blockMinimumBytes.sectionHeader, baseOffset + position);
    }
    const major = view.getUint16(position + 12, this.littleEndian);
    const minor = view.getUint16(position + 14, this.littleEndian);
    if (major !== 1) {
      throw this.error(baseOffset + position, `unsupported pcapng version ${major}.${minor} (expected 1.x)`);
    }
    // A new section: interface ids start again from 0. The section length (often -1, unknown)
    // is not needed when reading sequentially.
    this.interfaces = [];
    this.sections++;
  }

  private readInterfaceDescription(
    bytes: Uint8Array,
    view: DataView,
    position: number,
    totalLength: number,
    baseOffset: number,
  ): void {
    const littleEndian = this.littleEndian;
    if (totalLength < blockMinimumBytes.interfaceDescription) {
      throw this.blockTooShort(pcapngBlockType.interfaceDescription, totalLength, blockMinimumBytes.interfaceDescription, baseOffset + position);
    }
    if (this.interfaces.length >= captureLimits.maxInterfacesPerSection) {
      throw this.error(baseOffset + position, `more than ${captureLimits.maxInterfacesPerSection} interfaces in one section`);
    }
    const linkType = view.getUint16(position + 8, littleEndian);
    const snaplen = view.getUint32(position + 12, littleEndian);
    let tsresol: number = defaultTsresol;
    let tsoffsetSeconds = 0;
    const optionsEnd = position + totalLength - 4;
    let option = position + 16;
    while (optionsEnd - option >= 4) {
      const code = view.getUint16(option, littleEndian);
      const length = view.getUint16(option + 2, littleEndian);
      if (code === interfaceOption.endOfOptions) break;
      const valueStart = option + 4;
      if (valueStart + length > optionsEnd) {
        // The block itself is sound (its lengths matched), so only its options are lost.
        this.warn?.(
          "pcapng-bad-interface-options",
          `${this.path}: at byte offset ${baseOffset + position}: interface description block option ${code} runs past the block; later options ignored`,
        );
        break;
      }
      if (code === interfaceOption.tsresol && length >= 1) tsresol = bytes[valueStart] ?? defaultTsresol;
      else if (code === interfaceOption.tsoffset && length >= 8) tsoffsetSeconds = Number(view.getBigInt64(valueStart, littleEndian));
      option = valueStart + ((length + 3) & ~3);
    }
    this.interfaces.push({
      linkType,
      snaplen,
      maxCaptureLength: captureLengthLimit(snaplen),
      timestamps: new PcapngTimestampConverter(tsresol, tsoffsetSeconds),
    });
    if (!this.linkTypes.includes(linkType)) this.linkTypes.push(linkType);
  }

  /** SPB: no interface id (always 0), no timestamp, no captured length (derived). */
  private readSimplePacket(bytes: Uint8Array, view: DataView, position: number, totalLength: number, baseOffset: number): void {
    if (totalLength < blockMinimumBytes.simplePacket) {
      throw this.blockTooShort(pcapngBlockType.simplePacket, totalLength, blockMinimumBytes.simplePacket, baseOffset + position);
    }
    const captureInterface = this.interfaces[0];
    if (captureInterface === undefined) {
      throw this.error(baseOffset + position, "simple packet block, but the section has no interface");
    }
    const originalLength = view.getUint32(position + 8, this.littleEndian);
    let capturedLength = Math.min(originalLength, totalLength - blockMinimumBytes.simplePacket);
    if (captureInterface.snaplen !== 0) capturedLength = Math.min(capturedLength, captureInterface.snaplen);
    if (capturedLength > captureInterface.maxCaptureLength) {
      throw this.badPacketLength(position + baseOffset, capturedLength, originalLength, capturedLength, captureInterface);
    }
    // No timestamp: the frame keeps the previous frame's time (0 for a first frame).
    if (this.frames === 0) this.frame.timePrecisionDigits = captureInterface.timestamps.precisionDigits;
    this.emit(bytes, position + simplePacketDataOffset, capturedLength, originalLength, captureInterface, 0, baseOffset + position);
  }

  private skipUnknownBlock(blockType: number, byteOffset: number): void {
    this.unknownBlocksSkipped++;
    if (this.unknownTypesWarned.has(blockType) || this.unknownTypesWarned.size >= captureLimits.maxUnknownBlockTypesWarned) {
      return;
    }
    this.unknownTypesWarned.add(blockType);
    this.warn?.(
      `pcapng-unknown-block:0x${hex32(blockType)}`,
      `${this.path}: at byte offset ${byteOffset}: skipped pcapng block of unknown type 0x${hex32(blockType)}`,
    );
  }

  private badBlockLength(blockType: number, totalLength: number, byteOffset: number): CaptureFormatError {
    const problem =
      totalLength < blockMinimumBytes.any
        ? `is below the minimum of ${blockMinimumBytes.any}`
        : (totalLength & 3) !== 0
          ? "is not a multiple of 4"
          : `exceeds the limit of ${captureLimits.maxBlockBytes} bytes`;
    return this.error(byteOffset, `${blockName(blockType)} total length ${totalLength} ${problem}: the file is corrupt`);
  }

  private blockTooShort(blockType: number, totalLength: number, minimum: number, byteOffset: number): CaptureFormatError {
    return this.error(byteOffset, `${blockName(blockType)} total length ${totalLength} is below its minimum of ${minimum}: the file is corrupt`);
  }

  private badPacketLength(
    byteOffset: number,
    capturedLength: number,
    originalLength: number,
    room: number,
    captureInterface: CaptureInterface,
  ): CaptureFormatError {
    const problem =
      capturedLength > room
        ? `exceeds the room for packet data in its block (${room} bytes)`
        : capturedLength > captureInterface.maxCaptureLength
          ? `exceeds the limit of ${captureInterface.maxCaptureLength} bytes (interface snaplen ${captureInterface.snaplen})`
          : `exceeds its original length ${originalLength}`;
    return this.error(byteOffset, `packet captured length ${capturedLength} ${problem}: the file is corrupt`);
  }

  private error(byteOffset: number, problem: string): CaptureFormatError {
    return new CaptureFormatError({ path: this.path, byteOffset, frameNumber: this.frames + 1 }, problem);
  }
}
