/**
 * The instance id is learned from IMDS's own answers: only a 200 to a GET of the instance id or
 * the identity document is read, up to a small limit, and nothing but the id ever leaves.
 */
import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import type { ImdsEvent } from "../../src/events.js";
import { isInstanceId } from "../../src/events.js";
import { EventQueue } from "../../src/pipeline/event-queue.js";
import { ImdsFlow } from "../../src/pipeline/imds-flow.js";
import { IdentityPath, identityPathOf, instanceIdFromBody, maxIdentityBodyBytes } from "../../src/pipeline/instance-identity.js";
import type { DeliveryContext, FlowEndpoints } from "../../src/reassembly/types.js";
import { SummaryBuilder } from "../../src/summary.js";
import type { SourceSummary } from "../../src/summary.js";
import { Direction } from "../../src/reassembly/types.js";

const instanceId = "i-0123456789abcdef0";
const accountId = "123456789012";
const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/** An identity document as IMDS serves it (pretty-printed JSON with the account id). */
const identityDocument = JSON.stringify(
  {
    accountId,
    architecture: "x86_64",
    availabilityZone: "us-east-1a",
    imageId: "ami-0abcdef1234567890",
    instanceId,
    instanceType: "t3.micro",
    pendingTime: "2025-03-01T00:00:00Z",
    privateIp: "10.0.0.10",
    region: "us-east-1",
    version: "2017-09-30",
  },
  null,
  2,
);

const encode = (text: string): Uint8Array => Buffer.from(text, "utf8");

describe("identityPathOf", () => {
  it("matches the two identity paths exactly (and with a trailing slash)", () => {
    expect(identityPathOf("/latest/meta-data/instance-id")).toBe(IdentityPath.instanceId);
    expect(identityPathOf("/latest/meta-data/instance-id/")).toBe(IdentityPath.instanceId);
    expect(identityPathOf("/latest/dynamic/instance-identity/document")).toBe(IdentityPath.identityDocument);
    expect(identityPathOf("/latest/dynamic/instance-identity/document/")).toBe(IdentityPath.identityDocument);
    for (const other of [
      "/latest/meta-data/instance-id?x=1",
      "/latest/meta-data/instance-type",
      "/latest/meta-data/iam/security-credentials/role",
      "/latest/dynamic/instance-identity/signature",
      "/latest/user-data",
      "/2021-07-15/meta-data/instance-id",
      "/LATEST/meta-data/instance-id",
      "constructor",
      "__proto__",
    ]) {
      expect(identityPathOf(other), other).toBe(IdentityPath.none);
    }
  });
});

describe("instanceIdFromBody", () => {
  it("reads the instance id body strictly", () => {
    expect(instanceIdFromBody(IdentityPath.instanceId, encode(instanceId))).toBe(instanceId);
    expect(instanceIdFromBody(IdentityPath.instanceId, encode("i-0123abcd"))).toBe("i-0123abcd");
    expect(instanceIdFromBody(IdentityPath.instanceId, encode(`${instanceId}\n`))).toBe(instanceId);
    for (const bad of ["", "i-0123", "i-0123456789ABCDEF0", "i-0123456789abcdef01", "i-0123456789abcdeg0", `x${instanceId}`, `${instanceId} extra`, "i-0123abcd\u0000", `"${instanceId}"`]) {
      expect(instanceIdFromBody(IdentityPath.instanceId, encode(bad)), bad).toBeNull();
    }
  });

  it("reads only the instanceId field of the identity document", () => {
    expect(instanceIdFromBody(IdentityPath.identityDocument, encode(identityDocument))).toBe(instanceId);
    // The document body is never taken for an instance id, nor an id for a document.
    expect(instanceIdFromBody(IdentityPath.instanceId, encode(identityDocument))).toBeNull();
    expect(instanceIdFromBody(IdentityPath.identityDocument, encode(instanceId))).toBeNull();
    expect(instanceIdFromBody(IdentityPath.none, encode(instanceId))).toBeNull();
  });

  it("never throws on hostile JSON, and accepts nothing but a valid own instanceId string", () => {
    const hostile = [
      "",
      "{",
      "null",
      "[]",
      `["${instanceId}"]`,
      `"${instanceId}"`,
      "{}",
      `{"instanceId": 12}`,
      `{"instanceId": ["${instanceId}"]}`,
      `{"instanceId": {"toString": "${instanceId}"}}`,
      `{"instanceId": "${instanceId.toUpperCase()}"}`,
      `{"instanceId": "${instanceId} "}`,
      `{"__proto__": {"instanceId": "${instanceId}"}}`,
      `{"constructor": {"prototype": {"instanceId": "${instanceId}"}}}`,
      "[".repeat(4000),
      `${"[".repeat(2000)}${"]".repeat(2000)}`,
      "\u0000\uffff\ud800",
      `{"instanceId": "${instanceId}"`,
    ];
    for (const text of hostile) {
      expect(() => instanceIdFromBody(IdentityPath.identityDocument, encode(text)), text.slice(0, 40)).not.toThrow();
      expect(instanceIdFromBody(IdentityPath.identityDocument, encode(text)), text.slice(0, 40)).toBeNull();
    }
    // Invalid UTF-8 is replaced, not thrown; the last duplicate key wins, as in JSON.parse.
    expect(instanceIdFromBody(IdentityPath.identityDocument, Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]))).toBeNull();
    expect(instanceIdFromBody(IdentityPath.identityDocument, encode(`{"instanceId":"i-00000000","instanceId":"${instanceId}"}`))).toBe(instanceId);
    // Nothing over the limit is parsed.
    const padded = `{"instanceId":"${instanceId}"${" ".repeat(maxIdentityBodyBytes)}}`;
    expect(instanceIdFromBody(IdentityPath.identityDocument, encode(padded))).toBeNull();
    // The prototype was not touched.
    expect(({} as { instanceId?: unknown }).instanceId).toBeUndefined();
  });

  it("isInstanceId is strict", () => {
    expect([instanceId, "i-0123abcd", "i-0123abc", "i-0123456789abcdef", 42, null, undefined].map(isInstanceId)).toEqual([
      true, true, false, false, false, false, false,
    ]);
  });
});

