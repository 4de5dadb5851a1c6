#!/usr/bin/env node
/**
 * The command line: commander -> library -> exit code. No analysis logic lives here.
 * Exit codes: 0 done, 1 error, 2 usage error, 3 a v1 call was seen and --fail-on-v1 was given.
 */
import { writeFile } from "node:fs/promises";
import { Command, CommanderError, Option } from "commander";
import { analyzeCaptures } from "./analyze.js";
import { ImdsAnalyzerError, OutputError, UsageError } from "./errors.js";
import { NdjsonWriter } from "./sink/ndjson-writer.js";
import { ProgressLine } from "./sink/progress.js";
import { formatSummaryText } from "./sink/summary-text.js";
import { version } from "./version.js";

export const ExitCode = { ok: 0, error: 1, usage: 2, v1Seen: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface AnalyzeCommandOptions {
  readonly events?: string;
  readonly summaryJson?: string;
  readonly quiet?: boolean;
  readonly failOnV1?: boolean;
}

async function runAnalyze(files: readonly string[], options: AnalyzeCommandOptions): Promise<ExitCode> {
  if (files.filter((file) => file === "-").length > 1) throw new UsageError("standard input (-) can be given only once");
  const events = options.events === undefined ? NdjsonWriter.toStdout() : NdjsonWriter.toFile(options.events);
  const progress = !options.quiet && process.stderr.isTTY ? new ProgressLine(process.stderr) : null;
  let result;
  try {
    result = await analyzeCaptures(files, {
      onEvent: (event) => { events.write(event); },
      backpressure: () => events.drained(),
      ...(progress ? { onProgress: (p) => { progress.update(p); } } : {}),
      onWarning: (warning) => {
        progress?.clear();
        if (!options.quiet) process.stderr.write(`warning: ${warning.message}\n`);
      },
    });
  } finally {
    progress?.clear();
    await events.close();
  }
  if (options.summaryJson !== undefined) {
    const path = options.summaryJson;
    await writeFile(path, JSON.stringify(result.summary, null, 2) + "\n", { mode: 0o600 }).catch((error: unknown) => {
      throw new OutputError(path, "cannot write the summary", { cause: error });
    });
  }
  if (!options.quiet) process.stderr.write(formatSummaryText(result.summary));
  else for (const source of result.summary.sources) {
    if (source.error) process.stderr.write(`imds-analyzer: ${source.error.message}\n`);
  }
  if (result.hadErrors) return ExitCode.error;
  if (options.failOnV1 && result.summary.requests.v1 > 0) return ExitCode.v1Seen;
  return ExitCode.ok;
}

export function buildProgram(setExitCode: (code: ExitCode) => void): Command {
  const program = new Command()
    .name("imds-analyzer")
    .description("Find which clients still call the EC2 Instance Metadata Service with IMDSv1.")
    .version(version)
    .showHelpAfterError()
    .exitOverride();
  program
    .command("analyze")
    .description("Analyse pcap/pcapng capture files (- for standard input); NDJSON events to stdout, a summary to stderr.")
    .argument("<files...>", "capture files (.pcap, .pcapng, optionally gzip-compressed); - reads standard input")
    .option("--events <file>", "write the NDJSON events to FILE instead of standard output")
    .option("--summary-json <file>", "also write the summary as JSON to FILE")
    .option("-q, --quiet", "no progress, warnings or summary on stderr (errors still)")
    .addOption(new Option("--fail-on-v1", "exit with code 3 when an IMDSv1 call was seen"))
    .action(async (files: string[], options: AnalyzeCommandOptions) => {
      setExitCode(await runAnalyze(files, options));
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.ok;
  const program = buildProgram((code) => { exitCode = code; });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`imds-analyzer: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (error instanceof ImdsAnalyzerError) {
      process.stderr.write(`imds-analyzer: ${error.message}\n`);
      return ExitCode.error;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`imds-analyzer: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = ExitCode.error;
  },
);
