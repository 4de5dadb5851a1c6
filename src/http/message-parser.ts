import { BodyFraming } from "./body-framing.js";
import { Byte, hexDigitValue, isOwsByte, isTokenByte } from "./bytes.js";
import type { HeaderNameSet } from "./header-name-set.js";
import { decodeLatin1 } from "./latin1.js";
import type { HeadLossCause, HttpBodySink, HttpHeader, HttpParseErrorReason, HttpParseLimits } from "./types.js";

/**
 * The engine shared by the request and response parsers: line splitting, header fields, body
 * skipping, limits and resynchronisation. Subclasses only say what a start line looks like and
 * what a complete head means.
 *
 * Design (after llhttp, simplified for an observer that only needs heads):
 * - Lines are found with indexOf(LF) on the pushed bytes; a line wholly inside one push is
 *   decoded in place. Only a line split across pushes is copied, into `carry`, whose size is
 *   bounded by maxHeadBytes. Bodies are skipped by counting: no work per body byte, unless a
 *   subclass hands a body to an HttpBodySink (a few small IMDS responses, nothing else).
 * - Bare LF line ends are accepted (a trailing CR is stripped when present): strict parsers reject
 *   them, but an observer that rejects what a server might accept only misses requests.
 * - An error drops the current message; the parser then looks at every following line start for
 *   a plausible start line. A cheap prefix test (method token + SP, or "HTTP/") discards most
 *   lines after a few bytes, so resync scanning is linear and keeps at most one line.
 */

const ParserState = {
  /** Before or inside a start line; `resyncing` says whether a failure there is reported. */
  startLine: 0,
  headerLine: 1,
  fixedLengthBody: 2,
  chunkSizeLine: 3,
  chunkData: 4,
  /** Expecting the CR (or bare LF) that ends chunk data. */
  chunkDataCr: 5,
  chunkDataLf: 6,
  trailerLine: 7,
  bodyUntilClose: 8,
  /** The connection switched protocols (101, CONNECT tunnel): what follows is not HTTP. */
  stopped: 9,
  /** Lost sync in the middle of a line: skip to the next LF, then look for a start line. */
  resyncSkipLine: 10,
  ended: 11,
} as const;
type ParserState = (typeof ParserState)[keyof typeof ParserState];

/** What a subclass says about the first bytes of a would-be start line. */
export const StartLinePrefix = { needMore: 0, plausible: 1, impossible: 2 } as const;
export type StartLinePrefix = (typeof StartLinePrefix)[keyof typeof StartLinePrefix];

/** Chunk-size lines (with extensions) longer than this are an error; llhttp allows 16 KiB. */
export const maxChunkSizeLineBytes = 16 * 1024;

/** A carry buffer that grew past this for one long line is released once the line is done. */
const carryKeepBytes = 4096;
const carryInitialBytes = 256;

interface MutableHeader {
  name: string;
  value: string;
}

export abstract class HttpMessageParser {
  protected readonly limits: HttpParseLimits;
  private state: ParserState = ParserState.startLine;
  /** Looking for the next message after an error or gap: failures are silent, HTTP/1.x only. */
  private resyncing = false;
  /** Bytes of the current start line the prefix test has seen (0: at a line start). */
  private prefixLength = 0;
  private prefixPlausible = false;
  /** The part of the current line that arrived in earlier pushes. */
  private carry: Uint8Array | null = null;
  private carryLength = 0;
  /** Bytes of the head (or of the trailer section) so far, line ends included. */
  private sectionBytes = 0;
  private bodyBytesRemaining = 0;
  private trailerCount = 0;
  private headers: MutableHeader[] = [];
  /** Header lines of the current head, reported or not (for maxHeaderCount). */
  private headerCount = 0;
  /** Whether the last header line was reported (an obsolete continuation line follows it). */
  private lastHeaderReported = false;
  private readonly chunkSizeLineLimitBytes: number;
  private resynchronisations = 0;
  /** Receives the current body, when a subclass asked for it (see beginBody). */
  private bodySink: HttpBodySink | null = null;

  /**
   * `reportedHeaders`: report only these headers (the others are checked, counted against the
   * limits and skipped without being decoded); null reports all of them.
   */
  protected constructor(
    limits: HttpParseLimits,
    private readonly reportedHeaders: HeaderNameSet | null = null,
  ) {
    this.limits = limits;
    this.chunkSizeLineLimitBytes = Math.min(maxChunkSizeLineBytes, limits.maxHeadBytes);
  }

