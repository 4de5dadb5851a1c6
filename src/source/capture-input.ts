import { InputError } from "../errors.js";
import { CaptureFile } from "./capture-file.js";

/**
 * What `readCapture` reads. A file is read with positioned reads into one reused buffer; a stream
 * (standard input, a socket, a test's chunks) hands over chunks the reader must not assume it can
 * overwrite.
 */
export type CaptureInput =
  | { readonly kind: "file"; readonly file: CaptureFile }
  | { readonly kind: "stream"; readonly chunks: AsyncIterable<Uint8Array> };

export function captureStream(chunks: AsyncIterable<Uint8Array>): CaptureInput {
  return { kind: "stream", chunks };
}

/**
 * Opens a capture for `readCapture`: "-" is standard input, anything else a file. Fails at once,
 * with an InputError naming the path, when the file cannot be opened (rather than on the first
 * read).
 */
export function openCaptureFile(path: string): CaptureInput {
  if (path === "-") return captureStream(standardInput());
  return { kind: "file", file: CaptureFile.open(path) };
}

/** Like `openCaptureFile`, with a replaceable standard input (tests, embedding). */
export function openCaptureInput(path: string, stdin?: AsyncIterable<Uint8Array>): CaptureInput {
  if (path === "-" && stdin !== undefined) return captureStream(stdin);
  return openCaptureFile(path);
}

function standardInput(): AsyncIterable<Uint8Array> {
  if (process.stdin.isTTY) {
    throw new InputError("-", "standard input is a terminal; pipe a capture into it (e.g. `tcpdump -w - ... | imds-analyzer -`)");
  }
  return process.stdin;
}
