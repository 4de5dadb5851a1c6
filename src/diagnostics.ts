/**
 * Counters and warnings shared by every stage. Per-frame problems are counted here instead of
 * thrown, so one bad packet never stops an analysis and the summary can say what was not parsed.
 *
 * All counter names exist from the start (a fixed-shape object keeps `count()` fast on the hot
 * path). Append new names; never rename one: they appear in `--summary-json`.
 */
export const counterNames = [
  // source
  "framesRead",
  "bytesRead",
  "pcapngUnknownBlocksSkipped",
  "framesSnaplenCut",
  // decode
  "framesUnknownLinkType",
  "framesNotIp",
  "framesNotTcp",
  "framesNotImds",
  "framesMalformed",
  "framesTruncatedHeaders",
  "ipFragmentsSkipped",
  "imdsSegments",
  // reassembly
  "flowsOpened",
  "flowsClosed",
  "flowsFlushedIdle",
  "flowsEvictedLimit",
  "flowsStartedMidStream",
  "segmentsDuplicate",
  "segmentsOutOfOrder",
  "segmentsOutOfOrderDropped",
  "segmentsAfterClose",
  "gaps",
  "gapBytes",
  // http
  "requestsParsed",
  "responsesParsed",
  "httpRequestErrors",
  "httpResponseErrors",
  "httpResyncs",
  "responsesUnpaired",
  // events
  "requestsWithoutResponse",
  // partial observation (appended later; see ImdsFlow)
  "requestsIncomplete",
  "connectionsWithUnreadRequestBytes",
  "requestsSeenOnlyByResponse",
] as const;
export type CounterName = (typeof counterNames)[number];

export interface Warning {
  /** Stable identifier of the kind of warning, e.g. "unknown-link-type:147". */
  readonly code: string;
  /** The first occurrence's message (names the file, offset or frame). */
  readonly message: string;
  /** How many times it happened. */
  count: number;
}

export type WarningListener = (warning: Warning) => void;

export class Diagnostics {
  readonly counters: Record<CounterName, number>;
  private readonly warningsByCode = new Map<string, Warning>();
  private readonly listeners: WarningListener[] = [];
  /** Cap on distinct warning codes so hostile input cannot grow memory through them. */
  private static readonly maxDistinctWarnings = 200;
  private droppedWarnings = 0;

  constructor() {
    const counters = {} as Record<CounterName, number>;
    for (const name of counterNames) counters[name] = 0;
    this.counters = counters;
  }

  count(name: CounterName, amount = 1): void {
    this.counters[name] += amount;
  }

  /**
   * Records a warning once per `code`; repeats only increase its count, so a million bad frames
   * give one line in the summary, not a million. Listeners hear only the first occurrence.
   */
  warn(code: string, message: string): void {
    const existing = this.warningsByCode.get(code);
    if (existing) {
      existing.count++;
      return;
    }
    if (this.warningsByCode.size >= Diagnostics.maxDistinctWarnings) {
      this.droppedWarnings++;
      return;
    }
    const warning: Warning = { code, message, count: 1 };
    this.warningsByCode.set(code, warning);
    for (const listener of this.listeners) listener(warning);
  }

  onWarning(listener: WarningListener): void {
    this.listeners.push(listener);
  }

  get warnings(): readonly Warning[] {
    return [...this.warningsByCode.values()];
  }

  /** Warnings not recorded because too many distinct kinds were seen. */
  get warningsNotRecorded(): number {
    return this.droppedWarnings;
  }

  /**
   * HTTP messages the parsers dropped, by direction and the parser's reason (bad-request-line,
   * bad-header, head-too-large, ...): the summary's `httpParseErrors`. The reasons are a closed
   * set, so this stays small.
   */
  readonly httpParseErrors: { readonly requests: Record<string, number>; readonly responses: Record<string, number> } = {
    requests: {},
    responses: {},
  };

  countParseError(direction: "requests" | "responses", reason: string): void {
    const byReason = this.httpParseErrors[direction];
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }

  /** Counters that are not zero, in declaration order: what the summary prints. */
  nonZeroCounters(): Partial<Record<CounterName, number>> {
    const result: Partial<Record<CounterName, number>> = {};
    for (const name of counterNames) if (this.counters[name] !== 0) result[name] = this.counters[name];
    return result;
  }
}