  /** Times the parser found a message again after an error or a gap. */
  get resyncCount(): number {
    return this.resynchronisations;
  }

  /** Bytes the parser holds for a line split across pushes (never above maxHeadBytes). */
  get bufferedByteCapacity(): number {
    return this.carry === null ? 0 : this.carry.length;
  }

  /** `bytes` is only read during the call; whatever must outlive it is copied. */
  push(bytes: Uint8Array): void {
    const end = bytes.length;
    let position = 0;
    while (position < end) {
      switch (this.state) {
        case ParserState.startLine:
          position = this.consumeStartLine(bytes, position, end);
          break;
        case ParserState.headerLine:
          position = this.consumeLine(bytes, position, position, end, this.limits.maxHeadBytes - this.sectionBytes);
          break;
        case ParserState.chunkSizeLine:
          position = this.consumeLine(bytes, position, position, end, this.chunkSizeLineLimitBytes);
          break;
        case ParserState.trailerLine:
          position = this.consumeLine(bytes, position, position, end, this.limits.maxHeadBytes - this.sectionBytes);
          break;
        case ParserState.fixedLengthBody: {
          const skipped = Math.min(this.bodyBytesRemaining, end - position);
          this.bodySink?.onBodyData(bytes, position, position + skipped);
          position += skipped;
          this.bodyBytesRemaining -= skipped;
          if (this.bodyBytesRemaining === 0) {
            this.endBody(true);
            this.startMessage();
          }
          break;
        }
        case ParserState.chunkData: {
          const skipped = Math.min(this.bodyBytesRemaining, end - position);
          this.bodySink?.onBodyData(bytes, position, position + skipped);
          position += skipped;
          this.bodyBytesRemaining -= skipped;
          if (this.bodyBytesRemaining === 0) this.state = ParserState.chunkDataCr;
          break;
        }
        case ParserState.chunkDataCr: {
          const byte = bytes[position]!;
          position++;
          if (byte === Byte.cr) this.state = ParserState.chunkDataLf;
          else if (byte === Byte.lf) this.state = ParserState.chunkSizeLine;
          else this.fail("bad-chunk", "chunk data not followed by CRLF", false);
          break;
        }
        case ParserState.chunkDataLf: {
          const byte = bytes[position]!;
          position++;
          if (byte === Byte.lf) this.state = ParserState.chunkSizeLine;
          else this.fail("bad-chunk", "chunk data not followed by CRLF", false);
          break;
        }
        case ParserState.resyncSkipLine: {
          const lineFeed = bytes.indexOf(Byte.lf, position);
          if (lineFeed === -1) return;
          position = lineFeed + 1;
          this.enterResync(true);
          break;
        }
        case ParserState.bodyUntilClose:
          this.bodySink?.onBodyData(bytes, position, end);
          return;
        case ParserState.stopped:
        case ParserState.ended:
          return;
      }
    }
  }

  /**
   * Bytes were lost. With their count known and inside a body of known length, the gap is just
   * skipped and true is returned. Otherwise the partial message is dropped and the parser
   * resynchronises (the byte after a gap is tried as a line start: segments often begin one);
   * false says messages may have been lost.
   */
  gap(lostBytes: number | null = null): boolean {
    // A body that lost bytes is incomplete, even when the framing survives the gap.
    if (lostBytes !== 0) this.endBody(false);
    switch (this.state) {
      case ParserState.bodyUntilClose:
      case ParserState.stopped:
      case ParserState.ended:
        return true;
      case ParserState.fixedLengthBody:
      case ParserState.chunkData:
        if (lostBytes !== null && lostBytes <= this.bodyBytesRemaining) {
          this.bodyBytesRemaining -= lostBytes;
          if (this.bodyBytesRemaining === 0) {
            if (this.state === ParserState.fixedLengthBody) this.startMessage();
            else this.state = ParserState.chunkDataCr;
          }
          return true;
        }
        break;
      case ParserState.startLine:
      case ParserState.headerLine:
      case ParserState.chunkSizeLine:
      case ParserState.chunkDataCr:
      case ParserState.chunkDataLf:
      case ParserState.trailerLine:
      case ParserState.resyncSkipLine:
        break;
    }
    if (lostBytes === 0) return true;
    this.reportHeadLost("gap");
    this.enterResync(true);
    return false;
  }

