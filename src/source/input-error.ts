import { ImdsAnalyzerError, InputError } from "../errors.js";

/** What the usual errno codes of a failed open or read mean, in the words of the message. */
const errnoProblems: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory, not a capture file",
  ENOTDIR: "a component of the path is not a directory",
  EMFILE: "too many open files",
  EIO: "I/O error",
};

/** Any failure of the input becomes an InputError naming the path (the cause keeps the details). */
export function toInputError(error: unknown, path: string): ImdsAnalyzerError {
  if (error instanceof ImdsAnalyzerError) return error;
  const code = errorCodeOf(error);
  const known = code === undefined ? undefined : errnoProblems[code];
  const problem = known ?? `cannot read: ${error instanceof Error ? error.message : String(error)}`;
  return new InputError(path, problem, { cause: error });
}

/** The `code` of a Node error ("ENOENT", "Z_DATA_ERROR", ...), or undefined for other throws. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}
