/**
 * The hostile corpus (captures/hostile/, made by scripts/make-hostile-captures.mjs): every file
 * is analysed through the library API and compared, field by field, with its NAME.expected.json,
 * which says what a correct analyzer does (derived from the file's contents, not from a run).
 * A few files also go through the built command line (npm test builds dist/ first).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../src/analyze.js";
import { CaptureFormatError } from "../src/errors.js";
import type { ImdsEvent } from "../src/events.js";
import { openCaptureFile } from "../src/source/capture-input.js";
import { readCapture } from "../src/source/read-capture.js";
import { makeTempDir } from "./helpers/temp-dir.js";
import { cliPath as cli } from "./helpers/cli.js";

const hostileDirectory = join(import.meta.dirname, "..", "captures", "hostile");

interface ExpectedOutcome {
  readonly capture: string;
  readonly format: "pcap" | "pcapng";
  readonly compressed: boolean;
  readonly exitCode: number;
  readonly error: { readonly code: string; readonly byteOffset: number; readonly frameNumber: number } | null;
  readonly frames: number;
  /** Null when there are too many to list: then `eventCounts`. */
  readonly events: readonly Record<string, unknown>[] | null;
  readonly eventCounts?: { readonly total: number; readonly byKind: Record<string, number>; readonly byStatus: Record<string, number> };
  readonly counters: Record<string, number>;
  readonly warnings: readonly string[];
}

const captureSuffix = /\.(pcap|pcapng)(\.gz)?$/;
const expectedSuffix = ".expected.json";
const names = readdirSync(hostileDirectory).sort();
const captureNames = names.filter((name) => captureSuffix.test(name));
const expectedNames = names.filter((name) => name.endsWith(expectedSuffix));

function loadExpected(captureName: string): ExpectedOutcome {
  const expectedName = captureName.replace(captureSuffix, expectedSuffix);
  return JSON.parse(readFileSync(join(hostileDirectory, expectedName), "utf8")) as ExpectedOutcome;
}

/**
 * The fields the expected outcome lists (every field a capture file determines: not schema,
 * source, process, attribution, host, nor fields added to the schema later).
 */
function comparable(event: ImdsEvent, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) picked[field] = field in event ? event[field as keyof ImdsEvent] : "<missing>";
  return picked;
}

describe("hostile captures", () => {
  it("every capture has an expected outcome and every expected outcome a capture", () => {
    expect(captureNames.length).toBeGreaterThanOrEqual(20);
    const bases = (list: readonly string[], suffix: RegExp | string) =>
      list.map((name) => (typeof suffix === "string" ? name.slice(0, -suffix.length) : name.replace(suffix, ""))).sort();
    expect(bases(captureNames, captureSuffix)).toEqual(bases(expectedNames, expectedSuffix));
    for (const name of captureNames) expect(loadExpected(name).capture).toBe(name);
  });

  it("is exactly what scripts/make-hostile-captures.mjs makes now (no stale file, no hand edit)", async () => {
    const { writeHostileCaptures } = await import("../scripts/make-hostile-captures.mjs");
    const fresh = makeTempDir("imds-hostile-");
    writeHostileCaptures(fresh);
    const committed = readdirSync(hostileDirectory).sort();
    expect(readdirSync(fresh).sort()).toEqual(committed);
    // gzip's bytes may differ between zlib versions; what they hold may not.
    const contents = (path: string): Buffer => (path.endsWith(".gz") ? gunzipSync(readFileSync(path)) : readFileSync(path));
    for (const name of committed) {
      expect(contents(join(fresh, name)).equals(contents(join(hostileDirectory, name))), `${name} differs from what the script makes`).toBe(true);
    }
  });

  it("keeps every file under 1 MB", () => {
    for (const name of names) expect(readFileSync(join(hostileDirectory, name)).length, name).toBeLessThan(1024 * 1024);
  });

  it.each(captureNames)("%s: the analyzer does exactly what the expected outcome says", async (name) => {
    const expected = loadExpected(name);
    const path = join(hostileDirectory, name);
    const events: ImdsEvent[] = [];
    const { summary, hadErrors } = await analyzeCaptures([path], { onEvent: (event) => events.push(event) });

    expect(hadErrors ? 1 : 0).toBe(expected.exitCode);
    const source = summary.sources[0]!;
    expect(source.frames).toBe(expected.frames);
    expect(source.error?.code ?? null).toBe(expected.error?.code ?? null);
    if (expected.error === null) {
      expect(source).toMatchObject({ format: expected.format, compressed: expected.compressed, truncated: null });
    } else {
      expect(source.error?.message).toContain(`at byte offset ${expected.error.byteOffset} (frame ${expected.error.frameNumber})`);
    }
    if (expected.events === null) {
      const byKind: Record<string, number> = {};
      const byStatus: Record<string, number> = {};
      for (const event of events) {
        byKind[event.kind] = (byKind[event.kind] ?? 0) + 1;
        byStatus[String(event.status)] = (byStatus[String(event.status)] ?? 0) + 1;
      }
      expect({ total: events.length, byKind, byStatus }).toEqual(expected.eventCounts);
    } else {
      const fields = Object.keys(expected.events[0] ?? {});
      expect(events.map((event) => comparable(event, fields))).toEqual(expected.events);
    }
    expect(summary.diagnostics.counters).toEqual(expected.counters);
    expect(summary.diagnostics.warnings.map((warning) => warning.code)).toEqual(expected.warnings);
    expect(summary.requests.total).toBe(events.length);
  });

  it.each(captureNames.filter((name) => loadExpected(name).error !== null))(
    "%s: the reader throws a CaptureFormatError with the expected offset and frame",
    async (name) => {
      const expected = loadExpected(name).error!;
      let frames = 0;
      const failure = await readCapture(openCaptureFile(join(hostileDirectory, name)), { onFrame: () => { frames++; } }, { path: name }).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(CaptureFormatError);
      const error = failure as CaptureFormatError;
      expect({ code: error.code, byteOffset: error.byteOffset, frameNumber: error.frameNumber }).toEqual(expected);
      expect(frames).toBe(expected.frameNumber - 1);
    },
  );
});

describe("hostile captures through the command line", () => {
  const cliCases = [
    "pcap-caplen-4gib.pcap",
    "pcapng-epb-unknown-interface.pcapng",
    "tiny-segments-100k.pcap.gz",
    "token-name-as-substring.pcap",
    "http-headers-1mb.pcap.gz",
  ];

  it.each(cliCases)("imds-analyzer analyze %s", (name) => {
    const expected = loadExpected(name);
    const result = spawnSync(process.execPath, [cli, "analyze", join(hostileDirectory, name)], { encoding: "utf8", timeout: 60_000 });
    expect(result.status).toBe(expected.exitCode);
    const lines = result.stdout.split("\n").filter((line) => line.length > 0);
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((event) => [event["kind"], event["path"], event["status"], event["frame"]])).toEqual(
      (expected.events ?? []).map((event) => [event["kind"], event["path"], event["status"], event["frame"]]),
    );
    if (expected.error !== null) {
      expect(result.stderr).toContain(`${name}: at byte offset ${expected.error.byteOffset} (frame ${expected.error.frameNumber})`);
    }
    // Nothing secret leaves the analyzer, even from hostile input.
    expect(result.stdout + result.stderr).not.toContain("AQAEAHOSTILE");
  });
});
