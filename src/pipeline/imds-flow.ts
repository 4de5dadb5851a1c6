import type { Diagnostics } from "../diagnostics.js";
import { formatCaptureTime } from "../source/frame.js";
import { BoundedBodyCollector, defaultHttpParseLimits, HeaderNameSet, HttpRequestParser, HttpResponseParser } from "../http/index.js";
import { framingHeaderNames } from "../http/body-framing.js";
import type { HeadLossCause, HttpParseErrorReason, HttpRequestHead, HttpResponseHead, IncompleteRequestHead } from "../http/types.js";
import type { IncompleteRequest, ResponseMissingCause } from "../events.js";
import { classifiedHeaderNames, classifyImdsRequest, classifyIncompleteRequest, requestPath } from "../imds/classify.js";
import type { ClassifiedCall } from "../imds/classify.js";
import type { DeliveryContext, FlowConsumer, FlowEndpoints, FlowEndReason, GapCause } from "../reassembly/types.js";
import { Direction } from "../reassembly/types.js";
import { AwaitingCalls, alreadyEmitted } from "./awaiting-calls.js";
import type { EventQueue, PendingCall } from "./event-queue.js";
import { IdentityPath, identityPathOf, instanceIdFromBody, maxIdentityBodyBytes } from "./instance-identity.js";


/**
 * The only headers decoded: what classification reads, and what frames a body. Exported for the
 * parser tests, which run every split of their inputs with these sets too.
 */
export const requestHeadersRead = new HeaderNameSet([...classifiedHeaderNames, ...framingHeaderNames]);
export const responseHeadersRead = new HeaderNameSet(framingHeaderNames);

/**
 * One TCP connection to IMDS: feeds each direction to its HTTP parser, turns request heads into
 * pending calls and pairs response status lines with them, first in first out (HTTP/1.x
 * responses come in request order).
 *
 * A gap whose content is unknown breaks the pairing for good: after it, we cannot know which
 * request a response answers, so remaining and later calls on this connection get status null
 * rather than a status that may belong to another request, with `responseMissing`
 * "unobserved": unknown is not unanswered (a report must not read a hop-limit problem into it).
 *
 * The body of a 200 answer to a GET of the instance id or the identity document is read (up to
 * maxIdentityBodyBytes) to learn the instance id; that call's event waits for its body, so it
 * carries the id it fetched. Every other body is skipped unread.
 *
 * A request seen only in part (its packets cut by the snaplen, bytes of its head missing, the
 * stream ending inside it, a malformed header) still becomes an event, marked `incomplete` with
 * the cause, and is classified only as far as the part seen proves (classifyIncompleteRequest):
 * never v1. Request bytes lost where no request line was visible at all are counted per
 * connection (connectionsWithUnreadRequestBytes), since how many requests they held is unknown.
 */
export class ImdsFlow implements FlowConsumer {
  /**
   * Made on the first bytes of their direction: a connection that never carries data (a SYN
   * flood, a port scan) then costs a small object, not two parsers.
   */
  private requestParserOrNull: HttpRequestParser | null = null;
  private responseParserOrNull: HttpResponseParser | null = null;
  private readonly awaitingResponse = new AwaitingCalls();
  private pairingLost = false;
  private requestCount = 0;
  private context: DeliveryContext | null = null;
  /** Why the gap being handled happened (set around requestParser.gap). */
  private currentGapCause: GapCause = "lost";
  private unreadRequestBytesCounted = false;
  /** Final responses seen, whole or in part: more than the requests seen means some were not. */
  private responsesSeen = 0;

  constructor(
    private readonly endpoints: FlowEndpoints,
    private readonly source: string,
    private readonly queue: EventQueue,
    private readonly diagnostics: Diagnostics,
    /** The length the capture cut frames at, when it cut any (CapturePipeline.snaplenCutAtBytes). */
    private readonly snaplenCutAt: () => number | null = () => null,
    /** The connection ended having made this many events (every call made here becomes one). */
    private readonly onEnded?: (events: number, reason: FlowEndReason) => void,
  ) {}

