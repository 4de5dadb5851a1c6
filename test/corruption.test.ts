/**
 * Every golden capture, cut short and corrupted at many offsets: the analyzer must return (no
 * crash, no hang) with either a typed error naming the byte offset and frame, or a partial result
 * whose events are the complete file's events up to the cut.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../src/analyze.js";
import type { ImdsEvent } from "../src/events.js";

const capturesDirectory = join(import.meta.dirname, "..", "captures");
const captureNames = readdirSync(capturesDirectory).filter((name) => /\.(pcap|pcapng)$/.test(name)).sort();

async function analyzeBytes(bytes: Uint8Array) {
  const events: ImdsEvent[] = [];
  // Uneven chunks, as a pipe would deliver them.
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += 7919) chunks.push(bytes.subarray(offset, offset + 7919));
  const result = await analyzeCaptures(["-"], { stdin: Readable.from(chunks), onEvent: (event) => events.push(event) });
  return { events, ...result };
}

/** A small deterministic generator, so a failure can be reproduced. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe.each(captureNames)("%s", (name) => {
  const bytes = new Uint8Array(readFileSync(join(capturesDirectory, name)));

  it("cut at 48 offsets: a clear error or the events up to the cut", async () => {
    const whole = await analyzeBytes(bytes);
    expect(whole.hadErrors).toBe(false);
    const offsets = new Set<number>([0, 1, 4, 23, 24, 25, bytes.length - 1]);
    for (let step = 1; step <= 41; step++) offsets.add(Math.floor((bytes.length * step) / 42));
    for (const offset of offsets) {
      const cut = await analyzeBytes(bytes.subarray(0, offset));
      const source = cut.summary.sources[0]!;
      if (cut.hadErrors) {
        expect(source.error?.message, `cut at ${offset}`).toMatch(/^-: at byte offset \d+ \(frame \d+\): /);
      } else {
        expect(source.truncated ?? "", `cut at ${offset}`).toMatch(offset === bytes.length ? /^$/ : /^$|byte offset \d+ \(frame \d+\)/);
      }
      expect(cut.events.length, `cut at ${offset}`).toBeLessThanOrEqual(whole.events.length);
      cut.events.forEach((event, index) => {
        const full = whole.events[index]!;
        expect([event.kind, event.method, event.path, event.frame], `cut at ${offset}, event ${index}`).toEqual([full.kind, full.method, full.path, full.frame]);
        // The response may be beyond the cut: then the status is unknown, never a different one.
        if (event.status !== null) expect(event.status).toBe(full.status);
      });
    }
  });

  it("corrupted at 40 random places: returns, and any error names its offset", async () => {
    const random = seededRandom(bytes.length);
    for (let round = 0; round < 40; round++) {
      const corrupt = bytes.slice();
      for (let flips = 0; flips < 4; flips++) corrupt[Math.floor(random() * corrupt.length)] = Math.floor(random() * 256);
      const result = await analyzeBytes(corrupt);
      const source = result.summary.sources[0]!;
      if (result.hadErrors) expect(source.error?.message, `round ${round}`).toMatch(/^-: at byte offset \d+ \(frame \d+\): /);
      expect(result.summary.framesRead).toBeLessThanOrEqual(bytes.length / 16);
    }
  });
});
