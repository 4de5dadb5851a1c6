import type { ImdsEvent, IncompleteCause } from "../events.js";
import { incompleteCauses } from "../events.js";
import type { AnalysisSummary } from "../summary.js";
import { truncateText } from "./format.js";

/** Unclassified requests listed per host (the events file has them all). */
export const maxUnclassifiedExamples = 5;

/** One IMDS request the capture saw only in part and could not classify. */
export interface UnclassifiedExample {
  readonly time: string;
  readonly method: string;
  /** As far as it was seen (see `pathComplete`). */
  readonly path: string;
  readonly pathComplete: boolean;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly cause: IncompleteCause;
  /** Live capture: "comm (pid N)" of the process that made it; null offline or when not attributed. */
  readonly process: string | null;
}

/**
 * IMDS requests seen only in part that could be neither v1 nor v2 (events of kind
 * "unclassified", or counted by analysis summaries whose events were not given): any of them
 * may be IMDSv1, so a host with one cannot be READY.
 */
export interface UnclassifiedRequests {
  readonly total: number;
  readonly byCause: Readonly<Record<IncompleteCause, number>>;
  /** The length the capture's snaplen cut frames at, when one did. */
  readonly snaplenBytes: number | null;
  /** The first few, with their flow and (live) process. */
  readonly examples: readonly UnclassifiedExample[];
}

function zeroByCause(): Record<IncompleteCause, number> {
  return { snaplen: 0, gap: 0, ended: 0, "parse-error": 0 };
}

/** Folds unclassified requests of one host from its events and its summaries. */
export class UnclassifiedRequestsAggregate {
  private readonly fromEvents = zeroByCause();
  private readonly fromSummaries = zeroByCause();
  private snaplenBytes: number | null = null;
  private readonly examples: UnclassifiedExample[] = [];

  addEvent(event: ImdsEvent): void {
    const incomplete = event.incomplete;
    // An unclassified event written without `incomplete` (hand-made) still counts, causeless: as a gap.
    const cause = incomplete?.cause ?? "gap";
    this.fromEvents[cause]++;
    this.noteSnaplen(incomplete?.snaplen ?? null);
    if (this.examples.length < maxUnclassifiedExamples) {
      const process = event.process;
      this.examples.push({
        time: event.time,
        method: truncateText(event.method, 32),
        path: truncateText(event.path, 256),
        pathComplete: incomplete?.pathComplete ?? true,
        clientIp: event.clientIp,
        clientPort: event.clientPort,
        cause,
        process: process === null ? null : `${truncateText(process.comm, 64)} (pid ${process.pid})`,
      });
    }
  }

  addSummary(summary: AnalysisSummary): void {
    const incomplete = summary.incompleteRequests;
    if (incomplete === undefined) return;
    // Older or hand-made summaries may lack a cause: the type says what a current one holds.
    const byCause: Readonly<Partial<Record<IncompleteCause, number>>> = incomplete.unclassifiedByCause;
    for (const cause of incompleteCauses) this.fromSummaries[cause] += byCause[cause] ?? 0;
    this.noteSnaplen(incomplete.snaplenBytes);
  }

  absorb(other: UnclassifiedRequestsAggregate): void {
    for (const cause of incompleteCauses) {
      this.fromEvents[cause] += other.fromEvents[cause];
      this.fromSummaries[cause] += other.fromSummaries[cause];
    }
    this.noteSnaplen(other.snaplenBytes);
    for (const example of other.examples) if (this.examples.length < maxUnclassifiedExamples) this.examples.push(example);
  }

  /**
   * Events and summaries of one capture count the same requests: the larger of the two is
   * taken per cause (summaries given without their events still count).
   */
  snapshot(): UnclassifiedRequests {
    const byCause = zeroByCause();
    for (const cause of incompleteCauses) byCause[cause] = Math.max(this.fromEvents[cause], this.fromSummaries[cause]);
    const total = incompleteCauses.reduce((sum, cause) => sum + byCause[cause], 0);
    return { total, byCause, snaplenBytes: this.snaplenBytes, examples: [...this.examples] };
  }

  private noteSnaplen(snaplen: number | null): void {
    if (typeof snaplen === "number" && (this.snaplenBytes === null || snaplen > this.snaplenBytes)) this.snaplenBytes = snaplen;
  }
}

/** The fleet's: sums of the hosts', the largest snaplen, the first examples. */
export function sumUnclassified(all: readonly UnclassifiedRequests[]): UnclassifiedRequests {
  const byCause = zeroByCause();
  let snaplenBytes: number | null = null;
  const examples: UnclassifiedExample[] = [];
  for (const one of all) {
    for (const cause of incompleteCauses) byCause[cause] += one.byCause[cause];
    if (one.snaplenBytes !== null && (snaplenBytes === null || one.snaplenBytes > snaplenBytes)) snaplenBytes = one.snaplenBytes;
    for (const example of one.examples) if (examples.length < maxUnclassifiedExamples) examples.push(example);
  }
  return { total: incompleteCauses.reduce((sum, cause) => sum + byCause[cause], 0), byCause, snaplenBytes, examples };
}

/** Why requests could not be classified, in words, with how to capture them whole. */
export function describeUnclassified(unclassified: UnclassifiedRequests): string {
  const parts = incompleteCauses
    .filter((cause) => unclassified.byCause[cause] > 0)
    .map((cause) => `${unclassified.byCause[cause]} ${causeWords(cause, unclassified.snaplenBytes)}`);
  return parts.join("; ");
}

function causeWords(cause: IncompleteCause, snaplenBytes: number | null): string {
  switch (cause) {
    case "snaplen":
      return `because packets were cut at ${snaplenBytes === null ? "the snaplen" : `${snaplenBytes} bytes`} by the capture's snaplen (recapture without a size limit: tcpdump -s 0)`;
    case "gap":
      return "because bytes of their heads were not captured";
    case "ended":
      return "because the connection or capture ended inside them";
    case "parse-error":
      return "because they were malformed after the request line";
  }
}
