/**
 * Property tests of the frame decoder (link layer, IPv4/IPv6 with extension headers, TCP):
 * well-formed frames decode to exactly the segment they were built from, snaplen cuts turn into
 * missing payload bytes or a truncated-headers count, and any mutation of a frame ends in exactly
 * one counter, never an exception, with a payload that stays inside the captured bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameDecoder } from "../../src/decode/decode-frame.js";
import { Diagnostics } from "../../src/diagnostics.js";
import type { Frame } from "../../src/source/frame.js";
import { decodeOnce, describeSegment } from "../decode/decode-harness.js";
import type { DecodeOutcome } from "../decode/decode-harness.js";
import { testFrame } from "../helpers/packets.js";
import { fuzzParameters, fuzzTimeoutMs } from "./budget.js";
import { anyLinkTypeArbitrary, imdsFrameArbitrary } from "./frame-arbitraries.js";
import type { FrameSpec } from "./frame-arbitraries.js";

/** What a decode produced, comparable with `toEqual` (the segment only when decoded). */
function summary(outcome: DecodeOutcome): Record<string, unknown> {
  return outcome.decoded ? { counter: outcome.counter, ...describeSegment(outcome.segment) } : { counter: outcome.counter };
}

/** A decoded payload must be a view of the frame's own captured bytes, never beyond them. */
function expectPayloadInsideFrame(outcome: DecodeOutcome, frame: Frame): void {
  if (!outcome.decoded) return;
  const payload = outcome.segment.payload;
  expect(payload.buffer).toBe(frame.data.buffer);
  const payloadStart = payload.byteOffset - frame.data.byteOffset;
  expect(payloadStart).toBeGreaterThanOrEqual(frame.start);
  expect(payloadStart + payload.length).toBeLessThanOrEqual(frame.end);
  expect(outcome.segment.missingPayloadBytes).toBeGreaterThanOrEqual(0);
  expect(outcome.segment.missingPayloadBytes).toBeLessThanOrEqual(Math.max(0, frame.originalLength - frame.capturedLength));
  const segment = outcome.segment;
  const imds = segment.ipVersion === 4 ? "169.254.169.254" : "fd00:ec2::254";
  if (segment.toServer) {
    expect([segment.destinationAddress, segment.destinationPort]).toEqual([imds, 80]);
  } else {
    expect([segment.sourceAddress, segment.sourcePort]).toEqual([imds, 80]);
  }
}

function expectedSegment(spec: FrameSpec, capturedPayload: number): Record<string, unknown> {
  return {
    counter: "imdsSegments",
    ...spec.expected,
    payload: Buffer.from(spec.payload.subarray(0, capturedPayload)).toString("latin1"),
    missingPayloadBytes: spec.payload.length - capturedPayload,
  };
}

const byteMutation = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });

describe("frame decoder under fuzzing", () => {
  it(
    "a well-formed IMDS frame decodes to exactly the segment it was built from",
    () => {
      fc.assert(
        fc.property(imdsFrameArbitrary, (spec) => {
          const frame = testFrame(spec.bytes, spec.linkType);
          const outcome = decodeOnce(frame);
          expect(summary(outcome)).toEqual(expectedSegment(spec, spec.payload.length));
          expectPayloadInsideFrame(outcome, frame);
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a snaplen cut: missing payload bytes, or truncated headers when the cut is before the payload",
    () => {
      fc.assert(
        fc.property(imdsFrameArbitrary, fc.nat(), (spec, rawSnaplen) => {
          const snaplen = rawSnaplen % spec.bytes.length;
          const frame = testFrame(spec.bytes, spec.linkType, { snaplen });
          const outcome = decodeOnce(frame);
          expectPayloadInsideFrame(outcome, frame);
          if (snaplen < spec.payloadOffset) {
            expect(outcome.counter).toBe("framesTruncatedHeaders");
          } else {
            const captured = Math.min(spec.payload.length, snaplen - spec.payloadOffset);
            expect(summary(outcome)).toEqual(expectedSegment(spec, captured));
          }
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "a mutated frame (bytes, link type, length): exactly one counter, no exception, payload in bounds",
    () => {
      fc.assert(
        fc.property(
          imdsFrameArbitrary,
          fc.array(byteMutation, { maxLength: 6 }),
          fc.option(anyLinkTypeArbitrary, { nil: undefined }),
          fc.option(fc.nat(), { nil: undefined }),
          fc.boolean(),
          (spec, mutations, linkType, rawLength, keepOriginalLength) => {
            const bytes = spec.bytes.slice();
            for (const { at, value } of mutations) bytes[at % bytes.length] = value;
            const length = rawLength === undefined ? bytes.length : rawLength % (bytes.length + 1);
            const frame = testFrame(bytes.subarray(0, length), linkType ?? spec.linkType, keepOriginalLength ? { originalLength: bytes.length } : {});
            const outcome = decodeOnce(frame);
            expectPayloadInsideFrame(outcome, frame);
          },
        ),
        fuzzParameters(800),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "random bytes under any link type: exactly one counter, no exception",
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), anyLinkTypeArbitrary, fc.nat({ max: 3000 }), (bytes, linkType, extra) => {
          const frame = testFrame(bytes, linkType, { originalLength: bytes.length + extra });
          expectPayloadInsideFrame(decodeOnce(frame), frame);
        }),
        fuzzParameters(500),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "the same frame at any offset of a larger buffer decodes the same (data[start, end) is respected)",
    () => {
      fc.assert(
        fc.property(
          imdsFrameArbitrary,
          fc.array(byteMutation, { maxLength: 3 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.option(fc.nat(), { nil: undefined }),
          (spec, mutations, before, after, rawSnaplen) => {
            const bytes = spec.bytes.slice();
            for (const { at, value } of mutations) bytes[at % bytes.length] = value;
            const snaplen = rawSnaplen === undefined ? bytes.length : rawSnaplen % (bytes.length + 1);
            const alone = testFrame(bytes, spec.linkType, { snaplen });
            const reference = summary(decodeOnce(alone));
            const data = Uint8Array.from([...before, ...bytes.subarray(0, snaplen), ...after]);
            const embedded = testFrame(bytes, spec.linkType, { snaplen });
            embedded.setData(data, before.length, before.length + snaplen);
            const outcome = decodeOnce(embedded);
            expect(summary(outcome)).toEqual(reference);
            expectPayloadInsideFrame(outcome, embedded);
          },
        ),
        fuzzParameters(500),
      );
    },
    fuzzTimeoutMs,
  );

  it(
    "one decoder over a sequence of frames gives what a fresh decoder gives for each frame",
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(imdsFrameArbitrary, fc.option(byteMutation, { nil: undefined })), { minLength: 1, maxLength: 12 }),
          (items) => {
            const diagnostics = new Diagnostics();
            const shared = new FrameDecoder(diagnostics);
            for (const [spec, mutation] of items) {
              const bytes = spec.bytes.slice();
              if (mutation !== undefined) bytes[mutation.at % bytes.length] = mutation.value;
              const fresh = summary(decodeOnce(testFrame(bytes, spec.linkType)));
              expect(summary(decodeOnce(testFrame(bytes, spec.linkType), shared, diagnostics))).toEqual(fresh);
            }
          },
        ),
        fuzzParameters(200, 10),
      );
    },
    fuzzTimeoutMs,
  );
});