  /** The stream is over. A partial head is dropped silently; later calls do nothing. */
  end(): void {
    // A body delimited by the end of the connection is complete now; any other is cut short.
    this.endBody(this.state === ParserState.bodyUntilClose);
    this.reportHeadLost("end");
    this.state = ParserState.ended;
    this.carry = null;
    this.carryLength = 0;
    this.headers = [];
  }

  /** Judges byte `index` of a start line (the bytes before it were judged `needMore`). */
  protected abstract startLinePrefix(byte: number, index: number): StartLinePrefix;

  /**
   * Parses a complete start line (line end removed) into the subclass's fields. Returns the
   * HTTP major version digit, or -1 when the line is malformed.
   */
  protected abstract parseStartLine(line: Uint8Array, start: number, end: number): number;

  /** The empty line ended the head: report it and call `beginBody`, `stop` or `fail`. */
  protected abstract completeHead(headers: readonly HttpHeader[]): void;

  protected abstract reportError(reason: HttpParseErrorReason, detail: string): void;

  protected abstract readonly badStartLineReason: HttpParseErrorReason;

  /**
   * `framing` is a BodyFraming value or a length; the caller has handled the bad ones. With a
   * `sink`, the body's bytes go to it (an empty body ends it at once).
   */
  protected beginBody(framing: number, sink: HttpBodySink | null = null): void {
    this.bodySink = sink;
    if (framing === BodyFraming.chunked) {
      this.state = ParserState.chunkSizeLine;
    } else if (framing === BodyFraming.untilClose) {
      this.state = ParserState.bodyUntilClose;
    } else if (framing > 0) {
      this.state = ParserState.fixedLengthBody;
      this.bodyBytesRemaining = framing;
    } else {
      this.endBody(true);
      this.startMessage();
    }
  }

  /** Everything after this message belongs to another protocol. */
  protected stop(): void {
    this.endBody(false);
    this.state = ParserState.stopped;
    this.carry = null;
    this.carryLength = 0;
  }

  /** Drops the current message, reports why, and goes looking for the next one. */
  protected fail(reason: HttpParseErrorReason, detail: string, atLineStart: boolean): void {
    // A start line that failed is no message at all; a head that failed after it is one.
    const headLost = this.state === ParserState.headerLine;
    const headers = this.headers;
    this.enterResync(atLineStart);
    this.reportError(reason, detail);
    if (headLost) this.headLost(reason, null, headers);
  }

  /**
   * A head in progress is being dropped. `startLine` is the part of the start line seen when the
   * head was dropped inside it (line end not reached), or null when the start line was whole
   * (the subclass kept what parseStartLine read); `headers` are the whole header lines before.
   * Only the request parser listens: a request seen in part is still a request.
   */
  protected headLost(_cause: HeadLossCause, _startLine: Uint8Array | null, _headers: readonly HttpHeader[]): void {
    // Responses seen in part carry nothing the pipeline uses.
  }

  private reportHeadLost(cause: HeadLossCause): void {
    if (this.state === ParserState.headerLine) {
      this.headLost(cause, null, this.headers);
    } else if (this.state === ParserState.startLine && this.carryLength > 0 && this.carry !== null) {
      this.headLost(cause, this.carry.subarray(0, this.carryLength), []);
    }
  }

  /** Tells the body's sink, if any, that the body is over (only once). */
  private endBody(complete: boolean): void {
    const sink = this.bodySink;
    if (sink === null) return;
    this.bodySink = null;
    sink.onBodyEnd(complete);
  }

  private startMessage(): void {
    // Normal ends of a body call endBody(true) first; anything else reaching here lost it.
    this.endBody(false);
    this.state = ParserState.startLine;
    this.resyncing = false;
    this.prefixLength = 0;
    this.prefixPlausible = false;
    this.carryLength = 0;
    this.sectionBytes = 0;
  }

  private enterResync(atLineStart: boolean): void {
    this.startMessage();
    this.resyncing = true;
    this.headers = [];
    if (!atLineStart) this.state = ParserState.resyncSkipLine;
  }

