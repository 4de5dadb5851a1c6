import type { CounterName, Diagnostics } from "./diagnostics.js";
import type { ImdsEvent, IncompleteCause } from "./events.js";
import type { CaptureFormat } from "./source/types.js";

export const summarySchema = "imds-analyzer/summary@1";

export interface SourceSummary {
  readonly path: string;
  /** null when the file could not be recognised at all. */
  readonly format: CaptureFormat | null;
  readonly compressed: boolean;
  readonly frames: number;
  readonly bytes: number;
  readonly linkTypes: readonly number[];
  /** Warning text when the file ended inside a record. */
  readonly truncated: string | null;
  /** The error that stopped reading this file, if any (events before it were kept). */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The EC2 instance id IMDS gave out in this file, or null (absent in older summaries). */
  readonly instanceId?: string | null;
}

export interface ClientSummary {
  readonly clientIp: string;
  readonly userAgent: string | null;
  v1: number;
  v2: number;
  tokenRequests: number;
  /** Response status counts, by code ("none": no answer came; "unseen": one may have, but could not be observed). */
  readonly statuses: Record<string, number>;
  firstSeen: string;
  lastSeen: string;
}

/** What live capture adds: how healthy the capture was, and how well calls were attributed. */
export interface LiveCaptureSummary {
  readonly device: string;
  readonly linkType: number;
  readonly filter: string;
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly durationSeconds: number;
  /** From pcap_stats: packets that passed the kernel filter, and those dropped. */
  readonly packetsReceived: number;
  readonly packetsDroppedByKernel: number;
  readonly packetsDroppedByInterface: number;
  /** Lost by the capture addon itself (a packet larger than its batch buffer); absent in older summaries. */
  readonly packetsDroppedByAddon?: number;
  /** --write-pcap frames not saved because the disk could not keep up. */
  readonly framesNotSaved: number;
  /** When the host booted (btime in /proc/stat), ISO-8601; null when unreadable; absent in older summaries. */
  readonly bootTime?: string | null;
  /**
   * The capture started within `bootWindowToleranceSeconds` of the boot (the service starts
   * early at boot), so boot-time callers were watched; null when the boot time is unknown.
   */
  readonly windowIncludesBoot?: boolean | null;
  /** Events the events file could not take (disk full, file system gone); absent in older summaries. */
  readonly eventsNotWritten?: number;
  /**
   * Times the capture stopped while running (the interface went down or away) and was reopened,
   * and for how long there was no capture; absent in older summaries.
   */
  readonly interruptions?: { readonly count: number; readonly secondsDown: number; readonly lastError: string | null };
  /**
   * What the capture kept after setup (native dropCapabilities): the capabilities left on every
   * thread (null: nothing was dropped, `problem` says why), threads that still hold more, and
   * why the drop is missing or partial; absent in older summaries.
   */
  readonly capabilities?: { readonly kept: readonly string[] | null; readonly threadsNotDropped: number; readonly problem: string | null };
  readonly attribution: {
    readonly method: "ebpf" | "proc";
    /** Why eBPF is not in use, when it is not. */
    readonly fallbackReason: string | null;
    readonly connections: number;
    readonly attributed: number;
    readonly partial: number;
    readonly failed: number;
    /**
     * Counters of the enrichers that name where callers run, by enricher: for "container-names",
     * lookups, cached, named:<source>, unnamed and problem:<source>:<problem> (a runtime file
     * too large, not a regular file, a symlink, malformed, unreadable or too slow: its names
     * are null). Absent in older summaries.
     */
    readonly enrichers?: Readonly<Record<string, Readonly<Record<string, number>>>>;
    /**
     * Connect records the kernel could not hand over (its ring buffer was full): those
     * connections fell back to /proc, which short-lived callers escape. Absent in older summaries.
     */
    readonly kernelRecordsLost?: number;
  };
  /**
   * Errors that ended the capture early (an internal error: a bug, said in one line) or that
   * happened while stopping it (a file that could not be closed); empty when it ran and stopped
   * cleanly. The CLI prints each and exits 1. Absent in older summaries.
   */
  readonly errors?: readonly string[];
}

