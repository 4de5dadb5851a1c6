/**
 * The library API as a user gets it: the package is packed (`npm pack`), installed into a fresh
 * project, imported by its name from plain JavaScript, and type-checked from TypeScript against
 * the .d.ts files in the tarball. Internal paths must stay closed (the "exports" map: the library
 * and imds-analyzer/cli only), and importing must run nothing.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/index.js";
import type { ImdsEvent } from "../../src/index.js";
import { version } from "../../src/version.js";
import { installIntoProject, packPackage, repositoryRoot } from "../helpers/packed-package.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const capture = join(repositoryRoot, "captures", "awscli1-put403-fallback-any.pcapng");
const project = makeTempDir("imds-packed-library-");

function node(args: readonly string[]) {
  const result = spawnSync(process.execPath, args, { cwd: project, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const consumerScript = `
import { analyzeCaptures, hostFromPath, renderReport, ReportBuilder, version, eventSchema, runLiveCapture } from "imds-analyzer";
const [path] = process.argv.slice(2);
const events = [];
const builder = new ReportBuilder();
const result = await analyzeCaptures([path], {
  onEvent: (event) => { events.push(event); builder.addEvent(event, hostFromPath(event.source)); },
});
builder.addSummary(result.summary, hostFromPath(path));
const report = builder.build();
process.stdout.write(JSON.stringify({
  version, eventSchema, events, requests: result.summary.requests,
  verdict: report.verdict, markdownTitle: (await renderReport(report, "markdown")).split("\\n")[0],
  liveCapture: typeof runLiveCapture,
}));
`;

const typedConsumer = `
import { analyzeCaptures, ImdsAnalyzerError, renderReport, ReportBuilder, runLiveCapture } from "imds-analyzer";
import type { AnalysisSummary, ImdsEvent, ImdsReport, LiveCaptureOptions, ReportFormat } from "imds-analyzer";

const kinds: ImdsEvent["kind"][] = [];
const result = await analyzeCaptures(["capture.pcap"], { onEvent: (event) => { kinds.push(event.kind); } });
const summary: AnalysisSummary = result.summary;
const report: ImdsReport = new ReportBuilder({ minimumWindowSeconds: 3600 }).build();
const format: ReportFormat = "html";
const text: string = await renderReport(report, format);
// @ts-expect-error: no such format
await renderReport(report, "pdf");
// @ts-expect-error: an event's kind is a string union, not a number
const wrong: number = kinds[0];
const live: LiveCaptureOptions = { onEvent: (event) => { kinds.push(event.kind); }, log: () => {}, durationMs: 1000 };
const stopped: Promise<AnalysisSummary> = runLiveCapture(live);
export { summary, text, wrong, stopped, ImdsAnalyzerError };
`;

describe("the packed npm package, imported by a user", () => {
  beforeAll(() => {
    const tarball = packPackage(makeTempDir("imds-pack-"));
    installIntoProject(project, tarball, { ignoreScripts: true });
  }, 240_000);

  it("analyses and reports through the package's own name, with the events of the source tree", async () => {
    const fromSource: ImdsEvent[] = [];
    await analyzeCaptures([capture], { onEvent: (event) => { fromSource.push(event); } });
    writeFileSync(join(project, "consumer.mjs"), consumerScript);
    const result = node(["consumer.mjs", capture]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as { version: string; eventSchema: string; events: unknown[]; requests: { v1: number }; verdict: string; markdownTitle: string; liveCapture: string };
    expect(fromSource.length).toBeGreaterThan(0);
    expect(output.events).toEqual(JSON.parse(JSON.stringify(fromSource)));
    expect(output.version).toBe(version);
    expect(output.eventSchema).toBe("imds-analyzer/event@1");
    expect(output.requests.v1).toBeGreaterThan(0);
    expect(output.verdict).toBe("NOT_READY");
    expect(output.markdownTitle).toMatch(/^# /);
    expect(output.liveCapture).toBe("function");
  });

  it("runs nothing on import, and keeps internal modules closed", () => {
    const imported = node(["--input-type=module", "-e", `await import("imds-analyzer"); console.log("imported");`]);
    expect(imported).toEqual({ code: 0, stdout: "imported\n", stderr: "" });
    const cli = node(["--input-type=module", "-e", `const { main } = await import("imds-analyzer/cli"); process.exitCode = await main(["--version"]);`]);
    expect(cli).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    const internal = node(["--input-type=module", "-e", `await import("imds-analyzer/dist/cli.js")`]);
    expect(internal.code).toBe(1);
    expect(internal.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });

  it("type-checks a TypeScript consumer against the packed .d.ts files", () => {
    writeFileSync(join(project, "consumer.ts"), typedConsumer);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true,
        exactOptionalPropertyTypes: true, skipLibCheck: true,
        types: ["node"], typeRoots: [join(repositoryRoot, "node_modules", "@types")],
      },
      files: ["consumer.ts"],
    }));
    const tsc = join(repositoryRoot, "node_modules", "typescript", "bin", "tsc");
    const result = node([tsc, "-p", "tsconfig.json"]);
    expect(result.stdout + result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});
