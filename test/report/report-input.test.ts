import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/errors.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { readReportSource } from "../../src/report/report-input.js";
import { event, liveSummary, timeAt } from "./event-factory.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const directory = makeTempDir("imds-report-input-");

function ndjson(...lines: unknown[]): string {
  return lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n") + "\n";
}

describe("readReportSource", () => {
  it("reads event files (plain and gzip) and a pretty-printed summary, each host named after its file", async () => {
    const webEvents = join(directory, "i-0aaaaaaaaaaaaaaaa.ndjson");
    const webSummary = join(directory, "i-0aaaaaaaaaaaaaaaa.summary.json");
    const dbEvents = join(directory, "db-1.ndjson.gz");
    writeFileSync(webEvents, ndjson(event({ kind: "v2", time: timeAt(10) }), "{broken", event({ kind: "token-request", time: timeAt(9) })));
    writeFileSync(webSummary, `${JSON.stringify(liveSummary(), null, 2)}\n`);
    writeFileSync(dbEvents, gzipSync(ndjson(event({ kind: "v1" }), event({ kind: "v1", userAgent: "Wget/1.21.3" }))));

    const builder = new ReportBuilder();
    const results = [];
    for (const path of [webEvents, webSummary, dbEvents]) results.push(await readReportSource(path, builder));
    expect(results.map(({ host, events, summaries, malformed, error }) => ({ host, events, summaries, malformed, error }))).toEqual([
      { host: "i-0aaaaaaaaaaaaaaaa", events: 2, summaries: 0, malformed: 1, error: null },
      { host: "i-0aaaaaaaaaaaaaaaa", events: 0, summaries: 1, malformed: 0, error: null },
      { host: "db-1", events: 2, summaries: 0, malformed: 0, error: null },
    ]);
    const report = builder.build();
    expect(report.hosts.map((host) => [host.host, host.verdict, host.capture.malformedLines, host.capture.framesDropped])).toEqual([
      ["db-1", "NOT_READY", 0, null],
      // Two days of healthy live capture, IMDSv2 only, but one event line could not be read.
      ["i-0aaaaaaaaaaaaaaaa", "UNKNOWN", 1, 0],
    ]);
    expect(report.malformedLines).toEqual([{ path: webEvents, line: 2, problem: expect.stringMatching(/^not JSON: /) as string }]);
  });

  it("reads standard input for -", async () => {
    const builder = new ReportBuilder();
    const stdin = Readable.from([Buffer.from(ndjson(event({ kind: "v1" })))]);
    const result = await readReportSource("-", builder, { stdin });
    expect([result.host, result.events]).toEqual(["local", 1]);
    expect(builder.build().hosts[0]!.host).toBe("local");
  });

  it("takes the host given over the file name", async () => {
    const path = join(directory, "whatever.ndjson");
    writeFileSync(path, ndjson(event({ kind: "v2" })));
    const builder = new ReportBuilder();
    expect((await readReportSource(path, builder, { host: "i-0bbbbbbbbbbbbbbbb" })).host).toBe("i-0bbbbbbbbbbbbbbbb");
    expect(builder.build().hosts.map((host) => host.host)).toEqual(["i-0bbbbbbbbbbbbbbbb"]);
  });

  it("records a file that cannot be read as a source error of its host and returns the error", async () => {
    const builder = new ReportBuilder();
    const missing = join(directory, "web-9.ndjson");
    const result = await readReportSource(missing, builder);
    expect(result.error?.code).toBe(ErrorCode.io);
    expect(result.error?.message).toMatch(/web-9\.ndjson: cannot read events: ENOENT/);
    builder.addSummary(liveSummary(), "web-9");
    const host = builder.build().hosts[0]!;
    expect(host.verdict).toBe("UNKNOWN");
    expect(host.capture.sourceErrors).toHaveLength(1);
  });

  it("keeps the events before a gzip error, and records the error", async () => {
    const path = join(directory, "web-3.ndjson.gz");
    const lines = Array.from({ length: 2000 }, (_, index) => event({ kind: "v2", frame: index + 1 }));
    const compressed = gzipSync(ndjson(...lines));
    writeFileSync(path, compressed.subarray(0, Math.floor(compressed.length / 2)));
    const builder = new ReportBuilder();
    const result = await readReportSource(path, builder);
    expect(result.error?.message).toMatch(/cannot read events: unexpected end of file/);
    expect(result.events).toBeGreaterThan(0);
    const report = builder.build();
    expect(report.totals.v2).toBe(result.events);
    expect(report.hosts[0]!.capture.sourceErrors[0]).toMatch(/^.*web-3\.ndjson\.gz: cannot read events/);
  });
});
