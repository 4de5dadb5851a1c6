/**
 * The report format table (src/report/formats.ts) is the only list of formats: `--format`'s
 * choices, the format `--report FILE` picks by extension and the help text naming them all come
 * from it. Checked through the built CLI, the way a user meets them.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReportFormat } from "../../src/report/formats.js";
import { defaultReportFormat, renderReport, reportFormatOfPath, reportFormatTable, reportFormats } from "../../src/report/formats.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { writePcap } from "../../src/wire-format/pcap-file.mjs";
import { http, TcpConversation } from "../helpers/conversation.js";
import { cliPath as cli } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { event } from "./event-factory.js";

const directory = makeTempDir("imds-formats-");

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** How each format's output is recognised: a new format must say how here too. */
const recognise: Record<ReportFormat, (text: string) => boolean> = {
  markdown: (text) => text.startsWith("# IMDSv2 readiness: "),
  json: (text) => (JSON.parse(text) as { schema?: unknown }).schema === "imds-analyzer/report@1",
  html: (text) => text.startsWith("<!DOCTYPE html>"),
  csv: (text) => text.startsWith("rank,fix_id,title,"),
};

/** Commander wraps help text at 80 columns: compare with the whitespace squeezed. */
function squeezed(text: string): string {
  return text.replace(/\s+/g, " ");
}

describe("report format table", () => {
  it("lists each format once, each extension once, and every format can be recognised", () => {
    expect(new Set(reportFormats).size).toBe(reportFormats.length);
    const extensions = reportFormatTable.flatMap((row) => row.extensions);
    expect(new Set(extensions).size).toBe(extensions.length);
    for (const extension of extensions) expect(extension).toMatch(/^\.[a-z0-9]+$/);
    expect(Object.keys(recognise).sort()).toEqual([...reportFormats].sort());
    expect(reportFormats).toContain(defaultReportFormat);
  });

  it("maps every extension of the table to its format, in any case; anything else to the default", () => {
    for (const row of reportFormatTable) {
      for (const extension of row.extensions) {
        expect(reportFormatOfPath(`out/report${extension}`)).toBe(row.format);
        expect(reportFormatOfPath(`REPORT${extension.toUpperCase()}`)).toBe(row.format);
      }
    }
    expect(reportFormatOfPath("report.txt")).toBe(defaultReportFormat);
    expect(reportFormatOfPath("report")).toBe(defaultReportFormat);
  });

  it("renders each format with its own renderer", async () => {
    const builder = new ReportBuilder();
    builder.addEvent(event(), "web-1");
    const report = builder.build();
    for (const format of reportFormats) expect(recognise[format](await renderReport(report, format))).toBe(true);
  });

  it("drives the CLI's help text: --format's choices and --report's extensions", () => {
    const reportHelp = run(["report", "--help"]);
    expect(reportHelp.code).toBe(0);
    const choices = /--format <format>.*?\(choices: (.*?), default: "([^"]*)"\)/s.exec(squeezed(reportHelp.stdout));
    expect(choices?.[1]).toBe(reportFormats.map((format) => `"${format}"`).join(", "));
    expect(choices?.[2]).toBe(defaultReportFormat);
    for (const command of ["analyze", "capture"]) {
      const help = squeezed(run([command, "--help"]).stdout);
      for (const row of reportFormatTable) expect(help).toContain(`${row.format} (${row.extensions.join(", ")})`);
    }
  });

  it("drives the format `analyze --report FILE` writes, for every extension of the table", () => {
    const capturePath = join(directory, "v1.pcap");
    writeFileSync(capturePath, writePcap(new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close().frames));
    for (const row of reportFormatTable) {
      for (const extension of row.extensions) {
        const reportPath = join(directory, `report${extension.toUpperCase()}`);
        const result = run(["analyze", "--quiet", "--events", "/dev/null", "--report", reportPath, capturePath]);
        expect(result.code, result.stderr).toBe(0);
        expect(recognise[row.format](readFileSync(reportPath, "utf8"))).toBe(true);
      }
    }
    const fallbackPath = join(directory, "report.txt");
    expect(run(["analyze", "--quiet", "--events", "/dev/null", "--report", fallbackPath, capturePath]).code).toBe(0);
    expect(recognise[defaultReportFormat](readFileSync(fallbackPath, "utf8"))).toBe(true);
  });
});
