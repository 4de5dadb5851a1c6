/**
 * The library API (package.json "exports": "imds-analyzer"): what the CLI is built from, for
 * programs that analyse captures, build reports or capture live in-process. Everything a caller
 * needs is here; the modules behind it are internal and may move.
 *
 * Importing this module loads the offline analysis and the report code only: live capture (and
 * its native addons) loads on the first call of runLiveCapture, so offline use needs no native
 * code, as with the CLI.
 */
import type { LiveCaptureOptions } from "./live/capture.js";
import type { AnalysisSummary } from "./summary.js";

// Offline analysis of capture files (pcap, pcapng, gzip; "-" is standard input).
export { analyzeCaptures } from "./analyze.js";
export type { AnalysisProgress, AnalysisResult, AnalyzeOptions } from "./analyze.js";
export type { Warning, CounterName } from "./diagnostics.js";

// The event (one NDJSON line per IMDS call) and the summary.
export { eventSchema } from "./events.js";
export type { AttributionInfo, CallKind, ContainerInfo, ContainerRuntime, EcsNames, ImdsEvent, KubernetesNames, ParentProcess, ProcessInfo, ProcessPlacement } from "./events.js";
export { summarySchema } from "./summary.js";
export type { AnalysisSummary, ClientSummary, LiveCaptureSummary, SourceSummary } from "./summary.js";

// Classification of one parsed request, and the endpoints it applies to.
export { classifyImdsRequest } from "./imds/classify.js";
export type { ClassifiedCall } from "./imds/classify.js";
export type { HttpHeader, HttpRequestHead } from "./http/types.js";
export { imdsCaptureFilter, imdsEndpoints } from "./imds/endpoints.js";

// The migration-readiness report: fold events and summaries, render in any format of report/formats.ts.
export {
  ReportBuilder,
  compareVersions,
  defaultMinimumWindowSeconds,
  hostFromPath,
  hostLabel,
  localHost,
  minimumImdsV2Versions,
  parseSdkFromUserAgent,
  readEvents,
  readReportSource,
  renderHtml,
  renderJson,
  renderMarkdown,
  renderReport,
  reportFormats,
  reportSchema,
} from "./report/index.js";
export type {
  CallerReport,
  HostReport,
  ImdsReport,
  ReadEventsOptions,
  ReadEventsResult,
  ReadReportSourceOptions,
  ReadReportSourceResult,
  ReportFormat,
  ReportOptions,
  SdkInfo,
  Verdict,
  V1Reason,
} from "./report/index.js";

// Live capture (root, Linux): the types; the function below loads the live code on first use.
export type { AttributionChoice, LiveCaptureOptions } from "./live/capture.js";

/**
 * Captures IMDS traffic live and attributes every call to its process, until `durationMs` or
 * `signal`; resolves with the summary. Needs root and the native addons (prebuilt in the package,
 * or built at install); their absence is an ImdsAnalyzerError saying what to install.
 */
export async function runLiveCapture(options: LiveCaptureOptions): Promise<AnalysisSummary> {
  const live = await import("./live/capture.js");
  return live.runLiveCapture(options);
}

export { version } from "./version.js";
export * from "./errors.js";
