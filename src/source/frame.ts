/**
 * The unit every capture source produces: one link-layer frame.
 *
 * Sources reuse ONE `Frame` object for every frame they emit, and its bytes are a range of the
 * source's read buffer (`data[start, end)`): both are valid only during the `onFrame` call. A
 * consumer that needs bytes later (the reassembler, for out-of-order data) copies exactly what it
 * keeps. This is what lets the pipeline read a multi-gigabyte capture without an allocation per
 * frame.
 */
const noBytes = new Uint8Array(0);

export class Frame {
  /** 1-based frame number within its source, as Wireshark and tcpdump number them. */
  number = 0;
  /** LINKTYPE_* value (https://www.tcpdump.org/linktypes.html) of the interface it came from. */
  linkType = 0;
  /** Capture time: whole seconds since the Unix epoch. */
  timestampSeconds = 0;
  /** Capture time: nanoseconds within the second (0..999,999,999). */
  timestampNanos = 0;
  /** Decimal digits of sub-second precision the capture really has (6 for µs pcap, 9 for ns). */
  timePrecisionDigits = 6;
  /**
   * The buffer that holds the captured bytes, at `data[start, end)` (caplen of them): usually
   * the source's whole read buffer, so that no view is built per frame. Valid only during the
   * callback. The hot path reads `data` with offsets; `bytes` builds a view for everyone else.
   */
  data: Uint8Array = noBytes;
  start = 0;
  end = 0;
  /** Length of the frame on the wire; larger than the captured length when snaplen cut it. */
  originalLength = 0;
  /** Byte offset of the frame's record (pcap record header / pcapng block) in its source. */
  byteOffset = 0;
  /** Interface index within the source (pcapng IDB number; 0 for classic pcap). */
  interfaceId = 0;

  /** The captured bytes as their own view (allocates: not for the per-frame hot path). */
  get bytes(): Uint8Array {
    return this.data.subarray(this.start, this.end);
  }

  /** Bytes captured (caplen). */
  get capturedLength(): number {
    return this.end - this.start;
  }

  /** Points the frame at `data[start, end)` without building a view. */
  setData(data: Uint8Array, start: number, end: number): void {
    this.data = data;
    this.start = start;
    this.end = end;
  }
}

export function createFrame(): Frame {
  return new Frame();
}

/** Capture time in milliseconds, for timeouts (idle flows, pending responses). */
export function frameTimeMs(frame: Frame): number {
  return frame.timestampSeconds * 1000 + Math.floor(frame.timestampNanos / 1_000_000);
}

/** The last whole second formatted: calls come in bursts within a second, so most reuse it. */
let cachedSeconds = Number.NaN;
let cachedSecondsText = "";

/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the times ISO-8601's 4-digit years can show. */
const minIsoSeconds = -62_167_219_200;
const maxIsoSeconds = 253_402_300_799;

/** ISO-8601 UTC time with exactly `digits` sub-second digits (0..9). */
export function formatCaptureTime(seconds: number, nanos: number, digits: number): string {
  if (seconds !== cachedSeconds) {
    // A corrupt pcapng timestamp can lie past what Date (or a 4-digit ISO year) shows: clamp it.
    const shownSeconds = Math.min(Math.max(seconds, minIsoSeconds), maxIsoSeconds);
    cachedSecondsText = new Date(shownSeconds * 1000).toISOString().slice(0, 19); // 2024-01-02T03:04:05
    cachedSeconds = seconds;
  }
  if (digits <= 0) return `${cachedSecondsText}Z`;
  const fraction = digits >= 9 ? nanosText(nanos) : nanosText(nanos).slice(0, digits);
  return `${cachedSecondsText}.${fraction}Z`;
}

/** Nanoseconds as exactly nine digits, without padStart's temporary strings. */
function nanosText(nanos: number): string {
  const text = String(nanos);
  return text.length >= 9 ? text : "000000000".slice(text.length) + text;
}
