/**
 * ImdsFlow and requests seen only in part: each becomes an event marked `incomplete` with its
 * cause, classified only as far as the part seen proves (never v1); request bytes lost where no
 * request line was visible are counted per connection; parse errors are counted by reason.
 * Also why an event has no status (`responseMissing`): unanswered, or not observable.
 */
import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import type { ImdsEvent } from "../../src/events.js";
import { EventQueue } from "../../src/pipeline/event-queue.js";
import { ImdsFlow } from "../../src/pipeline/imds-flow.js";
import type { DeliveryContext, FlowEndpoints, FlowEndReason, GapCause } from "../../src/reassembly/types.js";
import { Direction } from "../../src/reassembly/types.js";

const endpoints: FlowEndpoints = { ipVersion: 4, clientAddress: "10.0.0.10", clientPort: 40000, serverAddress: "169.254.169.254", serverPort: 80 };

class Connection {
  readonly events: ImdsEvent[] = [];
  readonly diagnostics = new Diagnostics();
  private readonly queue = new EventQueue((event) => this.events.push(event), this.diagnostics);
  private flow = this.newFlow();
  private frame = 0;

  constructor(private readonly snaplen: number | null = 96) {}

  private newFlow(): ImdsFlow {
    return new ImdsFlow(endpoints, "cut.pcap", this.queue, this.diagnostics, () => this.snaplen);
  }

  private context(): DeliveryContext {
    this.frame++;
    return { frameNumber: this.frame, timestampSeconds: 1_764_000_000, timestampNanos: this.frame * 1000, timePrecisionDigits: 6 };
  }

  request(text: string): this {
    this.flow.onData(Direction.toServer, new Uint8Array(Buffer.from(text, "latin1")), this.context());
    return this;
  }

  response(text: string): this {
    this.flow.onData(Direction.toClient, new Uint8Array(Buffer.from(text, "latin1")), this.context());
    return this;
  }

  gap(direction: Direction, lostBytes: number, cause: GapCause): this {
    this.flow.onGap(direction, lostBytes, this.context(), cause);
    return this;
  }

  reconnect(): this {
    this.flow.onEnd("fin", this.context());
    this.flow = this.newFlow();
    return this;
  }

  end(reason: FlowEndReason = "fin"): ImdsEvent[] {
    this.flow.onEnd(reason, this.context());
    this.queue.drain();
    return this.events;
  }

  /** Capture time moves on by MS with the connection still open (the response timeout is 10 s). */
  after(ms: number): ImdsEvent[] {
    this.queue.release(1_764_000_000 * 1000 + ms);
    return this.events;
  }
}

const pick = (event: ImdsEvent): unknown[] => [event.kind, event.method, event.path, event.httpVersion, event.status, event.incomplete];

