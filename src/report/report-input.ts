import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { InputError } from "../errors.js";
import type { ReportBuilder } from "./aggregate.js";
import { hostFromPath } from "./host-identity.js";
import type { ReadEventsResult } from "./ndjson-reader.js";
import { readEvents } from "./ndjson-reader.js";
import type { MalformedLine } from "./types.js";

export interface ReadReportSourceOptions {
  /** The host for events without a `host` field; default `hostFromPath(path)`. */
  readonly host?: string;
  /** What `-` reads; process.stdin by default. */
  readonly stdin?: AsyncIterable<Uint8Array>;
  readonly maxLineBytes?: number;
  /** Hears each malformed line as it is skipped (the CLI reports them with line numbers). */
  readonly onMalformed?: (line: MalformedLine) => void;
}

export interface ReadReportSourceResult extends ReadEventsResult {
  /** (`lines` is 0 when the source failed part way.) */
  readonly host: string;
  /** Why the source could not be read to its end (recorded in the report too), or null. */
  readonly error: InputError | null;
}

/**
 * Reads one event file (NDJSON, gzip-compressed or not; `-` for standard input) or summary
 * file into the builder. Malformed lines are recorded in the report; a file that cannot be
 * opened or read to its end is recorded as a source error of its host (which keeps that host
 * from READY) and returned as `error`, so the caller can still build the report and exit 1.
 */
export async function readReportSource(
  path: string,
  builder: ReportBuilder,
  options: ReadReportSourceOptions = {},
): Promise<ReadReportSourceResult> {
  const host = options.host ?? hostFromPath(path);
  // Counted here, so a source that fails part way still says what it delivered.
  let lines = 0;
  let events = 0;
  let summaries = 0;
  let malformed = 0;
  let error: InputError | null = null;
  try {
    const result = await readEvents(
      decompressIfGzip(openReportInput(path, options.stdin)),
      path,
      (event) => {
        events++;
        builder.addEvent(event, host);
      },
      (line) => {
        malformed++;
        builder.addMalformedLine(line, host);
        options.onMalformed?.(line);
      },
      {
        onSummary: (summary) => {
          summaries++;
          builder.addSummary(summary, host);
        },
        ...(options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }),
      },
    );
    lines = result.lines;
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    error = new InputError(path, `cannot read events: ${message}`, { cause });
    builder.addSourceError(host, error.message);
  }
  return { lines, events, summaries, malformed, host, error };
}

/** The bytes of a report input: a file, or standard input for `-`. */
export function openReportInput(path: string, stdin?: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (path === "-") return stdin ?? (process.stdin as AsyncIterable<Uint8Array>);
  return createReadStream(path, { highWaterMark: 256 * 1024 });
}

/** Passes the input through gunzip when it starts with the gzip magic (1f 8b). */
export async function* decompressIfGzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const iterator = input[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  // The magic needs two bytes; a pipe may deliver one first.
  while (head.length < 2) {
    const next = await iterator.next();
    if (next.done === true) break;
    head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  const whole = (async function* () {
    yield head;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  })();
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* whole;
    return;
  }
  const source = Readable.from(whole);
  const gunzip = createGunzip();
  // pipe() does not pass errors on: a read error must end the gunzip stream with that error.
  source.on("error", (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  yield* gunzip as AsyncIterable<Uint8Array>;
}
