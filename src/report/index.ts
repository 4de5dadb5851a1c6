/**
 * The migration-readiness report: fold IMDS events (and analysis summaries) from one host or a
 * fleet into a verdict, and render it in any format of the table in formats.ts.
 */
export { ReportBuilder, defaultReportLimits } from "./aggregate.js";
export type { ReportOptions } from "./aggregate.js";
export { hostFromPath, hostLabel, hostOfEvent, instanceIdOfEvent, instanceIdOfHost, localHost } from "./host-identity.js";
export { readEvents, defaultMaxLineBytes } from "./ndjson-reader.js";
export type { ReadEventsOptions, ReadEventsResult } from "./ndjson-reader.js";
export { readReportSource, openReportInput, decompressIfGzip } from "./report-input.js";
export type { ReadReportSourceOptions, ReadReportSourceResult } from "./report-input.js";
export { renderJson } from "./render-json.js";
export { renderMarkdown } from "./render-markdown.js";
export type { MarkdownOptions } from "./render-markdown.js";
export { renderHtml } from "./render-html.js";
export { renderCsv, csvColumns } from "./render-csv.js";
export type { HtmlOptions } from "./render-html.js";
export { parseSdkFromUserAgent, minimumImdsV2Versions, cloudInitMinimumImdsV2Version } from "./user-agent.js";
export type { SdkInfo, ClientKind } from "./user-agent.js";
export { compareVersions } from "./version-compare.js";
export { buildFixList, fixIdOf } from "./fixes.js";
export { programOfCaller } from "./program-identity.js";
export { normalizedCommand, withoutNoise } from "./command-line-noise.js";
export { workloadOfPod } from "./container-names.js";
export { defaultMinimumWindowSeconds } from "./verdict.js";
export { reportSchema } from "./types.js";
export type * from "./types.js";

export type { ReportFormat, ReportFormatSpec, ReportRenderer } from "./formats.js";
export { reportFormats, reportFormatTable, reportFormatOfPath, reportFormatsHelp, defaultReportFormat, renderReport } from "./formats.js";
