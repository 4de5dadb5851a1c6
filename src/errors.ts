/**
 * One error hierarchy for everything imds-analyzer throws on purpose. `code` is stable and
 * append-only: scripts and tests match on it, never on message text.
 *
 * Per-frame problems (a malformed packet, a gap in a flow) are not errors: they are counted in
 * `Diagnostics` and the analysis goes on. Errors are for things that stop a source or the run.
 */
export const ErrorCode = {
  usage: "E_USAGE",
  captureFormat: "E_CAPTURE_FORMAT",
  captureTruncated: "E_CAPTURE_TRUNCATED",
  io: "E_IO",
  output: "E_OUTPUT",
  captureDevice: "E_CAPTURE_DEVICE",
  attributionUnavailable: "E_ATTRIBUTION_UNAVAILABLE",
  unsafeOutputPath: "E_OUTPUT_UNSAFE_PATH",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class ImdsAnalyzerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad command-line use: exit code 2. */
export class UsageError extends ImdsAnalyzerError {
  constructor(message: string) {
    super(ErrorCode.usage, message);
  }
}

/** Where in a capture file something went wrong; every capture error carries it. */
export interface CapturePosition {
  /** Path as the user gave it (`-` for standard input). */
  readonly path: string;
  /** Byte offset in the (decompressed) capture stream where the bad record or block starts. */
  readonly byteOffset: number;
  /** 1-based number of the frame being read when it failed (the next frame's number). */
  readonly frameNumber: number;
}

function describePosition(position: CapturePosition): string {
  return `${position.path}: at byte offset ${position.byteOffset} (frame ${position.frameNumber})`;
}

/** The capture file is not a capture, or is corrupt: the source stops here. */
export class CaptureFormatError extends ImdsAnalyzerError implements CapturePosition {
  readonly path: string;
  readonly byteOffset: number;
  readonly frameNumber: number;
  constructor(position: CapturePosition, problem: string, options?: { cause?: unknown }) {
    super(ErrorCode.captureFormat, `${describePosition(position)}: ${problem}`, options);
    this.path = position.path;
    this.byteOffset = position.byteOffset;
    this.frameNumber = position.frameNumber;
  }
}

/**
 * The capture ends in the middle of a record (a capture still being written, or cut short by a
 * copy). Sources raise it as a warning, not an error: everything before it was analysed.
 */
export class CaptureTruncatedError extends ImdsAnalyzerError implements CapturePosition {
  readonly path: string;
  readonly byteOffset: number;
  readonly frameNumber: number;
  readonly missingBytes: number;
  constructor(position: CapturePosition, missingBytes: number, problem: string) {
    super(ErrorCode.captureTruncated, `${describePosition(position)}: ${problem}`);
    this.path = position.path;
    this.byteOffset = position.byteOffset;
    this.frameNumber = position.frameNumber;
    this.missingBytes = missingBytes;
  }
}

/** Reading an input failed (missing file, permission, I/O error). */
export class InputError extends ImdsAnalyzerError {
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(ErrorCode.io, `${path}: ${problem}`, options);
    this.path = path;
  }
}

/** Writing an output failed (disk full, permission, closed pipe). */
export class OutputError extends ImdsAnalyzerError {
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(ErrorCode.output, `${path}: ${problem}`, options);
    this.path = path;
  }
}

/**
 * An output path that another user could have set as a trap (a symbolic link in /tmp, a file of
 * theirs in a world-writable directory): refused before anything is written. See
 * src/sink/output-path.ts for the rule.
 */
export class UnsafeOutputPathError extends OutputError {
  override readonly code = ErrorCode.unsafeOutputPath;
}

/**
 * Live capture could not open or read a device: no permission, no such device, a bad filter, a
 * read error, or the native addon is not built. `reason` is the native layer's code when there
 * is one (`E_PCAP_PERMISSION`, `E_PCAP_NO_SUCH_DEVICE`, `E_PCAP_FILTER`, `E_PCAP_READ`, ...;
 * `E_PCAP_ADDON_UNAVAILABLE` when the addon cannot be loaded), for callers that want to give a hint.
 */
export class CaptureDeviceError extends ImdsAnalyzerError {
  readonly device: string;
  readonly reason: string | null;
  constructor(device: string, problem: string, options?: { cause?: unknown; reason?: string }) {
    super(ErrorCode.captureDevice, problem, options?.cause === undefined ? undefined : { cause: options.cause });
    this.device = device;
    this.reason = options?.reason ?? null;
  }
}

/**
 * Kernel-side process attribution (the eBPF connect tracer) cannot run here: not root, no
 * CAP_BPF, tracefs missing, the verifier rejected the program, a kernel too old for BPF ring
 * buffers, or the addon is not built. `reason` is the native layer's code (`E_EBPF_PERMISSION`,
 * `E_EBPF_TRACEFS`, `E_EBPF_TRACEPOINT`, `E_EBPF_VERIFIER`, `E_EBPF_RINGBUF_UNSUPPORTED`,
 * `E_EBPF_ATTACH`, `E_EBPF_SYSTEM`; `E_EBPF_ADDON_UNAVAILABLE` when the addon cannot be loaded). Callers fall back
 * to /proc attribution.
 */
export class AttributionUnavailableError extends ImdsAnalyzerError {
  readonly reason: string;
  constructor(reason: string, problem: string, options?: { cause?: unknown }) {
    super(ErrorCode.attributionUnavailable, problem, options);
    this.reason = reason;
  }
}
