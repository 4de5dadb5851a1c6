import type { Diagnostics } from "../diagnostics.js";
import { formatCaptureTime } from "../source/frame.js";
import { HttpRequestParser, HttpResponseParser } from "../http/index.js";
import type { HttpParseErrorReason, HttpRequestHead, HttpResponseHead } from "../http/types.js";
import { classifyImdsRequest, requestPath } from "../imds/classify.js";
import type { DeliveryContext, FlowConsumer, FlowEndpoints, FlowEndReason } from "../reassembly/types.js";
import { Direction } from "../reassembly/types.js";
import type { EventQueue, PendingCall } from "./event-queue.js";

/**
 * One TCP connection to IMDS: feeds each direction to its HTTP parser, turns request heads into
 * pending calls and pairs response status lines with them, first in first out (HTTP/1.x
 * responses come in request order).
 *
 * A gap whose content is unknown breaks the pairing for good: after it, we cannot know which
 * request a response answers, so remaining and later calls on this connection get status null
 * rather than a status that may belong to another request.
 */
export class ImdsFlow implements FlowConsumer {
  private readonly requestParser: HttpRequestParser;
  private readonly responseParser: HttpResponseParser;
  private readonly awaitingResponse: PendingCall[] = [];
  private pairingLost = false;
  private requestCount = 0;
  private context: DeliveryContext | null = null;

  constructor(
    private readonly endpoints: FlowEndpoints,
    private readonly source: string,
    private readonly queue: EventQueue,
    private readonly diagnostics: Diagnostics,
  ) {
    this.requestParser = new HttpRequestParser({
      onRequest: (head) => { this.onRequest(head); },
      onError: (reason) => { this.onParseError(reason, "httpRequestErrors"); },
    });
    this.responseParser = new HttpResponseParser({
      onResponse: (head) => { this.onResponse(head); },
      onError: (reason) => { this.onParseError(reason, "httpResponseErrors"); },
    });
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
    this.requestParser.end();
    this.responseParser.end();
    this.diagnostics.count("httpResyncs", this.requestParser.resyncCount + this.responseParser.resyncCount);
    for (const call of this.awaitingResponse) call.settled = true;
    this.awaitingResponse.length = 0;
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
      this.awaitingResponse.push(call);
      this.responseParser.expectResponseTo(head.method);
    }
  }

  private onResponse(head: HttpResponseHead): void {
    this.diagnostics.count("responsesParsed");
    if (this.pairingLost) return;
    const call = this.awaitingResponse.shift();
    if (call === undefined) {
      this.diagnostics.count("responsesUnpaired");
      return;
    }
    if (!call.emitted) call.status = head.statusCode;
    call.settled = true;
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
    for (const call of this.awaitingResponse) call.settled = true;
    this.awaitingResponse.length = 0;
  }
}