  private get requestParser(): HttpRequestParser {
    this.requestParserOrNull ??= new HttpRequestParser({
      onRequest: (head) => { this.onRequest(head); },
      onError: (reason) => { this.onParseError(reason, "httpRequestErrors"); },
      onIncompleteRequest: (head, cause) => { this.onIncompleteRequest(head, cause); },
    }, defaultHttpParseLimits, requestHeadersRead);
    return this.requestParserOrNull;
  }

  private get responseParser(): HttpResponseParser {
    this.responseParserOrNull ??= new HttpResponseParser({
      onResponse: (head) => { this.onResponse(head); },
      onError: (reason) => { this.onParseError(reason, "httpResponseErrors"); },
      onIncompleteResponse: () => { this.responsesSeen++; },
    }, defaultHttpParseLimits, responseHeadersRead);
    return this.responseParserOrNull;
  }

  onData(direction: Direction, bytes: Uint8Array, context: DeliveryContext): void {
    this.context = context;
    if (direction === Direction.toServer) this.requestParser.push(bytes);
    else this.responseParser.push(bytes);
  }

  onGap(direction: Direction, lostBytes: number | null, context: DeliveryContext, cause: GapCause = "lost"): void {
    this.context = context;
    let absorbed: boolean;
    if (direction === Direction.toServer) {
      this.currentGapCause = cause;
      const requestsBefore = this.requestCount;
      absorbed = this.requestParser.gap(lostBytes);
      // No request seen in part was reported for this gap (onIncompleteRequest counts one).
      const noVisibleRequest = this.requestCount === requestsBefore;
      if (!absorbed && noVisibleRequest && !this.unreadRequestBytesCounted) {
        // Request bytes went missing where no request line was visible: requests may have been
        // lost whole, and how many is unknown. Said once per connection.
        this.unreadRequestBytesCounted = true;
        this.diagnostics.count("connectionsWithUnreadRequestBytes");
      }
    } else {
      absorbed = this.responseParser.gap(lostBytes);
    }
    // A gap inside a body of known length is skipped exactly and costs nothing; any other gap
    // may have swallowed requests or responses, so pairing on this connection cannot be trusted.
    if (!absorbed) this.losePairing();
  }

  onEnd(reason: FlowEndReason, context: DeliveryContext): void {
    this.context = context;
    const requestParser = this.requestParserOrNull;
    const responseParser = this.responseParserOrNull;
    requestParser?.end();
    responseParser?.end();
    this.diagnostics.count("httpResyncs", (requestParser?.resyncCount ?? 0) + (responseParser?.resyncCount ?? 0));
    // Each final response answered a request: those beyond the requests seen were lost whole
    // (inside a gap, or sent before the capture started).
    if (this.responsesSeen > this.requestCount) this.diagnostics.count("requestsSeenOnlyByResponse", this.responsesSeen - this.requestCount);
    this.awaitingResponse.settleAll(responseMissingAtEnd(reason));
    this.onEnded?.(this.requestCount, reason);
  }

  private onRequest(head: HttpRequestHead): void {
    this.diagnostics.count("requestsParsed");
    const call = this.newCall(head, classifyImdsRequest(head), null, this.pairingLost);
    this.queue.add(call);
    if (!this.pairingLost) {
      this.awaitingResponse.add(call);
      this.responseParser.expectResponseTo(head.method);
    }
  }

  /**
   * A request seen in part: an event marked incomplete, classified only as far as what was seen
   * proves. It gets no status: whatever follows a lost part cannot be paired with confidence.
   */
  private onIncompleteRequest(head: IncompleteRequestHead, cause: HeadLossCause): void {
    this.diagnostics.count("requestsIncomplete");
    this.queue.add(this.newCall(head, classifyIncompleteRequest(head), this.describeIncomplete(head, cause), true));
  }

