import { stat } from "node:fs/promises";
import { Diagnostics } from "./diagnostics.js";
import type { WarningListener } from "./diagnostics.js";
import { ImdsAnalyzerError } from "./errors.js";
import type { ImdsEvent } from "./events.js";
import { CapturePipeline, defaultPipelineLimits } from "./pipeline/capture-pipeline.js";
import type { PipelineLimits } from "./pipeline/capture-pipeline.js";
import { openCaptureInput } from "./source/capture-input.js";
import { readCapture } from "./source/read-capture.js";
import type { Frame } from "./source/frame.js";
import type { CaptureReadResult } from "./source/types.js";
import { SummaryBuilder } from "./summary.js";
import type { AnalysisSummary, SourceSummary } from "./summary.js";

/** Where a long analysis is, for a progress line. */
export interface AnalysisProgress {
  readonly sourceIndex: number;
  readonly sourceCount: number;
  readonly path: string;
  /** Input bytes consumed of the current source (compressed bytes for .gz). */
  readonly bytesConsumed: number;
  /** Size of the current source, or null when unknown (stdin, a pipe). */
  readonly bytesTotal: number | null;
  /** Frames read in all sources so far. */
  readonly frames: number;
  /** IMDS requests (events) so far. */
  readonly requests: number;
}

export interface AnalyzeOptions {
  /** Receives every event, in capture order per source, sources in the order given. */
  readonly onEvent?: (event: ImdsEvent) => void;
  /**
   * Asked after each batch of input; a promise pauses reading until it settles (a slow events
   * file). A rejected promise (the output failed) stops the analysis with that error.
   */
  readonly backpressure?: () => Promise<void> | undefined;
  readonly onProgress?: (progress: AnalysisProgress) => void;
  /** Hears each kind of warning once, when it first happens. */
  readonly onWarning?: WarningListener;
  /** What `-` reads; process.stdin by default. */
  readonly stdin?: AsyncIterable<Uint8Array>;
  readonly limits?: PipelineLimits;
}

export interface AnalysisResult {
  readonly summary: AnalysisSummary;
  /** True when some source could not be read to its end (see summary.sources[].error). */
  readonly hadErrors: boolean;
}

/**
 * Analyses capture files one after another. Each file gets its own pipeline, so connections in
 * different files are never stitched together (a connection cut by file rotation is picked up
 * mid-stream in the next file). A file that fails keeps the events found before the failure,
 * and the other files are still analysed.
 */
export async function analyzeCaptures(paths: readonly string[], options: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const diagnostics = new Diagnostics();
  if (options.onWarning) diagnostics.onWarning(options.onWarning);
  const summary = new SummaryBuilder();
  let requests = 0;
  let framesBefore = 0;
  let hadErrors = false;

  for (const [index, path] of paths.entries()) {
    const onEvent = (event: ImdsEvent): void => {
      requests++;
      summary.addEvent(event);
      options.onEvent?.(event);
    };
    const pipeline = new CapturePipeline(path, onEvent, diagnostics, options.limits ?? defaultPipelineLimits);
    let bytesConsumed = 0;
    const bytesTotal = path === "-" ? null : await fileSize(path);
    const consumer = {
      onFrame(frame: Frame): void {
        pipeline.onFrame(frame);
      },
      afterBatch: options.backpressure,
    };
    const reportProgress = (): void => {
      options.onProgress?.({
        sourceIndex: index,
        sourceCount: paths.length,
        path,
        bytesConsumed,
        bytesTotal,
        frames: framesBefore + pipeline.frames,
        requests,
      });
    };

    let result: CaptureReadResult | null = null;
    let failure: ImdsAnalyzerError | null = null;
    try {
      const input = openCaptureInput(path, options.stdin);
      result = await readCapture(input, consumer, {
        path,
        onProgress: (consumed) => {
          bytesConsumed = consumed;
          reportProgress();
        },
        warn: (code, message) => { diagnostics.warn(code, message); },
      });
    } catch (error) {
      if (!(error instanceof ImdsAnalyzerError)) throw error;
      failure = error;
      hadErrors = true;
    } finally {
      // Events already complete are still worth having, even when the file failed part way.
      pipeline.finish();
    }
    if (result?.truncated) diagnostics.warn(`truncated:${path}`, result.truncated.message);
    diagnostics.count("bytesRead", result?.bytes ?? 0);
    diagnostics.count("pcapngUnknownBlocksSkipped", result?.unknownBlocksSkipped ?? 0);
    summary.addSource({ ...describeSource(path, pipeline.frames, result, failure), instanceId: pipeline.instanceId });
    framesBefore += pipeline.frames;
    reportProgress();
    // Let the events of this source reach the output before the next one starts.
    await options.backpressure?.();
  }
  return { summary: summary.build(diagnostics), hadErrors };
}

function describeSource(
  path: string,
  frames: number,
  result: CaptureReadResult | null,
  failure: ImdsAnalyzerError | null,
): SourceSummary {
  return {
    path,
    format: result?.format ?? null,
    compressed: result?.compressed ?? false,
    frames,
    bytes: result?.bytes ?? 0,
    linkTypes: result?.linkTypes ?? [],
    truncated: result?.truncated?.message ?? null,
    error: failure ? { code: failure.code, message: failure.message } : null,
  };
}

async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : null;
  } catch {
    return null; // opening it will report the problem with a proper message
  }
}
