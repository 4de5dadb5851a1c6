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