  /** The next request on this connection, at the frame being delivered. */
  private newCall(
    head: { readonly method: string; readonly target: string; readonly httpVersion: string | null },
    classified: ClassifiedCall,
    incomplete: IncompleteRequest | null,
    settled: boolean,
  ): PendingCall {
    const context = this.context!;
    this.requestCount++;
    return {
      time: formatCaptureTime(context.timestampSeconds, context.timestampNanos, context.timePrecisionDigits),
      timeMs: context.timestampSeconds * 1000 + Math.floor(context.timestampNanos / 1_000_000),
      kind: classified.kind,
      method: head.method,
      path: requestPath(head.target),
      httpVersion: head.httpVersion,
      userAgent: classified.userAgent,
      clientIp: this.endpoints.clientAddress,
      clientPort: this.endpoints.clientPort,
      serverIp: this.endpoints.serverAddress,
      serverPort: this.endpoints.serverPort,
      frame: context.frameNumber,
      source: this.source,
      tokenTtlSeconds: classified.tokenTtlSeconds,
      forwardedFor: classified.forwardedFor,
      requestOnConnection: this.requestCount,
      incomplete,
      status: null,
      // Settled at once: no response will be paired with it (pairing lost, or seen in part).
      responseMissing: settled ? "unobserved" : null,
      settled,
      emitted: false,
    };
  }

  private describeIncomplete(head: IncompleteRequestHead, cause: HeadLossCause): IncompleteRequest {
    const pathComplete = head.targetComplete;
    if (cause === "gap") {
      return this.currentGapCause === "snaplen"
        ? { cause: "snaplen", snaplen: this.snaplenCutAt(), parseError: null, pathComplete }
        : { cause: "gap", snaplen: null, parseError: null, pathComplete };
    }
    if (cause === "end") return { cause: "ended", snaplen: null, parseError: null, pathComplete };
    return { cause: "parse-error", snaplen: null, parseError: cause, pathComplete };
  }

  private onResponse(head: HttpResponseHead): void {
    this.diagnostics.count("responsesParsed");
    this.responsesSeen++;
    if (this.pairingLost) return;
    const call = this.awaitingResponse.take();
    if (call === undefined) {
      this.diagnostics.count("responsesUnpaired");
      return;
    }
    if (call === alreadyEmitted) return; // its event left without a status (response timeout or queue limit)
    if (!call.emitted) call.status = head.statusCode;
    const identityPath = head.statusCode === 200 && call.method === "GET" ? identityPathOf(call.path) : IdentityPath.none;
    if (identityPath === IdentityPath.none) {
      call.settled = true;
      return;
    }
    this.responseParser.captureBody(
      new BoundedBodyCollector(maxIdentityBodyBytes, (body) => {
        const instanceId = body === null ? null : instanceIdFromBody(identityPath, body);
        if (instanceId !== null) this.queue.learnInstanceId(instanceId, this.source);
        call.settled = true;
      }),
    );
  }

  private onParseError(reason: HttpParseErrorReason, counter: "httpRequestErrors" | "httpResponseErrors"): void {
    this.diagnostics.count(counter);
    this.diagnostics.countParseError(counter === "httpRequestErrors" ? "requests" : "responses", reason);
    // A message we could not parse may be a request we did not report, or a response we did not
    // pair: either way later pairs would shift by one.
    this.losePairing();
  }

  private losePairing(): void {
    if (this.pairingLost) return;
    this.pairingLost = true;
    this.awaitingResponse.settleAll("unobserved");
  }
}

/**
 * Why a call still waiting when its connection ended has no status: the connection closed (or
 * went quiet) unanswered, or it was given up by the capture (its end, or the reassembler's
 * limits) while an answer could still have come.
 */
function responseMissingAtEnd(reason: FlowEndReason): ResponseMissingCause {
  switch (reason) {
    case "fin":
    case "rst":
    case "idle":
      return "no-answer";
    case "evicted":
    case "capture-end":
      return "unobserved";
  }
}
