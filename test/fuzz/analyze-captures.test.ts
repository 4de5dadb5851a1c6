/**
 * Property tests of the whole analysis (`analyzeCaptures`) on the real golden captures, cut short,
 * mutated (bytes and length fields) and chunked at random: it always returns (no exception but a
 * typed, offset-naming source error), reads no more frames than the bytes allow, and its events
 * agree with the intact capture's: a prefix of them for a cut, the same ones before the first
 * damaged frame for a mutation, exactly the same for any chunking.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import type { AnalysisResult } from "../../src/analyze.js";
import { ErrorCode } from "../../src/errors.js";
import type { ImdsEvent } from "../../src/events.js";
import { captureStream } from "../../src/source/capture-input.js";
import { readCapture } from "../../src/source/read-capture.js";
import { buildPcap } from "../../src/wire-format/pcap-file.mjs";
import { buildPcapng } from "../../src/wire-format/pcapng-file.mjs";
import type { BuiltCapture, RecordLayout } from "../../src/wire-format/pcap-file.mjs";
import { TcpConversation, http } from "../helpers/conversation.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";
import { mutate, mutationArbitrary } from "./capture-arbitraries.js";

const capturesDirectory = join(import.meta.dirname, "..", "..", "captures");
const captureNames = readdirSync(capturesDirectory).filter((name) => /\.(pcap|pcapng)$/.test(name)).sort();

interface Golden {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Record start offsets of frames 1..n (index 0 is frame 1). */
  readonly frameOffsets: readonly number[];
  /** Header, then one record per frame (up to the next frame), for length-field mutations. */
  readonly records: readonly RecordLayout[];
  readonly events: readonly ImdsEvent[];
}

const goldens: Golden[] = [];

async function analyzeBytes(bytes: Uint8Array, chunkBytes: number): Promise<AnalysisResult & { events: ImdsEvent[] }> {
  const events: ImdsEvent[] = [];
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) chunks.push(bytes.slice(offset, offset + chunkBytes));
  const result = await analyzeCaptures(["-"], { stdin: Readable.from(chunks), onEvent: (event) => events.push(event) });
  return { ...result, events };
}

beforeAll(async () => {
  for (const name of captureNames) {
    const bytes = new Uint8Array(readFileSync(join(capturesDirectory, name)));
    const frameOffsets: number[] = [];
    await readCapture(captureStream(Readable.from([bytes])), { onFrame: (frame) => frameOffsets.push(frame.byteOffset) }, { path: name });
    const starts = [0, ...frameOffsets, bytes.length];
    const records: RecordLayout[] = [];
    for (let index = 0; index + 1 < starts.length; index++) {
      records.push({ kind: index === 0 ? "file-header" : "packet", offset: starts[index]!, length: starts[index + 1]! - starts[index]! });
    }
    const { events, hadErrors } = await analyzeBytes(bytes, bytes.length);
    expect(hadErrors).toBe(false);
    goldens.push({ name, bytes, frameOffsets, records, events });
  }
}, fuzzTimeoutMs);

const goldenIndex = fc.nat({ max: captureNames.length - 1 });
const chunkBytes = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 65, max: 70_000 }));

/** The fields that identify a request (status and timing may legitimately differ). */
function identity(event: ImdsEvent): unknown[] {
  return [event.kind, event.method, event.path, event.frame, event.clientIp, event.clientPort, event.userAgent];
}

/** A source error must be a typed capture error naming an offset inside the input. */
function expectTypedOutcome(result: AnalysisResult, inputLength: number): void {
  const source = result.summary.sources[0]!;
  if (result.hadErrors) {
    expect(source.error?.code).toBe(ErrorCode.captureFormat);
    const match = /^-: at byte offset (\d+) \(frame (\d+)\): \S/.exec(source.error?.message ?? "");
    expect(match, source.error?.message).not.toBeNull();
    expect(Number(match![1])).toBeLessThanOrEqual(inputLength);
    expect(Number(match![2])).toBe(source.frames + 1);
  }
  if (source.truncated !== null) expect(source.truncated).toMatch(/^-: at byte offset \d+ \(frame \d+\): \S/);
  // Work bound: every frame costs at least a 16-byte pcap record header or 12-byte pcapng block.
  expect(result.summary.framesRead).toBeLessThanOrEqual(Math.floor(inputLength / 12));
}

