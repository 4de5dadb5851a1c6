/** The library API: what the CLI uses and what tests and other programs can call directly. */
export { analyzeCaptures } from "./analyze.js";
export type { AnalysisProgress, AnalysisResult, AnalyzeOptions } from "./analyze.js";
export type { AnalysisSummary, ClientSummary, SourceSummary } from "./summary.js";
export { eventSchema } from "./events.js";
export type { CallKind, ImdsEvent } from "./events.js";
export { classifyImdsRequest } from "./imds/classify.js";
export { imdsCaptureFilter, imdsEndpoints } from "./imds/endpoints.js";
export * from "./errors.js";
