import { CaptureFormatError, CaptureTruncatedError } from "../errors.js";
import { createFrame } from "./frame.js";
import type { Frame } from "./frame.js";
import { captureLengthLimit } from "./limits.js";
import type { RecordParser } from "./record-parser.js";
import type { FrameConsumer } from "./types.js";

/** Classic pcap magic numbers, as read in the file's own byte order. */
export const pcapMagic = {
  microseconds: 0xa1b2c3d4,
  nanoseconds: 0xa1b23c4d,
  /** Alexey Kuznetsov's patched libpcap: 24-byte record headers. Recognised only to name it. */
  modified: 0xa1b2cd34,
} as const;

const fileHeaderBytes = 24;
const recordHeaderBytes = 16;
const supportedMajorVersion = 2;

/**
 * Classic libpcap format (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/): a 24-byte
 * file header, then records of a 16-byte header (ts_sec, ts_usec or ts_nsec, caplen, origlen)
 * and caplen bytes. Either byte order; µs or ns timestamps.
 */
export class PcapParser implements RecordParser {
  readonly format = "pcap";
  pendingLength: number = fileHeaderBytes;
  frames = 0;
  readonly unknownBlocksSkipped = 0;
  readonly linkTypes: number[] = [];
  private fileHeaderRead = false;
  private littleEndian = true;
  private fractionsPerSecond = 1_000_000;
  private nanosPerFraction = 1000;
  private precisionDigits = 6;
  private linkType = 0;
  private snaplen = 0;
  private maxCaptureLength = 0;
  private readonly frame: Frame = createFrame();

  constructor(
    private readonly consumer: FrameConsumer,
    private readonly path: string,
  ) {}

  parse(bytes: Uint8Array, view: DataView, start: number, end: number, baseOffset: number): number {
    let position = start;
    if (!this.fileHeaderRead) {
      if (end - position < fileHeaderBytes) {
        this.pendingLength = fileHeaderBytes;
        return position;
      }
      this.readFileHeader(view, position, baseOffset);
      position += fileHeaderBytes;
    }
    const littleEndian = this.littleEndian;
    const maxCaptureLength = this.maxCaptureLength;
    const fractionsPerSecond = this.fractionsPerSecond;
    const frame = this.frame;
    const consumer = this.consumer;
    while (end - position >= recordHeaderBytes) {
      const capturedLength = view.getUint32(position + 8, littleEndian);
      const originalLength = view.getUint32(position + 12, littleEndian);
      if (capturedLength > maxCaptureLength || capturedLength > originalLength) {
        throw this.badRecord(position + baseOffset, capturedLength, originalLength);
      }
      const dataStart = position + recordHeaderBytes;
      const recordEnd = dataStart + capturedLength;
      if (recordEnd > end) {
        this.pendingLength = recordHeaderBytes + capturedLength;
        return position;
      }
      let seconds = view.getUint32(position, littleEndian);
      let fraction = view.getUint32(position + 4, littleEndian);
      if (fraction >= fractionsPerSecond) {
        // Some writers do not normalise; carry the excess into the seconds rather than fail.
        seconds += Math.floor(fraction / fractionsPerSecond);
        fraction %= fractionsPerSecond;
      }
      frame.number = ++this.frames;
      frame.linkType = this.linkType;
      frame.timestampSeconds = seconds;
      frame.timestampNanos = fraction * this.nanosPerFraction;
      frame.timePrecisionDigits = this.precisionDigits;
      frame.setData(bytes, dataStart, recordEnd);
      frame.originalLength = originalLength;
      frame.byteOffset = baseOffset + position;
      frame.interfaceId = 0;
      consumer.onFrame(frame);
      position = recordEnd;
    }
    this.pendingLength = recordHeaderBytes;
    return position;
  }

  endOfInput(leftoverBytes: number, leftoverOffset: number): CaptureTruncatedError | null {
    const position = { path: this.path, byteOffset: leftoverOffset, frameNumber: this.frames + 1 };
    if (!this.fileHeaderRead) {
      throw new CaptureFormatError(
        position,
        `file ends inside the pcap file header (${leftoverBytes} of ${fileHeaderBytes} bytes)`,
      );
    }
    if (leftoverBytes === 0) return null;
    if (leftoverBytes < recordHeaderBytes) {
      return new CaptureTruncatedError(
        position,
        recordHeaderBytes - leftoverBytes,
        `capture ends inside a record header (${leftoverBytes} of ${recordHeaderBytes} bytes)`,
      );
    }
    const missing = this.pendingLength - leftoverBytes;
    return new CaptureTruncatedError(
      position,
      missing,
      `capture ends inside a record: ${leftoverBytes - recordHeaderBytes} of ${this.pendingLength - recordHeaderBytes} frame bytes present, ${missing} missing`,
    );
  }

  private readFileHeader(view: DataView, position: number, baseOffset: number): void {
    const errorPosition = { path: this.path, byteOffset: baseOffset + position, frameNumber: 1 };
    const magic = view.getUint32(position, true);
    if (magic === pcapMagic.microseconds || magic === pcapMagic.nanoseconds) {
      this.littleEndian = true;
    } else if (swap32(magic) === pcapMagic.microseconds || swap32(magic) === pcapMagic.nanoseconds) {
      this.littleEndian = false;
    } else if (magic === pcapMagic.modified || swap32(magic) === pcapMagic.modified) {
      throw new CaptureFormatError(
        errorPosition,
        "modified (Kuznetsov) pcap format is not supported; convert it with `editcap -F pcap`",
      );
    } else {
      throw new CaptureFormatError(errorPosition, `not a pcap file (magic 0x${hex32(magic)})`);
    }
    const littleEndian = this.littleEndian;
    const nanos = view.getUint32(position, littleEndian) === pcapMagic.nanoseconds;
    this.fractionsPerSecond = nanos ? 1_000_000_000 : 1_000_000;
    this.nanosPerFraction = nanos ? 1 : 1000;
    this.precisionDigits = nanos ? 9 : 6;
    const major = view.getUint16(position + 4, littleEndian);
    const minor = view.getUint16(position + 6, littleEndian);
    if (major !== supportedMajorVersion) {
      throw new CaptureFormatError(errorPosition, `unsupported pcap version ${major}.${minor} (expected 2.x)`);
    }
    this.snaplen = view.getUint32(position + 16, littleEndian);
    this.maxCaptureLength = captureLengthLimit(this.snaplen);
    // The upper bits of the link type field carry FCS information (draft-ietf-opsawg-pcap §4).
    this.linkType = view.getUint32(position + 20, littleEndian) & 0xffff;
    this.linkTypes.push(this.linkType);
    this.fileHeaderRead = true;
    this.pendingLength = recordHeaderBytes;
  }

  private badRecord(byteOffset: number, capturedLength: number, originalLength: number): CaptureFormatError {
    const position = { path: this.path, byteOffset, frameNumber: this.frames + 1 };
    const problem =
      capturedLength > this.maxCaptureLength
        ? `record captured length ${capturedLength} exceeds the limit of ${this.maxCaptureLength} bytes (file snaplen ${this.snaplen}): the file is corrupt`
        : `record captured length ${capturedLength} exceeds its original length ${originalLength}: the file is corrupt`;
    return new CaptureFormatError(position, problem);
  }
}

export function swap32(value: number): number {
  return (
    (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | ((value >>> 24) & 0xff)) >>> 0
  );
}

export function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}