export interface IncompleteRequestsSummary {
  /** Requests seen in part (classified or not). */
  readonly total: number;
  /** Of those, the ones neither a token request nor provably v2: not counted as v1 or v2. */
  readonly unclassified: number;
  /** Requests seen in part, by cause (each cause present, zero or not). */
  readonly byCause: Readonly<Record<IncompleteCause, number>>;
  /** Unclassified requests by cause. */
  readonly unclassifiedByCause: Readonly<Record<IncompleteCause, number>>;
  /** The length (bytes, link header included) the capture's snaplen cut frames at; null when none was cut. */
  readonly snaplenBytes: number | null;
  /**
   * Connections to IMDS on which request bytes were lost where no request line was visible:
   * whole requests may be missing there, how many is unknown.
   */
  readonly connectionsWithUnreadRequestBytes: number;
  /**
   * Requests seen only by their response: on a connection, final responses beyond the requests
   * seen (whole or in part) answered requests lost whole, or sent before the capture started.
   * Absent in summaries written before it.
   */
  readonly requestsSeenOnlyByResponse?: number;
}

export interface AnalysisSummary {
  readonly schema: typeof summarySchema;
  readonly sources: readonly SourceSummary[];
  readonly framesRead: number;
  readonly bytesRead: number;
  /**
   * `total` counts every IMDS request seen, `unclassified` among them those seen only in part
   * that could be counted as neither v1 nor v2 (see `incompleteRequests`; absent in older
   * summaries, whose total is v1 + v2 + tokenRequests).
   */
  readonly requests: {
    readonly total: number;
    readonly v1: number;
    readonly v2: number;
    readonly tokenRequests: number;
    readonly unclassified?: number;
  };
  /**
   * Requests whose head was not seen whole (events with `incomplete`): how many, how many of
   * them stayed unclassified, by cause, and the length the snaplen cut frames at. Absent in
   * older summaries.
   */
  readonly incompleteRequests?: IncompleteRequestsSummary;
  /** HTTP messages the parsers dropped, by the parser's reason. Absent in older summaries. */
  readonly httpParseErrors?: {
    readonly requests: Readonly<Record<string, number>>;
    readonly responses: Readonly<Record<string, number>>;
  };
  /** Per (client address, User-Agent), most v1 calls first; requests seen in part are in none. */
  readonly clients: readonly ClientSummary[];
  /** Calls from clients beyond the per-run client limit (counted in totals, not listed). */
  readonly callsFromUntrackedClients: number;
  /** Null for capture files. */
  readonly live: LiveCaptureSummary | null;
  /**
   * The EC2 instance id IMDS gave out (see the event field `instanceId`): null when none was
   * seen, or when the sources of this run name different instances (see `sources[].instanceId`).
   */
  readonly instanceId: string | null;
  readonly diagnostics: {
    readonly counters: Partial<Record<CounterName, number>>;
    readonly warnings: readonly { readonly code: string; readonly message: string; readonly count: number }[];
  };
}

/**
 * How soon after boot a live capture must start for its window to count as including the boot:
 * the service is ordered before cloud-init and the network, but a slow boot, or a restart of
 * the service right after boot, still counts.
 */
export const bootWindowToleranceSeconds = 10 * 60;

/** Distinct (address, User-Agent) pairs kept; a hostile capture cannot grow memory past it. */
const maxTrackedClients = 10_000;

/** Folds events as they are written; the core never keeps events themselves. */
export class SummaryBuilder {
  private readonly sources: SourceSummary[] = [];
  /** By client address, then User-Agent (null: none sent): no key string per event. */
  private readonly clients = new Map<string, Map<string | null, ClientSummary>>();
  private clientCount = 0;
  /** The last client counted: calls come in runs from one client, so most skip the key string. */
  private lastClient: ClientSummary | null = null;
  private callsFromUntrackedClients = 0;
  private v1 = 0;
  private v2 = 0;
  private tokenRequests = 0;
  private unclassified = 0;
  private readonly incompleteByCause: Record<IncompleteCause, number> = { snaplen: 0, gap: 0, ended: 0, "parse-error": 0 };
  private readonly unclassifiedByCause: Record<IncompleteCause, number> = { snaplen: 0, gap: 0, ended: 0, "parse-error": 0 };
  private snaplenBytes: number | null = null;
  private instanceId: string | null = null;
  private instanceIdsDiffer = false;

