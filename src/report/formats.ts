/**
 * The report formats: one row per format drives `report --format`'s choices, the format an
 * output file's extension asks for (`--report FILE`) and the help text naming both. Adding a
 * format is one render module plus one row here.
 *
 * The renderers are loaded on first use (`load`): the CLI reads this table at start-up to build
 * its options, and most runs (`analyze` without `--report`) never render a report.
 */
import type { ImdsReport } from "./types.js";

/** Renders a whole report as one text file. */
export type ReportRenderer = (report: ImdsReport) => string;

export interface ReportFormatSpec<Format extends string = string> {
  readonly format: Format;
  /** File name endings (lower case, with the dot) that ask for this format; the first is shown in help. */
  readonly extensions: readonly string[];
  readonly load: () => Promise<ReportRenderer>;
}

const formatTable = [
  { format: "markdown", extensions: [".md", ".markdown"], load: async () => (await import("./render-markdown.js")).renderMarkdown },
  { format: "json", extensions: [".json"], load: async () => (await import("./render-json.js")).renderJson },
  { format: "html", extensions: [".html", ".htm"], load: async () => (await import("./render-html.js")).renderHtml },
  { format: "csv", extensions: [".csv"], load: async () => (await import("./render-csv.js")).renderCsv },
] as const satisfies readonly ReportFormatSpec[];

export type ReportFormat = (typeof formatTable)[number]["format"];
export const reportFormatTable: readonly ReportFormatSpec<ReportFormat>[] = formatTable;
export const reportFormats: readonly ReportFormat[] = formatTable.map((row) => row.format);
/** What a file name with no listed extension gets (and `--format`'s default). */
export const defaultReportFormat: ReportFormat = "markdown";

export function reportFormatSpec(format: ReportFormat): ReportFormatSpec<ReportFormat> {
  const spec = reportFormatTable.find((row) => row.format === format);
  if (spec === undefined) throw new Error(`unknown report format ${JSON.stringify(format)}`);
  return spec;
}

/** The format a file name asks for by its extension (case-insensitive), else the default. */
export function reportFormatOfPath(path: string): ReportFormat {
  const lower = path.toLowerCase();
  return reportFormatTable.find((row) => row.extensions.some((extension) => lower.endsWith(extension)))?.format ?? defaultReportFormat;
}

/** "markdown (.md), json (.json), html (.html)": for help text. */
export function reportFormatsHelp(): string {
  return reportFormatTable.map((row) => `${row.format} (${row.extensions.join(", ")})`).join(", ");
}

/** Renders a report in one of the formats, loading its renderer on first use. */
export async function renderReport(report: ImdsReport, format: ReportFormat): Promise<string> {
  return (await reportFormatSpec(format).load())(report);
}
