import type { ImdsEvent } from "../events.js";
import { summarySchema } from "../summary.js";
import type { AnalysisSummary } from "../summary.js";
import { parseEventRecord, parseSummaryRecord } from "./event-record.js";
import type { MalformedLine } from "./types.js";

/** Longest line read; longer lines are skipped (and reported) without being held in memory. */
export const defaultMaxLineBytes = 1024 * 1024;
/** Largest pretty-printed JSON document (a `--summary-json` file) read whole. */
export const maxDocumentBytes = 64 * 1024 * 1024;
/** Problem texts quote input; they are cut to this. */
const maxProblemChars = 200;

export interface ReadEventsOptions {
  readonly maxLineBytes?: number;
  /**
   * Receives analysis summaries: an `imds-analyzer/summary@1` line, or a whole file holding one
   * pretty-printed summary (`--summary-json`). Without it, summaries count as malformed.
   */
  readonly onSummary?: (summary: AnalysisSummary) => void;
}

export interface ReadEventsResult {
  /** Lines read, blank ones included. */
  readonly lines: number;
  readonly events: number;
  readonly summaries: number;
  readonly malformed: number;
}

/**
 * Reads NDJSON events from a stream of chunks, one line at a time: never the whole input, and
 * never more than `maxLineBytes` of one line (a longer line is counted malformed and skipped up
 * to its newline). Malformed lines (not JSON, not an event, another schema version) are
 * reported with their 1-based line number and skipped; blank lines are ignored; CRLF and a
 * leading BOM are accepted. A file whose first line is a lone `{` is taken as one pretty-printed
 * JSON document (a summary file). Errors of the input stream itself are thrown.
 */
export async function readEvents(
  input: AsyncIterable<Uint8Array>,
  path: string,
  onEvent: (event: ImdsEvent, line: number) => void,
  onMalformed: (malformed: MalformedLine) => void,
  options: ReadEventsOptions = {},
): Promise<ReadEventsResult> {
  const reader = new NdjsonLineReader(path, onEvent, onMalformed, options);
  for await (const chunk of input) reader.push(chunk);
  reader.end();
  return reader.result();
}

class NdjsonLineReader {
  private readonly maxLineBytes: number;
  /** Bytes of a line that spans chunks; grows (doubling) up to maxLineBytes, never beyond. */
  private pending: Buffer = Buffer.alloc(0);
  private pendingLength = 0;
  /** The current line passed maxLineBytes: its bytes are dropped until its newline. */
  private overlong = false;
  private lineNumber = 0;
  private sawContent = false;
  /** Set when the input turned out to be one pretty-printed JSON document. */
  private document: Buffer[] | null = null;
  private documentBytes = 0;
  private documentTooLarge = false;
  private events = 0;
  private summaries = 0;
  private malformed = 0;

  constructor(
    private readonly path: string,
    private readonly onEvent: (event: ImdsEvent, line: number) => void,
    private readonly onMalformed: (malformed: MalformedLine) => void,
    private readonly options: ReadEventsOptions,
  ) {
    this.maxLineBytes = options.maxLineBytes ?? defaultMaxLineBytes;
  }

  push(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < bytes.length) {
      if (this.document !== null) {
        this.appendDocument(bytes.subarray(start));
        return;
      }
      const newline = bytes.indexOf(10, start);
      if (newline < 0) {
        this.appendPending(bytes, start, bytes.length);
        return;
      }
      if (this.pendingLength === 0 && !this.overlong) {
        // The common case: the whole line is in this chunk; no copy.
        this.line(bytes, start, newline);
      } else {
        this.appendPending(bytes, start, newline);
        this.line(this.pending, 0, this.pendingLength);
      }
      start = newline + 1;
    }
  }

  end(): void {
    if (this.document !== null) {
      this.finishDocument();
      return;
    }
    if (this.pendingLength > 0 || this.overlong) this.line(this.pending, 0, this.pendingLength);
  }

  result(): ReadEventsResult {
    return { lines: this.lineNumber, events: this.events, summaries: this.summaries, malformed: this.malformed };
  }

  private appendPending(bytes: Buffer, start: number, end: number): void {
    if (this.overlong) return;
    const length = end - start;
    if (this.pendingLength + length > this.maxLineBytes) {
      this.overlong = true;
      this.pendingLength = 0;
      return;
    }
    if (this.pendingLength + length > this.pending.length) {
      let capacity = Math.max(this.pending.length * 2, 64 * 1024);
      while (capacity < this.pendingLength + length) capacity *= 2;
      const grown = Buffer.alloc(Math.min(capacity, this.maxLineBytes));
      this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    bytes.copy(this.pending, this.pendingLength, start, end);
    this.pendingLength += length;
  }

  /** One complete line, without its newline. */
  private line(bytes: Buffer, start: number, end: number): void {
    this.lineNumber++;
    const wasOverlong = this.overlong;
    this.overlong = false;
    this.pendingLength = 0;
    if (wasOverlong || end - start > this.maxLineBytes) {
      // Content, though unread: a lone "{" after it no longer starts a pretty-printed document.
      this.sawContent = true;
      this.report(this.lineNumber, `line longer than ${this.maxLineBytes} bytes (skipped)`);
      return;
    }
    let lineEnd = end;
    if (lineEnd > start && bytes[lineEnd - 1] === 13) lineEnd--;
    let text = bytes.toString("utf8", start, lineEnd);
    if (this.lineNumber === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim().length === 0) return;
    if (!this.sawContent && text.trim() === "{") {
      // A pretty-printed JSON document (a --summary-json file), not NDJSON.
      this.document = [Buffer.from("{\n")];
      this.documentBytes = 2;
      return;
    }
    this.sawContent = true;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.report(this.lineNumber, `not JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.dispatch(value, this.lineNumber);
  }

  private dispatch(value: unknown, line: number): void {
    const onSummary = this.options.onSummary;
    if (onSummary !== undefined && isSummaryLike(value)) {
      const summary = parseSummaryRecord(value);
      if (typeof summary === "string") this.report(line, `summary: ${summary}`);
      else {
        this.summaries++;
        onSummary(summary);
      }
      return;
    }
    const event = parseEventRecord(value);
    if (typeof event === "string") {
      this.report(line, event);
      return;
    }
    this.events++;
    this.onEvent(event, line);
  }

  private appendDocument(bytes: Buffer): void {
    if (this.documentTooLarge) return;
    if (this.documentBytes + bytes.length > maxDocumentBytes) {
      this.documentTooLarge = true;
      this.document = [];
      return;
    }
    // Copied: the chunk's buffer may be reused by the stream.
    this.document!.push(Buffer.from(bytes));
    this.documentBytes += bytes.length;
  }

  private finishDocument(): void {
    const documentLine = this.lineNumber;
    if (this.documentTooLarge) {
      this.report(documentLine, `JSON document larger than ${maxDocumentBytes} bytes (skipped)`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(this.document!).toString("utf8"));
    } catch (error) {
      this.report(documentLine, `not JSON (a multi-line document): ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.dispatch(value, documentLine);
  }

  private report(line: number, problem: string): void {
    this.malformed++;
    this.onMalformed({ path: this.path, line, problem: problem.length > maxProblemChars ? `${problem.slice(0, maxProblemChars - 3)}...` : problem });
  }
}

function isSummaryLike(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { schema?: unknown }).schema === summarySchema;
}