  /** Prefix test byte by byte (a few bytes per line), then the rest of the line by indexOf. */
  private consumeStartLine(bytes: Uint8Array, position: number, end: number): number {
    let lineStart = position;
    if (!this.prefixPlausible) {
      while (position < end) {
        const byte = bytes[position]!;
        if (this.prefixLength === 0 && (byte === Byte.cr || byte === Byte.lf)) {
          // Empty lines before a start line are ignored (RFC 9112 section 2.2).
          position++;
          lineStart = position;
          continue;
        }
        const verdict = this.startLinePrefix(byte, this.prefixLength);
        if (verdict === StartLinePrefix.impossible) {
          if (this.resyncing) this.enterResync(byte === Byte.lf);
          else this.fail(this.badStartLineReason, "malformed start line", byte === Byte.lf);
          return position + 1;
        }
        this.prefixLength++;
        position++;
        if (verdict === StartLinePrefix.plausible) {
          this.prefixPlausible = true;
          break;
        }
      }
      if (!this.prefixPlausible) {
        this.appendToCarry(bytes, lineStart, end);
        return end;
      }
    }
    return this.consumeLine(bytes, lineStart, position, end, this.limits.maxHeadBytes - this.sectionBytes);
  }

  /**
   * Takes one line (or the part of it in this push) starting at `lineStart`, searching for its
   * LF from `searchFrom`. Returns the position after what was consumed.
   */
  private consumeLine(bytes: Uint8Array, lineStart: number, searchFrom: number, end: number, maxLineBytes: number): number {
    const lineFeed = bytes.indexOf(Byte.lf, searchFrom);
    const stop = lineFeed === -1 ? end : lineFeed + 1;
    const lineBytes = this.carryLength + (stop - lineStart);
    if (lineBytes > maxLineBytes) {
      this.lineTooLong(lineFeed !== -1);
      return stop;
    }
    if (lineFeed === -1) {
      this.appendToCarry(bytes, lineStart, end);
      return end;
    }
    this.sectionBytes += lineBytes;
    let line = bytes;
    let start = lineStart;
    let lineEnd = lineFeed;
    if (this.carryLength > 0) {
      this.appendToCarry(bytes, lineStart, lineFeed);
      line = this.carry!;
      start = 0;
      lineEnd = this.carryLength;
    }
    if (lineEnd > start && line[lineEnd - 1] === Byte.cr) lineEnd--;
    // The carry is free again: handlers only read `line` and never append.
    this.carryLength = 0;
    this.handleLine(line, start, lineEnd);
    if (this.carry !== null && this.carry.length > carryKeepBytes) this.carry = null;
    return lineFeed + 1;
  }

  private appendToCarry(bytes: Uint8Array, start: number, end: number): void {
    const needed = this.carryLength + (end - start);
    if (this.carry === null || needed > this.carry.length) {
      // Doubling keeps copying linear; callers check the line limits first, so the capacity
      // stops at maxHeadBytes.
      let capacity = this.carry === null ? carryInitialBytes : this.carry.length * 2;
      while (capacity < needed) capacity *= 2;
      capacity = Math.min(capacity, Math.max(needed, this.limits.maxHeadBytes));
      const grown = new Uint8Array(capacity);
      if (this.carry !== null) grown.set(this.carry.subarray(0, this.carryLength));
      this.carry = grown;
    }
    this.carry.set(bytes.subarray(start, end), this.carryLength);
    this.carryLength = needed;
  }

  // lineTooLong and handleLine serve consumeLine, which runs only in the four line states.
  private lineTooLong(lineComplete: boolean): void {
    const state = this.state;
    if (state === ParserState.startLine && this.resyncing) {
      this.enterResync(lineComplete);
    } else if (state === ParserState.chunkSizeLine) {
      this.fail("bad-chunk", `chunk-size line exceeds ${this.chunkSizeLineLimitBytes} bytes`, lineComplete);
    } else {
      this.fail("head-too-large", `head exceeds ${this.limits.maxHeadBytes} bytes`, lineComplete);
    }
  }

  private handleLine(line: Uint8Array, start: number, end: number): void {
    const state = this.state;
    if (state === ParserState.startLine) this.handleStartLine(line, start, end);
    else if (state === ParserState.headerLine) this.handleHeaderLine(line, start, end);
    else if (state === ParserState.chunkSizeLine) this.handleChunkSizeLine(line, start, end);
    else this.handleTrailerLine(line, start, end);
  }