  addEvent(event: ImdsEvent): void {
    if (event.incomplete !== null) this.addIncomplete(event);
    if (event.kind === "v1") this.v1++;
    else if (event.kind === "v2") this.v2++;
    else if (event.kind === "token-request") this.tokenRequests++;
    else this.unclassified++;
    // A request seen in part is in no client's row: its User-Agent is unknown, not absent.
    if (event.incomplete !== null) return;
    let client = this.lastClient;
    if (client === null || client.clientIp !== event.clientIp || client.userAgent !== event.userAgent) {
      client = this.clientOf(event);
      if (client === null) return;
      this.lastClient = client;
    }
    if (event.kind === "v1") client.v1++;
    else if (event.kind === "v2") client.v2++;
    else client.tokenRequests++;
    const status = event.status !== null ? String(event.status) : event.responseMissing === "unobserved" ? "unseen" : "none";
    client.statuses[status] = (client.statuses[status] ?? 0) + 1;
    client.lastSeen = event.time;
  }

  private addIncomplete(event: ImdsEvent): void {
    const { cause, snaplen } = event.incomplete!;
    this.incompleteByCause[cause]++;
    if (event.kind === "unclassified") this.unclassifiedByCause[cause]++;
    if (snaplen !== null && (this.snaplenBytes === null || snaplen > this.snaplenBytes)) this.snaplenBytes = snaplen;
  }

  /** The client entry of the event's (address, User-Agent), or null beyond the client limit. */
  private clientOf(event: ImdsEvent): ClientSummary | null {
    let byUserAgent = this.clients.get(event.clientIp);
    let client = byUserAgent?.get(event.userAgent);
    if (client === undefined) {
      if (this.clientCount >= maxTrackedClients) {
        this.callsFromUntrackedClients++;
        return null;
      }
      client = {
        clientIp: event.clientIp,
        userAgent: event.userAgent,
        v1: 0,
        v2: 0,
        tokenRequests: 0,
        statuses: {},
        firstSeen: event.time,
        lastSeen: event.time,
      };
      if (byUserAgent === undefined) {
        byUserAgent = new Map();
        this.clients.set(event.clientIp, byUserAgent);
      }
      byUserAgent.set(event.userAgent, client);
      this.clientCount++;
    }
    return client;
  }

  addSource(source: SourceSummary): void {
    this.sources.push(source);
    this.noteInstanceId(source.instanceId ?? null);
  }

  /** An instance id learned by a pipeline (live capture has no sources to carry it). */
  noteInstanceId(instanceId: string | null): void {
    if (instanceId === null) return;
    if (this.instanceId === null) this.instanceId = instanceId;
    else if (instanceId !== this.instanceId) this.instanceIdsDiffer = true;
  }

  build(diagnostics: Diagnostics, live: LiveCaptureSummary | null = null): AnalysisSummary {
    const clients = [...this.clients.values()].flatMap((byUserAgent) => [...byUserAgent.values()]).sort(
      (a, b) => b.v1 - a.v1 || b.v1 + b.v2 + b.tokenRequests - (a.v1 + a.v2 + a.tokenRequests) || a.clientIp.localeCompare(b.clientIp),
    );
    return {
      schema: summarySchema,
      sources: [...this.sources],
      // Counted by the pipelines (every frame, files and live alike), not summed from sources:
      // a live capture has none.
      framesRead: diagnostics.counters.framesRead,
      bytesRead: this.sources.reduce((sum, source) => sum + source.bytes, 0),
      requests: {
        total: this.v1 + this.v2 + this.tokenRequests + this.unclassified,
        v1: this.v1,
        v2: this.v2,
        tokenRequests: this.tokenRequests,
        unclassified: this.unclassified,
      },
      incompleteRequests: {
        total: Object.values(this.incompleteByCause).reduce((sum, count) => sum + count, 0),
        unclassified: this.unclassified,
        byCause: { ...this.incompleteByCause },
        unclassifiedByCause: { ...this.unclassifiedByCause },
        snaplenBytes: this.snaplenBytes,
        connectionsWithUnreadRequestBytes: diagnostics.counters.connectionsWithUnreadRequestBytes,
        requestsSeenOnlyByResponse: diagnostics.counters.requestsSeenOnlyByResponse,
      },
      httpParseErrors: {
        requests: { ...diagnostics.httpParseErrors.requests },
        responses: { ...diagnostics.httpParseErrors.responses },
      },
      clients,
      callsFromUntrackedClients: this.callsFromUntrackedClients,
      live,
      instanceId: this.instanceIdsDiffer ? null : this.instanceId,
      diagnostics: {
        counters: diagnostics.nonZeroCounters(),
        warnings: diagnostics.warnings.map(({ code, message, count }) => ({ code, message, count })),
      },
    };
  }
}