describe("analyzeCaptures on golden captures under fuzzing", () => {
  it("has the golden captures to fuzz (an empty list is a broken checkout, not a pass)", () => {
    expect(captureNames.length).toBeGreaterThan(0);
  });

  it(
    "any chunking of an intact capture gives exactly the same events",
    async () => {
      await fc.assert(
        fc.asyncProperty(goldenIndex, chunkBytes, async (index, chunk) => {
          const golden = goldens[index]!;
          const result = await analyzeBytes(golden.bytes, chunk);
          expect(result.hadErrors).toBe(false);
          expect(result.events).toEqual(golden.events);
        }),
        fuzzParameters(40, 20),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a capture cut anywhere: a typed error or truncation, and a prefix of the intact run's events",
    async () => {
      await fc.assert(
        fc.asyncProperty(goldenIndex, fc.nat(), chunkBytes, async (index, rawCut, chunk) => {
          const golden = goldens[index]!;
          const cut = rawCut % (golden.bytes.length + 1);
          const result = await analyzeBytes(golden.bytes.subarray(0, cut), chunk);
          expectTypedOutcome(result, cut);
          expect(result.events.length).toBeLessThanOrEqual(golden.events.length);
          result.events.forEach((event, position) => {
            const full = golden.events[position]!;
            expect(identity(event), `event ${position}`).toEqual(identity(full));
            // The response may lie beyond the cut: then unknown, never a different status.
            if (event.status !== null) expect(event.status).toBe(full.status);
          });
        }),
        fuzzParameters(80, 20),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a mutated capture: a typed outcome, and the intact run's events before the first damaged frame",
    async () => {
      await fc.assert(
        fc.asyncProperty(goldenIndex, fc.array(mutationArbitrary, { minLength: 1, maxLength: 6 }), chunkBytes, async (index, mutations, chunk) => {
          const golden = goldens[index]!;
          const bytes = mutate(golden.bytes, golden.records, mutations);
          const result = await analyzeBytes(bytes, chunk);
          expectTypedOutcome(result, bytes.length);
          // First byte that differs from the intact file (or where the mutated file ends).
          let firstDamage = 0;
          while (firstDamage < bytes.length && firstDamage < golden.bytes.length && bytes[firstDamage] === golden.bytes[firstDamage]) firstDamage++;
          // Frames from the one whose record holds that byte may be anything; earlier ones are intact.
          let firstDamagedFrame = 1;
          while (firstDamagedFrame <= golden.frameOffsets.length && golden.frameOffsets[firstDamagedFrame - 1]! <= firstDamage) firstDamagedFrame++;
          firstDamagedFrame--;
          const before = (events: readonly ImdsEvent[]): unknown[] =>
            events.filter((event) => event.frame < firstDamagedFrame).map(identity);
          expect(before(result.events)).toEqual(before(golden.events));
        }),
        fuzzParameters(100, 20),
      );
    },
    fuzzTimeoutMs,
  );
});

/** One request of a synthetic conversation, with the kind the analyzer must give it. */
const requestArbitrary = fc.oneof(
  fc.constant({ text: http.getV1(), kind: "v1" as const }),
  fc.constant({ text: http.getV2(), kind: "v2" as const }),
  fc.constant({ text: http.putToken("aws-cli/1.45.11"), kind: "token-request" as const }),
  fc.constant({ text: http.getV1("/?X-aws-ec2-metadata-token=x", "x-aws-ec2-metadata-token"), kind: "v1" as const }),
);

const conversationArbitrary = fc.record({
  ipv6: fc.boolean(),
  clientPort: fc.integer({ min: 1024, max: 65_535 }),
  clientIsn: fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff })),
  exchanges: fc.array(
    fc.record({ request: requestArbitrary, status: fc.constantFrom(200, 401, 403, 404), splits: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }) }),
    { minLength: 1, maxLength: 3 },
  ),
  close: fc.boolean(),
});

/** How the synthetic capture is written: pcap (µs, ns) or pcapng with any resolution and offset. */
const containerArbitrary = fc.oneof(
  fc.record({ format: fc.constant("pcap" as const), nanoseconds: fc.boolean(), bigEndian: fc.boolean() }),
  fc.record({
    format: fc.constant("pcapng" as const),
    tsresol: fc.constantFrom(null, 0, 3, 6, 9, 0x80 | 20),
    tsoffsetSeconds: fc.option(fc.nat({ max: 1_000_000 }), { nil: undefined }),
    bigEndian: fc.boolean(),
  }),
);

/** ISO-8601 UTC with a 4-digit year, as the event schema promises. */
const eventTimePattern = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

describe("analyzeCaptures on synthetic conversations under fuzzing", () => {
  it(
    "intact: one event per request with its kind and status; mutated: a typed outcome and valid event times",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(conversationArbitrary, { minLength: 1, maxLength: 3 }),
          containerArbitrary,
          fc.array(mutationArbitrary, { maxLength: 4 }),
          chunkBytes,
          async (conversations, container, mutations, chunk) => {
            const frames = [];
            const expected: [string, number][] = [];
            let startMs = Date.UTC(2026, 0, 2, 3, 4, 5);
            for (const plan of conversations) {
              const conversation = new TcpConversation({
                client: plan.ipv6 ? "2001:db8::10" : "10.0.0.10",
                server: plan.ipv6 ? "fd00:ec2::254" : "169.254.169.254",
                clientPort: plan.clientPort,
                clientIsn: plan.clientIsn,
                startMs,
              }).handshake();
              for (const exchange of plan.exchanges) {
                conversation.send(exchange.request.text, exchange.splits).reply(http.response(exchange.status));
                expected.push([exchange.request.kind, exchange.status]);
              }
              if (plan.close) conversation.close();
              frames.push(...conversation.frames);
              startMs += 1000;
            }
            const byteOrder = container.bigEndian ? ("big-endian" as const) : ("little-endian" as const);
            const built: BuiltCapture =
              container.format === "pcap"
                ? buildPcap(frames, { byteOrder, timestampPrecision: container.nanoseconds ? "nanoseconds" : "microseconds" })
                : buildPcapng(frames, {
                    byteOrder,
                    interfaces: [{ linkType: 1, tsresol: container.tsresol, ...(container.tsoffsetSeconds === undefined ? {} : { tsoffsetSeconds: container.tsoffsetSeconds }) }],
                  });
            const bytes = mutate(built.bytes, built.records, mutations);
            const result = await analyzeBytes(bytes, chunk);
            expectTypedOutcome(result, bytes.length);
            for (const event of result.events) {
              expect(event.time).toMatch(eventTimePattern);
              expect(Number.isNaN(Date.parse(event.time))).toBe(false);
            }
            if (mutations.length === 0) {
              expect(result.hadErrors).toBe(false);
              expect(result.events.map((event) => [event.kind, event.status])).toEqual(expected);
            }
          },
        ),
        fuzzParameters(60, 20),
      );
    },
    fuzzTimeoutMs,
  );
});
