import type { AnalysisProgress } from "../analyze.js";
import { formatBytes } from "./summary-text.js";

/**
 * A one-line progress display redrawn in place on a terminal. Draws at most every
 * `intervalMs`, so a fast analysis does not spend its time writing to the terminal.
 */
export class ProgressLine {
  private lastDrawMs = 0;
  private readonly startedMs = Date.now();
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly intervalMs = 200,
  ) {}

  update(progress: AnalysisProgress): void {
    const now = Date.now();
    if (now - this.lastDrawMs < this.intervalMs) return;
    this.lastDrawMs = now;
    const elapsedSeconds = Math.max((now - this.startedMs) / 1000, 0.001);
    const of = progress.bytesTotal === null
      ? formatBytes(progress.bytesConsumed)
      : `${formatBytes(progress.bytesConsumed)} of ${formatBytes(progress.bytesTotal)} (${percent(progress.bytesConsumed, progress.bytesTotal)})`;
    const file = progress.sourceCount > 1 ? `[${progress.sourceIndex + 1}/${progress.sourceCount}] ` : "";
    const text =
      `${file}${progress.path}: ${of}, ${Math.round(progress.frames / elapsedSeconds).toLocaleString("en-US")} frames/s, ` +
      `${progress.requests} IMDS requests`;
    this.stream.write(`\r\u001b[2K${text.slice(0, Math.max(20, (this.stream.columns || 100) - 1))}`);
    this.drawn = true;
  }

  /** Removes the line so the summary starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write("\r\u001b[2K");
    this.drawn = false;
  }
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "100%" : `${Math.min(100, Math.floor((part / whole) * 100))}%`;
}
