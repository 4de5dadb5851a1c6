/**
 * The README's option tables against the command line itself: every option a command has is in
 * its table, and the table names none it does not have (the tables once missed --report, csv and
 * --install-to). Read from the program the CLI builds, not from its help text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Command } from "commander";
import { buildProgram } from "../src/cli.js";
import { reportFormats, reportFormatTable } from "../src/report/formats.js";

const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
const program = buildProgram(() => undefined);

/** The first table after the `### \`NAME\`` heading, up to the next heading: its rows' cells. */
function optionTable(commandName: string): string[][] {
  const heading = new RegExp(`^### \`${commandName}\`.*$`, "m").exec(readme);
  if (heading === null) throw new Error(`README.md has no "### \`${commandName}\`" section`);
  const section = readme.slice(heading.index + heading[0].length).split(/^#{1,3} /m)[0] ?? "";
  const rows = section.split("\n").filter((line) => line.startsWith("|"));
  // Header and separator rows first.
  return rows.slice(2).map((row) => row.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
}

/** "`-q, --quiet`, `--fail-on-v1`" -> ["-q", "--quiet", "--fail-on-v1"]. */
function flagsOf(cell: string): string[] {
  return [...cell.matchAll(/(?<![\w-])(--?[a-z][a-z0-9-]*)/g)].map((match) => match[1]!);
}

function commandFlags(command: Command): string[] {
  return command.options.flatMap((option) => [option.short, option.long].filter((flag): flag is string => flag !== undefined));
}

function command(name: string): Command {
  const found = program.commands.find((candidate) => candidate.name() === name);
  if (found === undefined) throw new Error(`no command ${name}`);
  return found;
}

const commandNames = program.commands.map((each) => each.name());

describe("README option tables", () => {
  it("knows the commands", () => {
    expect(commandNames).toEqual(["analyze", "capture", "report", "install-service"]);
  });

  for (const name of commandNames) {
    it(`lists exactly the options of ${name}`, () => {
      const documented = optionTable(name).flatMap((cells) => flagsOf(cells[0] ?? ""));
      expect(new Set(documented).size, `an option listed twice in ${name}'s table`).toBe(documented.length);
      expect([...documented].sort()).toEqual(commandFlags(command(name)).sort());
    });
  }

  it("names every report format and every extension --report understands", () => {
    const formatRow = optionTable("report").find((cells) => cells[0]?.includes("--format"));
    for (const format of reportFormats) expect(formatRow?.[1]).toContain(`\`${format}\``);
    const reportRow = optionTable("analyze").find((cells) => cells[0]?.includes("--report"));
    for (const extension of reportFormatTable.flatMap((row) => row.extensions)) expect(reportRow?.[1]).toContain(`\`${extension}\``);
  });
});
