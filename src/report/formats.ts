/** The report formats `--format` accepts (a module of its own, so the CLI can name them cheaply). */
export type ReportFormat = "markdown" | "json" | "html";
export const reportFormats: readonly ReportFormat[] = ["markdown", "json", "html"];
