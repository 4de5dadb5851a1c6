import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../src/analyze.js";
import type { ImdsEvent } from "../src/events.js";
import type { CaptureFrame } from "../src/wire-format/pcap-file.mjs";
import { writePcap } from "../src/wire-format/pcap-file.mjs";
import { writePcapng } from "../src/wire-format/pcapng-file.mjs";
import { http, interleave, TcpConversation } from "./helpers/conversation.js";
import { makeTempDir } from "./helpers/temp-dir.js";

const directory = makeTempDir("imds-analyze-");
let fileCounter = 0;

function captureFile(bytes: Uint8Array, extension = "pcap"): string {
  const path = join(directory, `capture-${++fileCounter}.${extension}`);
  writeFileSync(path, bytes);
  return path;
}

async function analyze(paths: string[]) {
  const events: ImdsEvent[] = [];
  const result = await analyzeCaptures(paths, { onEvent: (event) => events.push(event) });
  return { events, ...result };
}

function brief(event: ImdsEvent) {
  return [event.kind, event.method, event.path, event.status, event.frame] as const;
}

describe("analyzeCaptures end to end on crafted captures", () => {
  it("classifies a token PUT, a v2 GET and a v1 GET on one keep-alive connection", async () => {
    const conversation = new TcpConversation()
      .handshake()
      .send(http.putToken("aws-cli/1.45.11"))
      .reply(http.response(200, "AQAEAFAKETOKEN=="))
      .send(http.getV2("/latest/meta-data/iam/security-credentials/", "aws-cli/1.45.11"))
      .reply(http.response(200, "role"))
      .send(http.getV1("/latest/meta-data/instance-id", "aws-cli/1.45.11"))
      .reply(http.response(401, ""))
      .close();
    const { events, summary, hadErrors } = await analyze([captureFile(writePcap(conversation.frames))]);
    expect(hadErrors).toBe(false);
    expect(events.map(brief)).toEqual([
      ["token-request", "PUT", "/latest/api/token", 200, 4],
      ["v2", "GET", "/latest/meta-data/iam/security-credentials/", 200, 6],
      ["v1", "GET", "/latest/meta-data/instance-id", 401, 8],
    ]);
    expect(events[0]).toMatchObject({
      schema: "imds-analyzer/event@1",
      time: "2026-01-02T03:04:05.003000Z",
      httpVersion: "1.1",
      userAgent: "aws-cli/1.45.11",
      clientIp: "10.0.0.5",
      clientPort: 40000,
      serverIp: "169.254.169.254",
      serverPort: 80,
      process: null,
      tokenTtlSeconds: 21600,
      requestOnConnection: 1,
    });
    expect(events[2]!.requestOnConnection).toBe(3);
    expect(summary.requests).toEqual({ total: 3, v1: 1, v2: 1, tokenRequests: 1, unclassified: 0 });
    expect(summary.clients).toHaveLength(1);
    expect(summary.clients[0]).toMatchObject({ clientIp: "10.0.0.5", v1: 1, v2: 1, tokenRequests: 1, statuses: { "200": 2, "401": 1 } });
    expect(JSON.stringify(events)).not.toContain("FAKETOKEN");
  });

  it("emits events in capture order across interleaved connections, each with its own status", async () => {
    const slow = new TcpConversation({ clientPort: 40001, startMs: 1_000_000 }).handshake().send(http.getV1("/slow"));
    const fast = new TcpConversation({ clientPort: 40002, startMs: 1_000_010 }).handshake().send(http.getV1("/fast")).reply(http.response(200)).close();
    slow.at(1_000_100).reply(http.response(404)).close();
    const { events } = await analyze([captureFile(writePcap(interleave(slow, fast)))]);
    expect(events.map((event) => [event.path, event.status, event.clientPort])).toEqual([
      ["/slow", 404, 40001],
      ["/fast", 200, 40002],
    ]);
  });

  it("gives status null to a token PUT that is never answered, and keeps the fallback GETs", async () => {
    const put = new TcpConversation({ clientPort: 40010 }).handshake().send(http.putToken("Botocore/1.43.11"));
    put.at(Date.UTC(2026, 0, 2, 3, 4, 6)).close();
    const fallback = new TcpConversation({ clientPort: 40011, startMs: Date.UTC(2026, 0, 2, 3, 4, 7) })
      .handshake()
      .send(http.getV1("/latest/meta-data/iam/security-credentials/", "Botocore/1.43.11"))
      .reply(http.response(200, "role"))
      .close();
    const { events, summary } = await analyze([captureFile(writePcap(interleave(put, fallback)))]);
    expect(events.map((event) => [event.kind, event.status])).toEqual([
      ["token-request", null],
      ["v1", 200],
    ]);
    expect(summary.diagnostics.counters.requestsWithoutResponse).toBe(1);
  });

  it("reassembles requests split across segments and delivered out of order", async () => {
    const conversation = new TcpConversation().handshake().send(http.getV2(), [3, 20, 7, 1]).reply(http.response(200), [5]).close();
    const frames = [...conversation.frames];
    // Swap the 2nd and 4th request segments (frames 5 and 7, 0-based 4 and 6).
    [frames[4], frames[6]] = [frames[6]!, frames[4]!];
    const { events, summary } = await analyze([captureFile(writePcap(frames))]);
    expect(events.map(brief)).toEqual([["v2", "GET", "/latest/meta-data/", 200, 8]]);
    expect(summary.diagnostics.counters.segmentsOutOfOrder).toBeGreaterThan(0);
  });

  it("counts each request once when every packet appears twice (a bridge captured with -i any)", async () => {
    const conversation = new TcpConversation().handshake().send(http.getV1(), [10]).reply(http.response(200)).close();
    const doubled = conversation.frames.flatMap((frame) => [frame, frame]);
    const { events, summary } = await analyze([captureFile(writePcap(doubled))]);
    expect(events.map((event) => [event.kind, event.status, event.frame])).toEqual([["v1", 200, 9]]);
    expect(summary.requests.total).toBe(1);
  });

  it("ignores traffic to other addresses and to the IMDS address on another port", async () => {
    const other = new TcpConversation({ server: "10.0.0.9", clientPort: 40020 }).handshake().send(http.getV1()).reply(http.response(200)).close();
    const otherPort = new TcpConversation({ serverPort: 8080, clientPort: 40021 }).handshake().send(http.getV1()).reply(http.response(200)).close();
    const imds = new TcpConversation({ clientPort: 40022, startMs: Date.UTC(2026, 0, 2, 3, 5) }).handshake().send(http.getV1("/x")).reply(http.response(200)).close();
    const { events, summary } = await analyze([captureFile(writePcap(interleave(other, otherPort, imds)))]);
    expect(events.map((event) => event.path)).toEqual(["/x"]);
    expect(summary.framesRead).toBe(24);
    expect(summary.diagnostics.counters.framesNotImds).toBe(16);
  });

  it("handles IPv6, pcapng with nanosecond resolution, and gzip", async () => {
    const conversation = new TcpConversation({ client: "fd00:ec2::1", server: "fd00:ec2::254", startMs: 1_700_000_000_123 })
      .handshake()
      .send(http.getV1("/latest/meta-data/", "Python-urllib/3.11"))
      .reply(http.response(200))
      .close();
    const nanos = conversation.frames.map((frame): CaptureFrame => ({ ...frame, timestampNanos: frame.timestampNanos + 456_789 }));
    const pcapng = writePcapng(nanos, { interfaces: [{ linkType: 1, tsresol: 9 }] });
    const { events, summary } = await analyze([captureFile(gzipSync(pcapng), "pcapng.gz")]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "v1", serverIp: "fd00:ec2::254", clientIp: "fd00:ec2::1", status: 200, time: "2023-11-14T22:13:20.126456789Z" });
    expect(summary.sources[0]).toMatchObject({ format: "pcapng", compressed: true, frames: 8 });
  });

  it("keeps the status when snaplen cut the response body (the gap lies inside a known length)", async () => {
    const body = "x".repeat(2000);
    const conversation = new TcpConversation().handshake().send(http.getV1()).reply(http.response(200, body)).send(http.getV1("/second")).reply(http.response(404, "")).close();
    const cut = conversation.frames.map((frame): CaptureFrame =>
      frame.bytes.length > 200 && frame.bytes.length > 1000 ? { ...frame, bytes: frame.bytes.subarray(0, 200), originalLength: frame.bytes.length } : frame,
    );
    const { events, summary } = await analyze([captureFile(writePcap(cut, { snaplen: 200 }))]);
    expect(events.map((event) => [event.path, event.status])).toEqual([
      ["/latest/meta-data/", 200],
      ["/second", 404],
    ]);
    expect(summary.diagnostics.counters.framesSnaplenCut).toBe(1);
    expect(summary.diagnostics.counters.gapBytes).toBeGreaterThan(1000);
  });

  it("keeps the events before a corrupt record, reports the error, and goes on with the next file", async () => {
    const first = new TcpConversation().handshake().send(http.getV1("/before")).reply(http.response(200)).close();
    const good = writePcap(first.frames);
    const corrupt = new Uint8Array(good.length + 16);
    corrupt.set(good);
    // A record header claiming 3 GB of captured data.
    new DataView(corrupt.buffer).setUint32(good.length + 8, 3_000_000_000, true);
    const second = new TcpConversation({ clientPort: 41000 }).handshake().send(http.getV1("/other-file")).reply(http.response(200)).close();
    const corruptPath = captureFile(corrupt);
    const { events, summary, hadErrors } = await analyze([corruptPath, captureFile(writePcap(second.frames))]);
    expect(hadErrors).toBe(true);
    expect(events.map((event) => [event.path, event.source])).toEqual([
      ["/before", corruptPath],
      ["/other-file", summary.sources[1]!.path],
    ]);
    expect(summary.sources[0]!.error?.code).toBe("E_CAPTURE_FORMAT");
    expect(summary.sources[0]!.error?.message).toContain(`${corruptPath}: at byte offset ${good.length} (frame ${first.frames.length + 1})`);
  });

  it("reports a missing file as an input error without stopping the others", async () => {
    const conversation = new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close();
    const missing = join(directory, "does-not-exist.pcap");
    const { events, summary, hadErrors } = await analyze([missing, captureFile(writePcap(conversation.frames))]);
    expect(hadErrors).toBe(true);
    expect(events).toHaveLength(1);
    expect(summary.sources[0]!.error).toEqual({ code: "E_IO", message: expect.stringContaining(missing) as unknown });
  });

  it("a truncated last record is a warning and everything before it counts", async () => {
    const conversation = new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close();
    const whole = writePcap(conversation.frames);
    const { events, summary, hadErrors } = await analyze([captureFile(whole.subarray(0, whole.length - 10))]);
    expect(hadErrors).toBe(false);
    expect(events.map((event) => event.status)).toEqual([200]);
    expect(summary.sources[0]!.truncated).toMatch(/byte offset \d+ \(frame 8\)/);
    expect(summary.diagnostics.warnings.some((warning) => warning.code.startsWith("truncated:"))).toBe(true);
  });
});
