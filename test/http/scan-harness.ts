/**
 * llhttp-style scan harness: feed one input whole, split in two at every index, and byte by
 * byte, and record what the parser reports, so a test can demand the same result every way.
 *
 * Each piece is pushed from a scratch buffer that is overwritten right after the call: a parser
 * that keeps a reference to pushed bytes instead of copying them gives wrong results here.
 *
 * Parsers are made in either header configuration: reporting every header ("all", the parsers'
 * default), or only the headers the pipeline reads ("production": the HeaderNameSets of
 * src/pipeline/imds-flow.ts, where the rest are checked and counted but never decoded).
 */
import { HttpRequestParser, HttpResponseParser } from "../../src/http/index.js";
import type { HeaderNameSet } from "../../src/http/index.js";
import type { HttpParseErrorReason, HttpParseLimits } from "../../src/http/types.js";
import { requestHeadersRead, responseHeadersRead } from "../../src/pipeline/imds-flow.js";

export type ParsedEvent =
  | { readonly request: string; readonly version: string; readonly headers: readonly (readonly [string, string])[] }
  | { readonly response: number; readonly version: string; readonly headers: readonly (readonly [string, string])[] }
  | { readonly error: HttpParseErrorReason; readonly detail: string };

export interface ParserUnderTest {
  push(bytes: Uint8Array): void;
  gap(lostBytes?: number | null): boolean;
  end(): void;
  readonly bufferedByteCapacity: number;
  readonly resyncCount: number;
}

export interface Recorder<P extends ParserUnderTest, E = ParsedEvent> {
  readonly parser: P;
  readonly events: E[];
}

/** Which headers a parser reports: every one, or only those the pipeline reads. */
export type HeaderConfiguration = "all" | "production";
export const headerConfigurations: readonly HeaderConfiguration[] = ["all", "production"];

function reportedHeaders(configuration: HeaderConfiguration, production: HeaderNameSet): HeaderNameSet | null {
  return configuration === "production" ? production : null;
}

/**
 * What a parser in `configuration` reports, given what one reporting every header reported: the
 * same events, each head keeping only the headers the configuration names.
 */
export function reportedUnder(configuration: HeaderConfiguration, kind: "request" | "response", events: readonly ParsedEvent[]): ParsedEvent[] {
  const set = reportedHeaders(configuration, kind === "request" ? requestHeadersRead : responseHeadersRead);
  if (set === null) return [...events];
  const named = (name: string): boolean => set.has(bytesOf(name), 0, name.length);
  return events.map((event) => ("error" in event ? event : { ...event, headers: event.headers.filter(([name]) => named(name)) }));
}

export function recordRequests(limits?: HttpParseLimits, headers: HeaderConfiguration = "all"): Recorder<HttpRequestParser> {
  const events: ParsedEvent[] = [];
  const parser = new HttpRequestParser(
    {
      onRequest: (head) => {
        events.push({
          request: `${head.method} ${head.target}`,
          version: head.httpVersion,
          headers: head.headers.map((header) => [header.name, header.value] as const),
        });
      },
      onError: (reason, detail) => {
        events.push({ error: reason, detail });
      },
    },
    limits,
    reportedHeaders(headers, requestHeadersRead),
  );
  return { parser, events };
}

export function recordResponses(
  requestMethods: readonly string[],
  limits?: HttpParseLimits,
  headers: HeaderConfiguration = "all",
): Recorder<HttpResponseParser> {
  const events: ParsedEvent[] = [];
  const parser = new HttpResponseParser(
    {
      onResponse: (head) => {
        events.push({
          response: head.statusCode,
          version: head.httpVersion,
          headers: head.headers.map((header) => [header.name, header.value] as const),
        });
      },
      onError: (reason, detail) => {
        events.push({ error: reason, detail });
      },
    },
    limits,
    reportedHeaders(headers, responseHeadersRead),
  );
  for (const method of requestMethods) parser.expectResponseTo(method);
  return { parser, events };
}

/** Latin-1 text to bytes, one byte per character (so tests can write any byte as \xNN). */
export function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => {
    const code = character.charCodeAt(0);
    if (code > 0xff) throw new Error("test input must be latin1");
    return code;
  });
}

let scratch = new Uint8Array(4096);

/** Pushes a copy of `bytes[start..end)` and then scribbles over the copy. */
export function pushCopy(parser: ParserUnderTest, bytes: Uint8Array, start = 0, end = bytes.length): void {
  const length = end - start;
  if (scratch.length < length) scratch = new Uint8Array(length);
  scratch.set(bytes.subarray(start, end));
  parser.push(scratch.subarray(0, length));
  scratch.fill(0x41, 0, length);
}

/** Every way of feeding `input` with its name; each result must equal the whole-input result. */
export function scanAllSplits<P extends ParserUnderTest, E>(
  makeRecorder: () => Recorder<P, E>,
  input: Uint8Array,
): { whole: E[]; differing: { split: string; events: E[] }[] } {
  const feed = (pieces: (recorder: Recorder<P, E>) => void): E[] => {
    const recorder = makeRecorder();
    pieces(recorder);
    recorder.parser.end();
    return recorder.events;
  };
  const whole = feed(({ parser }) => {
    pushCopy(parser, input);
  });
  const expected = JSON.stringify(whole);
  const differing: { split: string; events: E[] }[] = [];
  for (let index = 0; index <= input.length; index++) {
    const events = feed(({ parser }) => {
      pushCopy(parser, input, 0, index);
      pushCopy(parser, input, index);
    });
    if (JSON.stringify(events) !== expected) differing.push({ split: `at ${index}`, events });
  }
  const byteByByte = feed(({ parser }) => {
    for (let index = 0; index < input.length; index++) pushCopy(parser, input, index, index + 1);
  });
  if (JSON.stringify(byteByByte) !== expected) differing.push({ split: "byte by byte", events: byteByByte });
  return { whole, differing: differing.slice(0, 3) };
}
