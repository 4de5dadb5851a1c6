/**
 * The unit every capture source produces: one link-layer frame.
 *
 * Sources reuse ONE `Frame` object for every frame they emit and `bytes` is a view into the
 * source's read buffer: both are valid only during the `onFrame` call. A consumer that needs
 * bytes later (the reassembler, for out-of-order data) copies exactly what it keeps. This is what
 * lets the pipeline read a multi-gigabyte capture without an allocation per frame.
 */
export interface Frame {
  /** 1-based frame number within its source, as Wireshark and tcpdump number them. */
  number: number;
  /** LINKTYPE_* value (https://www.tcpdump.org/linktypes.html) of the interface it came from. */
  linkType: number;
  /** Capture time: whole seconds since the Unix epoch. */
  timestampSeconds: number;
  /** Capture time: nanoseconds within the second (0..999,999,999). */
  timestampNanos: number;
  /** Decimal digits of sub-second precision the capture really has (6 for µs pcap, 9 for ns). */
  timePrecisionDigits: number;
  /** The captured bytes (caplen of them): a view valid only during the callback. */
  bytes: Uint8Array;
  /** Length of the frame on the wire; larger than `bytes.length` when snaplen cut it. */
  originalLength: number;
  /** Byte offset of the frame's record (pcap record header / pcapng block) in its source. */
  byteOffset: number;
  /** Interface index within the source (pcapng IDB number; 0 for classic pcap). */
  interfaceId: number;
}

export function createFrame(): Frame {
  return {
    number: 0,
    linkType: 0,
    timestampSeconds: 0,
    timestampNanos: 0,
    timePrecisionDigits: 6,
    bytes: new Uint8Array(0),
    originalLength: 0,
    byteOffset: 0,
    interfaceId: 0,
  };
}

/** Capture time in milliseconds, for timeouts (idle flows, pending responses). */
export function frameTimeMs(frame: Frame): number {
  return frame.timestampSeconds * 1000 + Math.floor(frame.timestampNanos / 1_000_000);
}

/** ISO-8601 UTC time with exactly `digits` sub-second digits (0..9). */
export function formatCaptureTime(seconds: number, nanos: number, digits: number): string {
  const whole = new Date(seconds * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  const base = whole.slice(0, 19);
  if (digits <= 0) return `${base}Z`;
  const fraction = String(nanos).padStart(9, "0").slice(0, Math.min(digits, 9));
  return `${base}.${fraction}Z`;
}
