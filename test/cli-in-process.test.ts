/**
 * The command line used in-process: importing src/cli.ts runs nothing (src/bin.ts is the entry
 * that does), and main() runs a command and returns its exit code like the executable would.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram, ExitCode, main } from "../src/cli.js";
import { makeTempDir } from "./helpers/temp-dir.js";

const capture = join(import.meta.dirname, "..", "captures", "curl-v1-v2-lo.pcap");

describe("the CLI in-process", () => {
  it("runs nothing on import and names its commands", () => {
    expect(process.exitCode).toBeUndefined();
    const commands = buildProgram(() => undefined).commands.map((command) => command.name());
    expect(commands).toEqual(["analyze", "capture", "report", "install-service"]);
  });

  it("main() runs analyze and returns the exit code", async () => {
    const eventsPath = join(makeTempDir("imds-cli-in-process-"), "events.ndjson");
    expect(await main(["analyze", "--quiet", "--events", eventsPath, capture])).toBe(ExitCode.ok);
    const kinds = readFileSync(eventsPath, "utf8").trim().split("\n").map((line) => (JSON.parse(line) as { kind: string }).kind);
    expect(kinds).toContain("v1");
    expect(await main(["analyze", "--quiet", "--events", eventsPath, "--fail-on-v1", capture])).toBe(ExitCode.v1Seen);
  });

  it("main() turns a usage error into exit code 2 without exiting the process", async () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string | Uint8Array) => { stderr.push(String(chunk)); return true; };
    try {
      expect(await main(["capture", "--rotate-keep", "abc", "--events", "/nonexistent/x"])).toBe(ExitCode.usage);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join("")).toContain("invalid --rotate-keep");
  });
});
