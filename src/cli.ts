/**
 * The command line: commander -> library -> exit code. No analysis logic lives here. Importing
 * it runs nothing: src/bin.ts is the executable entry that calls main().
 * Exit codes: 0 done, 1 error, 2 usage error, 3 a v1 call was seen and --fail-on-v1 was given.
 */
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { analyzeCaptures } from "./analyze.js";
import type { AttributionChoice } from "./live/capture.js";
import { parseDurationMs } from "./live/duration.js";
import type { ReportFormat } from "./report/formats.js";
import { defaultReportFormat, renderReport, reportFormatOfPath, reportFormats, reportFormatsHelp } from "./report/formats.js";
import type * as ReportModuleExports from "./report/index.js";
import type { ReportBuilder } from "./report/index.js";
import type { AnalysisSummary } from "./summary.js";
import { ImdsAnalyzerError, UsageError } from "./errors.js";
import { NdjsonWriter } from "./sink/ndjson-writer.js";
import { writeOutputFile } from "./sink/output-path.js";
import { parseSizeBytes, RotatingEventFile } from "./sink/rotating-event-file.js";
import type { FileSpaceReserver } from "./sink/rotating-event-file.js";
import { ProgressLine } from "./sink/progress.js";
import { formatSummaryText } from "./sink/summary-text.js";
import { version } from "./version.js";

type ReportModule = typeof ReportModuleExports;

/** The report code loads only when a report is asked for: it is a third of the CLI's modules. */
async function loadReport(): Promise<ReportModule> {
  return import("./report/index.js");
}

