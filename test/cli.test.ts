/**
 * The real command line, run as a child process from the built dist/ (npm test builds first):
 * exit codes, where output goes, standard input.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writePcap } from "../src/wire-format/pcap-file.mjs";
import { http, TcpConversation } from "./helpers/conversation.js";
import { makeTempDir } from "./helpers/temp-dir.js";
import { cliPath as cli } from "./helpers/cli.js";

const directory = makeTempDir("imds-cli-");

function run(args: string[], input?: Uint8Array) {
  const result = spawnSync(process.execPath, [cli, ...args], { input, encoding: "buffer", timeout: 30_000 });
  return { code: result.status, stdout: result.stdout.toString("utf8"), stderr: result.stderr.toString("utf8") };
}

function capture(name: string, conversation: TcpConversation): string {
  const path = join(directory, name);
  writeFileSync(path, writePcap(conversation.frames));
  return path;
}

const v1Capture = capture("v1.pcap", new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close());
const v2Capture = capture(
  "v2.pcap",
  new TcpConversation().handshake().send(http.putToken()).reply(http.response(200, "AQAEAFAKETOKEN==")).send(http.getV2()).reply(http.response(200)).close(),
);

describe("imds-analyzer analyze (CLI)", () => {
  it("prints NDJSON events on stdout and the summary on stderr", () => {
    const result = run(["analyze", v2Capture]);
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events.map((event) => event["kind"])).toEqual(["token-request", "v2"]);
    expect(result.stderr).toContain("IMDS requests: 2 (v1: 0, v2: 1, token requests: 1)");
    expect(result.stdout + result.stderr).not.toContain("FAKETOKEN");
  });

  it("writes --events and --summary-json files (mode 0600) and keeps stdout empty", () => {
    const eventsPath = join(directory, "events.ndjson");
    const summaryPath = join(directory, "summary.json");
    const result = run(["analyze", "--events", eventsPath, "--summary-json", summaryPath, "--quiet", v1Capture, v2Capture]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("");
    expect(readFileSync(eventsPath, "utf8").trim().split("\n")).toHaveLength(3);
    const summary = JSON.parse(readFileSync(summaryPath, "utf8")) as { schema: string; requests: unknown; sources: unknown[] };
    expect(summary.schema).toBe("imds-analyzer/summary@1");
    expect(summary.requests).toEqual({ total: 3, v1: 1, v2: 1, tokenRequests: 1, unclassified: 0 });
    expect(summary.sources).toHaveLength(2);
    expect(statSync(eventsPath).mode & 0o777).toBe(0o600);
    expect(statSync(summaryPath).mode & 0o777).toBe(0o600);
  });

  it("reads standard input with -", () => {
    const result = run(["analyze", "-", "--quiet"], readFileSync(v1Capture));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim()) as unknown).toMatchObject({ kind: "v1", source: "-", status: 200 });
  });

  it("exits 3 with --fail-on-v1 when a v1 call was seen, 0 when none was", () => {
    expect(run(["analyze", "--quiet", "--fail-on-v1", v1Capture]).code).toBe(3);
    expect(run(["analyze", "--quiet", "--fail-on-v1", v2Capture]).code).toBe(0);
  });

  it("exits 2 on usage errors", () => {
    expect(run(["analyze"]).code).toBe(2);
    expect(run(["analyze", "--no-such-option", v1Capture]).code).toBe(2);
    expect(run(["frobnicate"]).code).toBe(2);
    expect(run(["analyze", "-", "-"]).code).toBe(2);
  });

  it("exits 1 with a message naming the file for a missing or non-capture file", () => {
    const missing = run(["analyze", join(directory, "nope.pcap")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.pcap");
    const text = join(directory, "notes.txt");
    writeFileSync(text, "this is not a capture file\n");
    const notCapture = run(["analyze", "--quiet", text]);
    expect(notCapture.code).toBe(1);
    expect(notCapture.stderr).toMatch(/notes\.txt: at byte offset 0 .*not a pcap or pcapng file/);
  });

  it("draws progress on a terminal only, and never with --quiet", () => {
    // script(1) runs the CLI on a pseudo-terminal, as a user at a shell would.
    const onTerminal = (extra: string) =>
      spawnSync("script", ["-qec", `${process.execPath} ${cli} analyze ${extra} --events /dev/null ${v1Capture}`, "/dev/null"], {
        encoding: "utf8",
        timeout: 30_000,
      });
    const drawn = onTerminal("");
    expect(drawn.status).toBe(0);
    expect(drawn.stdout).toMatch(/\r\u001b\[2K.*v1\.pcap: .* of .* \(100%\), [\d,]+ frames\/s, 1 IMDS requests/);
    expect(onTerminal("--quiet").stdout).toBe("");
    // Not a terminal: no progress line, only the summary.
    const piped = run(["analyze", "--events", "/dev/null", v1Capture]);
    expect(piped.stderr).not.toContain("\r");
    expect(piped.stderr).toContain("IMDS requests: 1");
  });

  it("capture without root: a one-line error saying what to do, exit 1", () => {
    // As root, run it as "nobody"; as anyone else, as is.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const result = spawnSync(process.execPath, [cli, "capture", "--duration", "1s"], { encoding: "utf8", timeout: 30_000, ...asUser });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/must run as root .*sudo/);
  });

  it("report: events (and a summary) to a verdict in Markdown, JSON or HTML; malformed lines named by number", () => {
    const eventsPath = join(directory, "report-events.ndjson");
    expect(run(["analyze", "--quiet", "--events", eventsPath, v1Capture]).code).toBe(0);
    writeFileSync(eventsPath, readFileSync(eventsPath, "utf8") + "{not json\n");
    const markdown = run(["report", eventsPath]);
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toMatch(/^# IMDSv2 readiness: NOT READY/);
    expect(markdown.stderr).toContain("report-events.ndjson: line 2:");
    const json = run(["report", "--format", "json", "--fail-on-v1", eventsPath]);
    expect(json.code).toBe(3);
    const report = JSON.parse(json.stdout) as { schema: string; verdict: string; totals: { v1: number } };
    expect(report).toMatchObject({ schema: "imds-analyzer/report@1", verdict: "NOT_READY", totals: { v1: 1 } });
    const htmlPath = join(directory, "report.html");
    expect(run(["report", "--format", "html", "-o", htmlPath, "-"], readFileSync(eventsPath)).code).toBe(0);
    expect(readFileSync(htmlPath, "utf8")).toMatch(/^<!DOCTYPE html>/i);
    expect(statSync(htmlPath).mode & 0o777).toBe(0o600);
  });

  it("analyze --report writes the report in the format its file name asks for", () => {
    const reportPath = join(directory, "direct.json");
    expect(run(["analyze", "--quiet", "--events", "/dev/null", "--report", reportPath, v2Capture]).code).toBe(0);
    const report = JSON.parse(readFileSync(reportPath, "utf8")) as { verdict: string; totals: unknown };
    expect(report.totals).toEqual({ v1: 0, v2: 1, tokenRequests: 1 });
    // A capture of a few milliseconds proves nothing about a day of traffic: not READY, not NOT_READY.
    expect(report.verdict).toBe("UNKNOWN");
  });

  it("prints --version and --help with exit code 0", () => {
    const version = run(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = run(["analyze", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--fail-on-v1");
  });
});