const endpoints: FlowEndpoints = { ipVersion: 4, clientAddress: "10.0.0.10", clientPort: 40000, serverAddress: "169.254.169.254", serverPort: 80 };

/** One connection fed by hand: requests and responses as text, each push one frame later. */
class FlowHarness {
  readonly events: ImdsEvent[] = [];
  readonly diagnostics = new Diagnostics();
  readonly queue = new EventQueue((event) => this.events.push(event), this.diagnostics);
  private frame = 0;
  private flow: ImdsFlow;

  constructor(source = "test.pcap") {
    this.flow = new ImdsFlow(endpoints, source, this.queue, this.diagnostics);
  }

  /** A second connection on the same queue (same source). */
  newConnection(source = "test.pcap"): void {
    this.flow = new ImdsFlow(endpoints, source, this.queue, this.diagnostics);
  }

  private context(): DeliveryContext {
    this.frame++;
    return { frameNumber: this.frame, timestampSeconds: 1_740_787_200 + this.frame, timestampNanos: 0, timePrecisionDigits: 6 };
  }

  request(text: string): this {
    this.flow.onData(Direction.toServer, encode(text), this.context());
    this.queue.release(Number.NEGATIVE_INFINITY);
    return this;
  }

  response(text: string | Uint8Array): this {
    this.flow.onData(Direction.toClient, typeof text === "string" ? encode(text) : text, this.context());
    this.queue.release(Number.NEGATIVE_INFINITY);
    return this;
  }

  gap(direction: Direction, lostBytes: number | null): this {
    this.flow.onGap(direction, lostBytes, this.context());
    return this;
  }

  end(): this {
    this.flow.onEnd("fin", this.context());
    this.queue.drain();
    return this;
  }