describe("requests seen in part become incomplete events", () => {
  it("a request line cut by the snaplen: unclassified, never v1, with where the packets were cut", () => {
    const events = new Connection(96)
      .request("GET /latest/meta-data/instance")
      .gap(Direction.toServer, 60, "snaplen")
      .response("HTTP/1.1 200 OK\r\nContent-Len")
      .gap(Direction.toClient, 80, "snaplen")
      .end();
    expect(events.map(pick)).toEqual([
      ["unclassified", "GET", "/latest/meta-data/instance", null, null, { cause: "snaplen", snaplen: 96, parseError: null, pathComplete: false }],
    ]);
    expect([events[0]!.userAgent, events[0]!.tokenTtlSeconds, events[0]!.forwardedFor, events[0]!.frame]).toEqual([null, null, false, 2]);
  });

  it("a token PUT is known by its request line alone; what its headers held is not made up", () => {
    const events = new Connection(96).request("PUT /latest/api/token HTTP/1.1").gap(Direction.toServer, 50, "snaplen").end();
    expect(events.map(pick)).toEqual([
      ["token-request", "PUT", "/latest/api/token", "1.1", null, { cause: "snaplen", snaplen: 96, parseError: null, pathComplete: true }],
    ]);
    expect([events[0]!.userAgent, events[0]!.tokenTtlSeconds]).toEqual([null, null]);
  });

  it("a PUT whose target was cut is not taken for a token request", () => {
    const events = new Connection(96).request("PUT /latest/api/token").gap(Direction.toServer, 50, "snaplen").end();
    expect(events.map((event) => event.kind)).toEqual(["unclassified"]);
  });

  it("a whole token header line before a lost packet proves v2; without it, unclassified", () => {
    const events = new Connection()
      .request("GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: ua/1\r\nX-aws-ec2-metadata-token: AQAE\r\nAcc")
      .gap(Direction.toServer, 30, "lost")
      .reconnect()
      .request("GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: ua/1\r\nX-aws-ec2-metadata-to")
      .gap(Direction.toServer, 30, "lost")
      .end();
    expect(events.map((event) => [event.kind, event.userAgent, event.incomplete?.cause])).toEqual([
      ["v2", "ua/1", "gap"],
      ["unclassified", "ua/1", "gap"],
    ]);
  });

  it("a connection that ends inside a head: cause ended", () => {
    const events = new Connection().request("GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n").end();
    expect(events.map((event) => [event.kind, event.incomplete?.cause])).toEqual([["unclassified", "ended"]]);
  });

  it("a head malformed after its request line: cause parse-error with the reason, counted by reason", () => {
    const connection = new Connection().request("GET /latest/meta-data/ HTTP/1.1\r\nBad Header: x\r\n\r\nGET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
    const events = connection.end();
    expect(events.map((event) => [event.kind, event.path, event.incomplete])).toEqual([
      ["unclassified", "/latest/meta-data/", { cause: "parse-error", snaplen: null, parseError: "bad-header", pathComplete: true }],
      ["v1", "/latest/meta-data/ami-id", null],
    ]);
    expect(connection.diagnostics.httpParseErrors).toEqual({ requests: { "bad-header": 1 }, responses: {} });
    expect(connection.diagnostics.counters.requestsIncomplete).toBe(1);
  });

  it("request bytes lost where no request line was visible: counted once per connection, no event", () => {
    const connection = new Connection()
      .gap(Direction.toServer, 120, "lost")
      .request("ody of something\r\n")
      .gap(Direction.toServer, 120, "lost")
      .reconnect()
      .request("GET /latest/meta-data/ HTTP/1.1\r\n\r\n");
    const events = connection.end();
    expect(events.map((event) => [event.kind, event.incomplete])).toEqual([["v1", null]]);
    expect(connection.diagnostics.counters.connectionsWithUnreadRequestBytes).toBe(1);
  });

  it("whole requests stay whole: incomplete is null and pairing works", () => {
    const events = new Connection()
      .request("PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")
      .response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nAQ")
      .end();
    expect(events.map(pick)).toEqual([["token-request", "PUT", "/latest/api/token", "1.1", 200, null]]);
  });

  it("cut at every byte, a request is never v1, and is a token request or v2 exactly when the part seen proves it", () => {
    const heads = [
      "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
      "GET /latest/meta-data/ HTTP/1.1\r\nUser-Agent: ua\r\nX-aws-ec2-metadata-token: AQAE\r\nAccept: */*\r\n\r\n",
      "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
    ];
    for (const head of heads) {
      const tokenLineEnd = head.indexOf("\r\n", head.indexOf("X-aws-ec2-metadata-token: ")) + 2;
      for (let cut = 1; cut < head.length; cut++) {
        const seen = head.slice(0, cut);
        for (const cause of ["snaplen", "lost"] as const) {
          const events = new Connection(96).request(seen).gap(Direction.toServer, head.length - cut, cause).end();
          const kinds = events.map((event) => event.kind);
          const where = `${JSON.stringify(seen)} (${cause})`;
          expect(kinds, where).not.toContain("v1");
          if (seen.startsWith("PUT /latest/api/token ")) expect(kinds, where).toEqual(["token-request"]);
          else if (head.includes("X-aws-ec2-metadata-token: ") && cut >= tokenLineEnd) expect(kinds, where).toEqual(["v2"]);
          else if (/^[A-Z]+ /.test(seen)) expect(kinds, where).toEqual(["unclassified"]);
          else expect(kinds, where).toEqual([]);
          for (const event of events) expect(event.incomplete?.cause, where).toBe(cause === "snaplen" ? "snaplen" : "gap");
        }
      }
    }
  });

  it("responses beyond the requests seen count requests seen only by their response, cut responses too, interim 1xx not", () => {
    // Two pipelined requests in one segment cut after the first one's line: the second is lost whole.
    const connection = new Connection(96)
      .request("GET /latest/meta-data/ami-id HTTP/1.1")
      .gap(Direction.toServer, 140, "snaplen")
      .response("HTTP/1.1 100 Continue\r\nX-A")
      .gap(Direction.toClient, 20, "snaplen")
      .response("HTTP/1.1 200 OK\r\nContent-Le")
      .gap(Direction.toClient, 60, "snaplen")
      .response("HTTP/1.1 200 OK\r\nContent-Le")
      .gap(Direction.toClient, 60, "snaplen");
    const events = connection.end();
    expect(events.map((event) => event.kind)).toEqual(["unclassified"]);
    expect(connection.diagnostics.counters.requestsSeenOnlyByResponse).toBe(1);
    // As many responses as requests: nothing is counted.
    const whole = new Connection()
      .request("GET /a HTTP/1.1\r\n\r\n")
      .response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    whole.end();
    expect(whole.diagnostics.counters.requestsSeenOnlyByResponse).toBe(0);
  });
});

describe("why an event has no status: no answer came, or none could be observed", () => {
  const token = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n";
  const get = "GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n";
  const ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const outcome = (event: ImdsEvent): unknown[] => [event.kind, event.status, event.responseMissing];

  it.each(["fin", "rst", "idle"] as const)("a connection that ended (%s) with its token PUT unanswered: no-answer (what a hop limit of 1 looks like)", (reason) => {
    expect(new Connection(null).request(token).end(reason).map(outcome)).toEqual([["token-request", null, "no-answer"]]);
  });

  it("no answer within the response timeout: timeout", () => {
    const connection = new Connection(null).request(token);
    expect(connection.after(9_000)).toEqual([]);
    expect(connection.after(10_001).map(outcome)).toEqual([["token-request", null, "timeout"]]);
  });

  it("after response bytes were lost, the waiting call and every later one: unobserved, never no-answer", () => {
    const events = new Connection(null)
      .request(get).response(ok)
      .request(token)
      .gap(Direction.toClient, 120, "lost")
      .request(token)
      .end("fin");
    expect(events.map(outcome)).toEqual([["v1", 200, null], ["token-request", null, "unobserved"], ["token-request", null, "unobserved"]]);
  });

  it.each(["capture-end", "evicted"] as const)("the capture gave the connection up (%s) while a call waited: unobserved", (reason) => {
    expect(new Connection(null).request(token).end(reason).map(outcome)).toEqual([["token-request", null, "unobserved"]]);
  });

  it("a request seen only in part: unobserved, whatever follows", () => {
    const events = new Connection(96).request("PUT /latest/api/token HTTP/1.1").gap(Direction.toServer, 50, "snaplen").response(ok).end("fin");
    expect(events.map(outcome)).toEqual([["token-request", null, "unobserved"]]);
  });

  it("an answered call has no responseMissing", () => {
    expect(new Connection(null).request(token).response(ok).end("fin").map(outcome)).toEqual([["token-request", 200, null]]);
  });
});
