import type { Diagnostics } from "../diagnostics.js";
import { formatCaptureTime } from "../source/frame.js";
import { BoundedBodyCollector, defaultHttpParseLimits, HeaderNameSet, HttpRequestParser, HttpResponseParser } from "../http/index.js";
import { framingHeaderNames } from "../http/body-framing.js";
import type { HttpParseErrorReason, HttpRequestHead, HttpResponseHead } from "../http/types.js";
import { classifiedHeaderNames, classifyImdsRequest, requestPath } from "../imds/classify.js";
import type { DeliveryContext, FlowConsumer, FlowEndpoints, FlowEndReason } from "../reassembly/types.js";
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
 * rather than a status that may belong to another request.
 *
 * The body of a 200 answer to a GET of the instance id or the identity document is read (up to
 * maxIdentityBodyBytes) to learn the instance id; that call's event waits for its body, so it
 * carries the id it fetched. Every other body is skipped unread.
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

  constructor(
    private readonly endpoints: FlowEndpoints,
    private readonly source: string,
    private readonly queue: EventQueue,
    private readonly diagnostics: Diagnostics,
  ) {}

  private get requestParser(): HttpRequestParser {
    this.requestParserOrNull ??= new HttpRequestParser({
      onRequest: (head) => { this.onRequest(head); },
      onError: (reason) => { this.onParseError(reason, "httpRequestErrors"); },
    }, defaultHttpParseLimits, requestHeadersRead);
    return this.requestParserOrNull;
  }

  private get responseParser(): HttpResponseParser {
    this.responseParserOrNull ??= new HttpResponseParser({
      onResponse: (head) => { this.onResponse(head); },
      onError: (reason) => { this.onParseError(reason, "httpResponseErrors"); },
    }, defaultHttpParseLimits, responseHeadersRead);
    return this.responseParserOrNull;
  }

  onData(direction: Direction, bytes: Uint8Array, context: DeliveryContext): void {
    this.context = context;
    if (direction === Direction.toServer) this.requestParser.push(bytes);
    else this.responseParser.push(bytes);
  }

  onGap(direction: Direction, lostBytes: number | null, context: DeliveryContext): void {
    this.context = context;
    const absorbed = direction === Direction.toServer
      ? this.requestParser.gap(lostBytes)
      : this.responseParser.gap(lostBytes);
    // A gap inside a body of known length is skipped exactly and costs nothing; any other gap
    // may have swallowed requests or responses, so pairing on this connection cannot be trusted.
    if (!absorbed) this.losePairing();
  }

  onEnd(_reason: FlowEndReason, context: DeliveryContext): void {
    this.context = context;
    const requestParser = this.requestParserOrNull;
    const responseParser = this.responseParserOrNull;
    requestParser?.end();
    responseParser?.end();
    this.diagnostics.count("httpResyncs", (requestParser?.resyncCount ?? 0) + (responseParser?.resyncCount ?? 0));
    this.awaitingResponse.settleAll();
  }

  private onRequest(head: HttpRequestHead): void {
    const context = this.context!;
    this.diagnostics.count("requestsParsed");
    this.requestCount++;
    const classified = classifyImdsRequest(head);
    const call: PendingCall = {
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
      status: null,
      settled: this.pairingLost,
      emitted: false,
    };
    this.queue.add(call);
    if (!this.pairingLost) {
      this.awaitingResponse.add(call);
      this.responseParser.expectResponseTo(head.method);
    }
  }

  private onResponse(head: HttpResponseHead): void {
    this.diagnostics.count("responsesParsed");
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

  private onParseError(_reason: HttpParseErrorReason, counter: "httpRequestErrors" | "httpResponseErrors"): void {
    this.diagnostics.count(counter);
    // A message we could not parse may be a request we did not report, or a response we did not
    // pair: either way later pairs would shift by one.
    this.losePairing();
  }

  private losePairing(): void {
    if (this.pairingLost) return;
    this.pairingLost = true;
    this.awaitingResponse.settleAll();
  }
}