  ids(): (string | null)[] {
    return this.events.map((event) => event.instanceId);
  }
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: test\r\n\r\n`;
const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe("ImdsFlow learns the instance id", () => {
  it("from the instance-id answer: that event and later ones carry it, earlier ones do not", () => {
    const harness = new FlowHarness()
      .request(get("/latest/meta-data/ami-id"))
      .response(ok("ami-0abcdef1234567890"))
      .request(get("/latest/meta-data/instance-id"))
      .response(ok(instanceId))
      .request(get("/latest/meta-data/local-ipv4"))
      .response(ok("10.0.0.10"))
      .end();
    expect(harness.ids()).toEqual([null, instanceId, instanceId]);
    expect(harness.queue.instanceId).toBe(instanceId);
  });

  it("from the identity document, split byte by byte across pushes, without keeping anything else", () => {
    const harness = new FlowHarness().request(get("/latest/dynamic/instance-identity/document"));
    for (const byte of encode(ok(identityDocument))) harness.response(Uint8Array.of(byte));
    harness.request(get("/latest/meta-data/iam/security-credentials/role"));
    harness.response(ok(`{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"${secretKey}","Token":"t"}`));
    harness.end();
    expect(harness.ids()).toEqual([instanceId, instanceId]);
    const output = JSON.stringify(harness.events) + JSON.stringify(harness.diagnostics.warnings);
    expect(output).not.toContain(accountId);
    expect(output).not.toContain(secretKey);
    expect(output).not.toContain("us-east-1a");
  });

  it("the identity call's event waits for its body even when the body comes frames later", () => {
    const harness = new FlowHarness()
      .request(get("/latest/meta-data/instance-id"))
      .response(`HTTP/1.1 200 OK\r\nContent-Length: ${instanceId.length}\r\n\r\n`);
    expect(harness.events).toHaveLength(0);
    harness.response(instanceId.slice(0, 5)).response(instanceId.slice(5));
    expect(harness.ids()).toEqual([instanceId]);
    expect(harness.events[0]!.status).toBe(200);
  });

  it("from a chunked answer on a keep-alive connection", () => {
    const harness = new FlowHarness()
      .request(get("/latest/meta-data/instance-id") + get("/latest/meta-data/ami-id"))
      .response(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ni-01\r\nf\r\n23456789abcdef0\r\n0\r\n\r\n${ok("ami-1")}`)
      .end();
    expect(harness.ids()).toEqual([instanceId, instanceId]);
    expect(harness.events.map((event) => event.status)).toEqual([200, 200]);
  });

  it("not from a gap inside the body (the event still leaves, status kept)", () => {
    const harness = new FlowHarness()
      .request(get("/latest/meta-data/instance-id"))
      .response(`HTTP/1.1 200 OK\r\nContent-Length: ${instanceId.length}\r\n\r\ni-0123`)
      .gap(Direction.toClient, 4)
      .response("89abcdef0")
      .request(get("/latest/meta-data/ami-id"))
      .response(ok("ami-1"))
      .end();
    expect(harness.ids()).toEqual([null, null]);
    expect(harness.events.map((event) => event.status)).toEqual([200, 200]);
  });

  it("not from an answer that is too long, not 200, to another path or method, or malformed", () => {
    const harness = new FlowHarness()
      .request(get("/latest/meta-data/instance-id"))
      .response(ok(`${instanceId}${" ".repeat(maxIdentityBodyBytes)}`))
      .request(get("/latest/meta-data/instance-id"))
      .response(`HTTP/1.1 401 Unauthorized\r\nContent-Length: ${instanceId.length}\r\n\r\n${instanceId}`)
      .request(get("/latest/meta-data/instance-type"))
      .response(ok(instanceId))
      .request(get("/latest/meta-data/instance-id?fresh=1"))
      .response(ok(instanceId))
      .request(`HEAD /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n`)
      .response(`HTTP/1.1 200 OK\r\nContent-Length: ${instanceId.length}\r\n\r\n`)
      .request(get("/latest/dynamic/instance-identity/document"))
      .response(ok(`{"instanceId": "${instanceId}", `))
      .request(get("/latest/meta-data/instance-id"))
      .response(ok("i-nothex0000"))
      .end();
    expect(harness.ids()).toEqual([null, null, null, null, null, null, null]);
    expect(harness.events.map((event) => event.status)).toEqual([200, 401, 200, 200, 200, 200, 200]);
  });

  it("an unanswered identity call leaves at the end of its connection, without an id", () => {
    const harness = new FlowHarness().request(get("/latest/meta-data/instance-id")).end();
    expect(harness.ids()).toEqual([null]);
    expect(harness.events[0]!.status).toBeNull();
  });

  it("keeps the first id when a capture names two instances, and warns once", () => {
    const other = "i-00000000000000001";
    const harness = new FlowHarness("mixed.pcap")
      .request(get("/latest/meta-data/instance-id"))
      .response(ok(instanceId));
    harness.newConnection("mixed.pcap");
    harness.request(get("/latest/meta-data/instance-id")).response(ok(other));
    harness.newConnection("mixed.pcap");
    harness.request(get("/latest/meta-data/instance-id")).response(ok(other)).end();
    expect(harness.ids()).toEqual([instanceId, instanceId, instanceId]);
    expect(harness.diagnostics.warnings.map((warning) => [warning.code, warning.count])).toEqual([["instance-id-conflict:mixed.pcap", 2]]);
    expect(harness.diagnostics.warnings[0]!.message).toContain(other);
  });
});

describe("SummaryBuilder instance id", () => {
  const source = (path: string, id: string | null): SourceSummary => ({
    path, format: "pcap", compressed: false, frames: 1, bytes: 1, linkTypes: [1], truncated: null, error: null, instanceId: id,
  });

  it("is the id the sources agree on, null when none was seen or they name different instances", () => {
    const agreeing = new SummaryBuilder();
    agreeing.addSource(source("a.pcap", instanceId));
    agreeing.addSource(source("b.pcap", null));
    agreeing.addSource(source("c.pcap", instanceId));
    expect(agreeing.build(new Diagnostics()).instanceId).toBe(instanceId);
    const differing = new SummaryBuilder();
    differing.addSource(source("a.pcap", instanceId));
    differing.addSource(source("b.pcap", "i-00000000000000001"));
    const built = differing.build(new Diagnostics());
    expect(built.instanceId).toBeNull();
    expect(built.sources.map((entry) => entry.instanceId)).toEqual([instanceId, "i-00000000000000001"]);
    const live = new SummaryBuilder();
    live.noteInstanceId(null);
    expect(live.build(new Diagnostics()).instanceId).toBeNull();
    live.noteInstanceId(instanceId);
    expect(live.build(new Diagnostics()).instanceId).toBe(instanceId);
  });
});
