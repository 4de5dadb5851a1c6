/**
 * Shared by the decode tests: runs one frame through a fresh FrameDecoder and reports the result,
 * the segment and which decode counters moved, asserting the "exactly one counter" contract.
 */
import { expect } from "vitest";
import { FrameDecoder } from "../../src/decode/decode-frame.js";
import { createTcpSegment, type TcpSegment } from "../../src/decode/segment.js";
import { Diagnostics, type CounterName } from "../../src/diagnostics.js";
import type { Frame } from "../../src/source/frame.js";

export const decodeCounterNames = [
  "framesUnknownLinkType",
  "framesNotIp",
  "framesNotTcp",
  "framesNotImds",
  "framesMalformed",
  "framesTruncatedHeaders",
  "ipFragmentsSkipped",
  "imdsSegments",
] as const satisfies readonly CounterName[];

export interface DecodeOutcome {
  decoded: boolean;
  /** The one decode counter that moved ("imdsSegments" when decoded). */
  counter: CounterName;
  segment: TcpSegment;
  diagnostics: Diagnostics;
}

/** Decodes `frame` and checks that exactly one decode counter went up by exactly one. */
export function decodeOnce(frame: Frame, decoder?: FrameDecoder, diagnostics?: Diagnostics): DecodeOutcome {
  const diag = diagnostics ?? new Diagnostics();
  const dec = decoder ?? new FrameDecoder(diag);
  const before = decodeCounterNames.map((name) => diag.counters[name]);
  const segment = createTcpSegment();
  const decoded = dec.decode(frame, segment);
  const moved = decodeCounterNames.filter((name, index) => diag.counters[name] !== before[index]);
  expect(moved).toHaveLength(1);
  const counter = moved[0]!;
  expect(diag.counters[counter] - before[decodeCounterNames.indexOf(counter)]!).toBe(1);
  expect(counter === "imdsSegments").toBe(decoded);
  return { decoded, counter, segment, diagnostics: diag };
}

/** The segment's fields in a plain object (payload as text) for one `toEqual`. */
export function describeSegment(segment: TcpSegment): Record<string, unknown> {
  return {
    ipVersion: segment.ipVersion,
    sourceAddress: segment.sourceAddress,
    destinationAddress: segment.destinationAddress,
    sourcePort: segment.sourcePort,
    destinationPort: segment.destinationPort,
    toServer: segment.toServer,
    sequence: segment.sequence,
    acknowledgement: segment.acknowledgement,
    flags: segment.flags,
    payload: Buffer.from(segment.payload).toString("latin1"),
    missingPayloadBytes: segment.missingPayloadBytes,
  };
}