export const ExitCode = { ok: 0, error: 1, usage: 2, v1Seen: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

interface AnalyzeCommandOptions {
  readonly events?: string;
  readonly summaryJson?: string;
  readonly report?: string;
  readonly quiet?: boolean;
  readonly failOnV1?: boolean;
}

async function runAnalyze(files: readonly string[], options: AnalyzeCommandOptions): Promise<ExitCode> {
  if (files.filter((file) => file === "-").length > 1) throw new UsageError("standard input (-) can be given only once");
  const events = options.events === undefined ? NdjsonWriter.toStdout() : NdjsonWriter.toFile(options.events);
  const progress = !options.quiet && process.stderr.isTTY ? new ProgressLine(process.stderr) : null;
  const reporting = options.report === undefined ? null : await loadReport();
  const report = reporting === null ? null : new reporting.ReportBuilder();
  let result;
  try {
    result = await analyzeCaptures(files, {
      onEvent: (event) => {
        events.write(event);
        if (reporting !== null) report?.addEvent(event, reporting.hostFromPath(event.source));
      },
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
  if (options.summaryJson !== undefined) await writeSummaryJson(options.summaryJson, result.summary);
  if (reporting !== null && report !== null && options.report !== undefined) {
    addSourceSummaries(reporting, report, result.summary);
    await writeReportFile(options.report, report);
  }
  if (!options.quiet) process.stderr.write(formatSummaryText(result.summary));
  else for (const source of result.summary.sources) {
    if (source.error) process.stderr.write(`imds-analyzer: ${source.error.message}\n`);
  }
  if (result.hadErrors) return ExitCode.error;
  if (options.failOnV1 && result.summary.requests.v1 > 0) return ExitCode.v1Seen;
  return ExitCode.ok;
}

interface CaptureCommandOptions {
  readonly interface: string;
  readonly events?: string;
  readonly summaryJson?: string;
  readonly duration?: string;
  readonly writePcap?: string;
  readonly attribution: AttributionChoice;
  readonly rotateSize?: string;
  readonly rotateKeep: string;
  readonly report?: string;
  readonly quiet?: boolean;
  readonly failOnV1?: boolean;
}

/** What `capture`'s options say, checked; a bad value is a UsageError with the option's name. */
export interface CheckedCaptureOptions {
  readonly durationMs: number | null;
  readonly maxFileBytes: number | null;
  readonly keepFiles: number;
}

/**
 * The one check of `capture`'s options, also run by install-service on the options it writes into
 * the unit: a value capture would refuse is refused there with the same message, before anything
 * is written, and never reaches a unit that would fail at boot.
 */
function checkCaptureOptions(options: Pick<CaptureCommandOptions, "events" | "duration" | "rotateSize" | "rotateKeep">): CheckedCaptureOptions {
  const durationMs = options.duration === undefined ? null : parseDurationMs(options.duration);
  if (options.events === undefined && options.rotateSize !== undefined) throw new UsageError("--rotate-size needs --events FILE");
  const maxFileBytes = options.rotateSize === undefined ? null : parseSizeBytes(options.rotateSize);
  if (maxFileBytes === null && options.rotateSize !== undefined) throw new UsageError(`invalid --rotate-size "${options.rotateSize}" (examples: 100M, 1G)`);
  const keepFiles = /^\d+$/.test(options.rotateKeep) ? Number(options.rotateKeep) : Number.NaN;
  if (!Number.isInteger(keepFiles) || keepFiles < 0 || keepFiles > 1000) throw new UsageError(`invalid --rotate-keep "${options.rotateKeep}" (0 to 1000)`);
  return { durationMs, maxFileBytes, keepFiles };
}

/** Where live events go: stdout as they happen, or an appended, rotated file. */
function openLiveEventSink(eventsPath: string | undefined, checked: CheckedCaptureOptions, warn: (message: string) => void, reserveSpace: FileSpaceReserver | null): NdjsonWriter | RotatingEventFile {
  if (eventsPath === undefined) return NdjsonWriter.toStdout({ immediate: true });
  return new RotatingEventFile(eventsPath, { maxFileBytes: checked.maxFileBytes, keepFiles: checked.keepFiles }, warn, reserveSpace === null ? {} : { reserveSpace });
}

async function runCapture(options: CaptureCommandOptions): Promise<ExitCode> {
  const checked = checkCaptureOptions(options);
  const durationMs = checked.durationMs;
  // Loaded only here: offline analysis must work where the native addons are not built.
  const { runLiveCapture } = await import("./live/capture.js");
  const { fileSpaceReserver } = await import("./live/pcap-addon.js");
  const say = (line: string): void => {
    if (!options.quiet) process.stderr.write(`imds-analyzer: ${line}\n`);
  };
  // Errors are printed even with --quiet: a service losing events must say so in its journal.
  const events = openLiveEventSink(options.events, checked, (message) => process.stderr.write(`imds-analyzer: ${message}\n`), fileSpaceReserver());
  const reporting = options.report === undefined ? null : await loadReport();
  const report = reporting === null ? null : new reporting.ReportBuilder();
  const stop = new AbortController();
  const onSignal = (): void => { stop.abort(); };
  const onHangUp = (): void => {
    if (events instanceof RotatingEventFile) events.reopen();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.on("SIGHUP", onHangUp);
  let summary;
  try {
    summary = await runLiveCapture({
      device: options.interface,
      durationMs,
      attribution: options.attribution,
      onEvent: (event) => {
        events.write(event);
        if (reporting !== null) report?.addEvent(event, event.host ?? reporting.localHost);
      },
      writePcapPath: options.writePcap ?? null,
      eventsDestination: events.name,
      // Created after start, once privileges are dropped (rotation and SIGHUP, summary, report).
      laterOutputPaths: [options.events, options.summaryJson, options.report].filter((path) => path !== undefined),
      log: say,
      onWarning: (warning) => { say(`warning: ${warning.message}`); },
      signal: stop.signal,
      countEventsNotWritten: () => (events instanceof RotatingEventFile ? events.eventsNotWritten : 0),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onHangUp);
    await events.close();
  }
  if (options.summaryJson !== undefined) await writeSummaryJson(options.summaryJson, summary);
  if (reporting !== null && report !== null && options.report !== undefined) {
    report.addSummary(summary, hostname());
    await writeReportFile(options.report, report);
  }
  if (!options.quiet) process.stderr.write(formatSummaryText(summary));
  // Printed even with --quiet, each on one line: a service that stopped must say why.
  const errors = summary.live?.errors ?? [];
  for (const error of errors) process.stderr.write(`imds-analyzer: ${error}\n`);
  if (errors.length > 0) return ExitCode.error;
  if (options.failOnV1 && summary.requests.v1 > 0) return ExitCode.v1Seen;
  return ExitCode.ok;
}

interface InstallServiceOptions {
  readonly unitDir: string;
  readonly logDir: string;
  readonly interface: string;
  readonly rotateSize: string;
  readonly rotateKeep: string;
  readonly installTo?: string;
  readonly start: boolean;
  readonly print?: boolean;
}

async function runInstallService(options: InstallServiceOptions): Promise<ExitCode> {
  const logDirectory = resolve(options.logDir);
  // The options the unit will give capture, checked by capture's own check before anything is written.
  const checked = checkCaptureOptions({ events: join(logDirectory, "events.ndjson"), rotateSize: options.rotateSize, rotateKeep: options.rotateKeep });
  const { installService, renderSystemdUnit } = await import("./service/systemd-unit.js");
  const { installProgram, planProgramInstall } = await import("./service/installed-program.js");
  const plan = planProgramInstall(options.installTo);
  const settings = { command: plan.command, environment: plan.environment, logDirectory, interface: options.interface, rotateSize: options.rotateSize, rotateKeep: checked.keepFiles };
  if (options.print) {
    process.stdout.write(renderSystemdUnit(settings));
    return ExitCode.ok;
  }
  installProgram(plan);
  const what = plan.kind === "executable" ? "this executable" : `the bundled CLI and its addons, run by ${process.execPath}`;
  process.stderr.write(`imds-analyzer: installed ${plan.destination} (${what})\n`);
  const result = installService(settings, { unitDirectory: options.unitDir, start: options.start });
  process.stderr.write(`imds-analyzer: wrote ${result.unitPath}${result.started ? "; enabled and started" : `; ${result.note ?? ""}`}\n`);
  return ExitCode.ok;
}

async function writeReportFile(path: string, report: ReportBuilder): Promise<void> {
  await writeOutputFile(path, await renderReport(report.build(), reportFormatOfPath(path)), "the report");
}


/** A multi-file analysis reports each file as its own host (its name, or "local"). */
function addSourceSummaries(reporting: ReportModule, report: ReportBuilder, summary: AnalysisSummary): void {
  for (const source of summary.sources) {
    const host = reporting.hostFromPath(source.path);
    if (source.error) report.addSourceError(host, source.error.message);
  }
  const onlySource = summary.sources.length === 1 ? summary.sources[0] : undefined;
  report.addSummary(summary, onlySource === undefined ? reporting.localHost : reporting.hostFromPath(onlySource.path));
}

interface ReportCommandOptions {
  readonly format: ReportFormat;
  readonly output?: string;
  readonly minWindow: string;
  readonly failOnV1?: boolean;
}

async function runReport(files: readonly string[], options: ReportCommandOptions): Promise<ExitCode> {
  if (files.filter((file) => file === "-").length > 1) throw new UsageError("standard input (-) can be given only once");
  const { ReportBuilder, readReportSource } = await loadReport();
  const builder = new ReportBuilder({ minimumWindowSeconds: Math.round(parseDurationMs(options.minWindow) / 1000) });
  let failed = false;
  const maxMalformedShown = 20;
  for (const file of files) {
    let shown = 0;
    const read = await readReportSource(file, builder, {
      onMalformed: (malformed) => {
        if (++shown > maxMalformedShown) return;
        process.stderr.write(`imds-analyzer: ${file}: line ${malformed.line}: ${malformed.problem}; skipped\n`);
      },
    });
    if (read.error) {
      failed = true;
      process.stderr.write(`imds-analyzer: ${read.error.message}\n`);
    }
    if (read.malformed > maxMalformedShown) process.stderr.write(`imds-analyzer: ${file}: ${read.malformed} malformed lines skipped in all\n`);
  }
  const report = builder.build();
  const text = await renderReport(report, options.format);
  if (options.output === undefined) process.stdout.write(text);
  else await writeOutputFile(options.output, text, "the report");
  if (failed) return ExitCode.error;
  if (options.failOnV1 && report.totals.v1 > 0) return ExitCode.v1Seen;
  return ExitCode.ok;
}

async function writeSummaryJson(path: string, summary: unknown): Promise<void> {
  await writeOutputFile(path, JSON.stringify(summary, null, 2) + "\n", "the summary");
}

/** How `--report FILE` picks its format, from the format table. */
const reportFileFormatHelp = `(format by extension: ${reportFormatsHelp()}; else ${defaultReportFormat})`;

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
    .option("--report <file>", `also write the readiness report to FILE ${reportFileFormatHelp}`)
    .option("-q, --quiet", "no progress, warnings or summary on stderr (errors still)")
    .addOption(new Option("--fail-on-v1", "exit with code 3 when an IMDSv1 call was seen"))
    .action(async (files: string[], options: AnalyzeCommandOptions) => {
      setExitCode(await runAnalyze(files, options));
    });
  program
    .command("capture")
    .description("Capture IMDS traffic live (as root) and attribute every call to the process that made it.")
    .option("-i, --interface <name>", "interface to capture on", "any")
    .option("--events <file>", "append the NDJSON events to FILE (mode 0600) instead of standard output")
    .option("--summary-json <file>", "write the summary as JSON to FILE when the capture stops")
    .option("--duration <time>", "stop after this long (90s, 10m, 1h30m, 2d); default: until SIGINT/SIGTERM")
    .option("--write-pcap <file>", "also save the IMDS packets seen to FILE (pcap, mode 0600: it holds credentials)")
    .addOption(
      new Option("--attribution <method>", "how calls are tied to processes")
        .choices(["auto", "ebpf", "proc"])
        .default("auto"),
    )
    .option("--rotate-size <size>", "with --events: rotate the file when it reaches SIZE (100M, 1G); SIGHUP reopens it")
    .option("--rotate-keep <n>", "rotated files to keep (FILE.1 .. FILE.N)", "10")
    .option("--report <file>", `write the readiness report to FILE when the capture stops ${reportFileFormatHelp}`)
    .option("-q, --quiet", "no status lines or summary on stderr (errors still)")
    .addOption(new Option("--fail-on-v1", "exit with code 3 when an IMDSv1 call was seen"))
    .action(async (options: CaptureCommandOptions) => {
      setExitCode(await runCapture(options));
    });
  program
    .command("report")
    .description("Turn NDJSON events (and summaries) from one host or many into a migration-readiness report.")
    .argument("<files...>", "events files (.ndjson, optionally gzip-compressed) and --summary-json files; - reads standard input")
    .addOption(new Option("--format <format>", "report format").choices([...reportFormats]).default(defaultReportFormat))
    .option("-o, --output <file>", "write the report to FILE (mode 0600) instead of standard output")
    .option("--min-window <time>", "shortest observation window that can be called READY", "1d")
    .addOption(new Option("--fail-on-v1", "exit with code 3 when any IMDSv1 call was seen"))
    .action(async (files: string[], options: ReportCommandOptions) => {
      setExitCode(await runReport(files, options));
    });
  program
    .command("install-service")
    .description("Install (and, where systemd runs, start) a systemd unit that captures from early boot into /var/log/imds-analyzer/.")
    .option("--unit-dir <dir>", "where to write imds-analyzer.service", "/etc/systemd/system")
    .option("--log-dir <dir>", "events and summary directory (created mode 0700)", "/var/log/imds-analyzer")
    .option("-i, --interface <name>", "interface to capture on", "any")
    .option("--rotate-size <size>", "rotate the events file at this size", "100M")
    .option("--rotate-keep <n>", "rotated files to keep", "10")
    .option("--install-to <path>", "where the program is copied for the unit to run: this executable to PATH (default /usr/local/bin/imds-analyzer), or through npm the bundled CLI and its addons into the directory PATH (default /usr/local/lib/imds-analyzer)")
    .option("--no-start", "only write the unit; do not enable or start it")
    .option("--print", "print the unit to stdout and change nothing")
    .action(async (options: InstallServiceOptions) => {
      setExitCode(await runInstallService(options));
    });
  return program;
}

/** A capture command line's options as capture would run with them. */
export interface CheckedCaptureCommandLine extends CheckedCaptureOptions {
  readonly interface: string;
  /** --events FILE, or null: events to standard output. */
  readonly events: string | null;
  readonly quiet: boolean;
}

/**
 * Parses a command line (after the program name) as main() would and, when it is a `capture`,
 * runs capture's option check on it, starting nothing: for command lines written elsewhere (the
 * Kubernetes manifest's args). Throws the CommanderError or UsageError main() would report.
 */
export async function checkCaptureCommandLine(argv: readonly string[]): Promise<CheckedCaptureCommandLine> {
  const program = buildProgram(() => undefined);
  const silent = { writeOut: () => undefined, writeErr: () => undefined };
  program.configureOutput(silent);
  // Set by the action, which commander calls during parseAsync.
  const found: { checked: CheckedCaptureCommandLine | null } = { checked: null };
  for (const command of program.commands) {
    command.configureOutput(silent);
    command.action((options: CaptureCommandOptions) => {
      if (command.name() !== "capture") throw new UsageError(`not a capture command line: ${command.name()}`);
      found.checked = { ...checkCaptureOptions(options), interface: options.interface, events: options.events ?? null, quiet: options.quiet === true };
    });
  }
  await program.parseAsync([...argv], { from: "user" });
  if (found.checked === null) throw new UsageError("not a capture command line");
  return found.checked;
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