  private handleStartLine(line: Uint8Array, start: number, end: number): void {
    const majorVersion = this.parseStartLine(line, start, end);
    if (majorVersion < 0 || (this.resyncing && majorVersion !== 1)) {
      if (this.resyncing) this.enterResync(true);
      else this.fail(this.badStartLineReason, "malformed start line", true);
      return;
    }
    if (this.resyncing) {
      this.resyncing = false;
      this.resynchronisations++;
    }
    this.state = ParserState.headerLine;
    this.headers = [];
    this.headerCount = 0;
    this.lastHeaderReported = false;
  }

  private handleHeaderLine(line: Uint8Array, start: number, end: number): void {
    if (start === end) {
      // The list stays until the next start line (or a failure) replaces it: a head that fails
      // in completeHead is reported lost with its headers.
      this.completeHead(this.headers);
      return;
    }
    const headers = this.headers;
    if (isOwsByte(line[start]!)) {
      // Obsolete line folding (RFC 9112 5.2): the line continues the previous value.
      if (this.headerCount === 0) {
        this.fail("bad-header", "continuation line before the first header", true);
        return;
      }
      const previous = headers[headers.length - 1];
      if (!this.lastHeaderReported || previous === undefined) return;
      const continuation = decodeTrimmed(line, start, end);
      if (continuation.length > 0) {
        previous.value = previous.value.length === 0 ? continuation : `${previous.value} ${continuation}`;
      }
      return;
    }
    if (this.headerCount >= this.limits.maxHeaderCount) {
      this.fail("head-too-large", `more than ${this.limits.maxHeaderCount} headers`, true);
      return;
    }
    const colon = headerNameEnd(line, start, end);
    if (colon < 0) {
      this.fail("bad-header", "header name is not a token followed by a colon", true);
      return;
    }
    this.headerCount++;
    this.lastHeaderReported = this.reportedHeaders === null || this.reportedHeaders.has(line, start, colon);
    if (this.lastHeaderReported) headers.push({ name: decodeLatin1(line, start, colon), value: decodeTrimmed(line, colon + 1, end) });
  }

  private handleChunkSizeLine(line: Uint8Array, start: number, end: number): void {
    let index = start;
    let size = 0;
    while (index < end) {
      const digit = hexDigitValue(line[index]!);
      if (digit < 0) break;
      size = size * 16 + digit;
      if (size > Number.MAX_SAFE_INTEGER) {
        this.fail("bad-chunk", "chunk size too large", true);
        return;
      }
      index++;
    }
    while (index < end && isOwsByte(line[index]!)) index++;
    // Extensions after ';' are skipped without inspection: they never change the framing.
    if (index === start || (index < end && line[index] !== Byte.semicolon)) {
      this.fail("bad-chunk", "malformed chunk-size line", true);
      return;
    }
    if (size === 0) {
      this.state = ParserState.trailerLine;
      this.sectionBytes = 0;
      this.trailerCount = 0;
    } else {
      this.state = ParserState.chunkData;
      this.bodyBytesRemaining = size;
    }
  }

  /** Trailer fields are checked like headers (so limits hold) but not decoded or reported. */
  private handleTrailerLine(line: Uint8Array, start: number, end: number): void {
    if (start === end) {
      this.endBody(true);
      this.startMessage();
      return;
    }
    if (isOwsByte(line[start]!)) {
      if (this.trailerCount === 0) this.fail("bad-header", "continuation line before the first trailer", true);
      return;
    }
    if (this.trailerCount >= this.limits.maxHeaderCount) {
      this.fail("head-too-large", `more than ${this.limits.maxHeaderCount} trailers`, true);
      return;
    }
    if (headerNameEnd(line, start, end) < 0) {
      this.fail("bad-header", "trailer name is not a token followed by a colon", true);
      return;
    }
    this.trailerCount++;
  }
}

/** Index of the colon ending a non-empty token, or -1 (space before the colon is invalid too). */
function headerNameEnd(line: Uint8Array, start: number, end: number): number {
  let index = start;
  while (index < end && isTokenByte(line[index]!)) index++;
  if (index === start || index === end || line[index] !== Byte.colon) return -1;
  return index;
}

function decodeTrimmed(line: Uint8Array, start: number, end: number): string {
  let first = start;
  let last = end;
  while (first < last && isOwsByte(line[first]!)) first++;
  while (last > first && isOwsByte(line[last - 1]!)) last--;
  return decodeLatin1(line, first, last);
}
