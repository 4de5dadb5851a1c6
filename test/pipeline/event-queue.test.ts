import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import type { ImdsEvent } from "../../src/events.js";
import type { PendingCall } from "../../src/pipeline/event-queue.js";
import { EventQueue } from "../../src/pipeline/event-queue.js";

function call(frame: number, timeMs: number): PendingCall {
  return {
    time: new Date(timeMs).toISOString(),
    timeMs,
    kind: "v1",
    method: "GET",
    path: "/",
    httpVersion: "1.1",
    userAgent: null,
    clientIp: "10.0.0.1",
    clientPort: 40000 + frame,
    serverIp: "169.254.169.254",
    serverPort: 80,
    responseMissing: null,
    frame,
    source: "t.pcap",
    tokenTtlSeconds: null,
    forwardedFor: false,
    requestOnConnection: 1,
    incomplete: null,
    status: null,
    settled: false,
    emitted: false,
  };
}

describe("EventQueue", () => {
  it("keeps capture order: a settled event waits for an earlier unsettled one", () => {
    const out: ImdsEvent[] = [];
    const queue = new EventQueue((event) => out.push(event), new Diagnostics(), { responseTimeoutMs: 1000, maxPendingEvents: 10 });
    const first = call(1, 0);
    const second = call(2, 10);
    queue.add(first);
    queue.add(second);
    second.status = 200;
    second.settled = true;
    queue.release(20);
    expect(out).toHaveLength(0);
    first.status = 401;
    first.settled = true;
    queue.release(30);
    expect(out.map((event) => [event.frame, event.status])).toEqual([[1, 401], [2, 200]]);
  });

  it("lets an unanswered call go with status null after the response timeout (capture time)", () => {
    const out: ImdsEvent[] = [];
    const diagnostics = new Diagnostics();
    const queue = new EventQueue((event) => out.push(event), diagnostics, { responseTimeoutMs: 1000, maxPendingEvents: 10 });
    const unanswered = call(1, 0);
    queue.add(unanswered);
    queue.release(999);
    expect(out).toHaveLength(0);
    queue.release(1000);
    expect(out).toHaveLength(1);
    expect(out[0]!.status).toBeNull();
    expect(unanswered.emitted).toBe(true);
    expect(diagnostics.counters.requestsWithoutResponse).toBe(1);
  });

  it("never holds more than maxPendingEvents", () => {
    const out: ImdsEvent[] = [];
    const queue = new EventQueue((event) => out.push(event), new Diagnostics(), { responseTimeoutMs: 1e9, maxPendingEvents: 3 });
    for (let frame = 1; frame <= 10; frame++) queue.add(call(frame, frame));
    expect(queue.size).toBe(3);
    expect(out.map((event) => event.frame)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    queue.drain();
    expect(out.map((event) => event.frame)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(queue.size).toBe(0);
  });
});
