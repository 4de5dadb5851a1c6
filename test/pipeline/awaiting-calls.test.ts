import { describe, expect, it } from "vitest";
import { AwaitingCalls, alreadyEmitted } from "../../src/pipeline/awaiting-calls.js";
import type { PendingCall } from "../../src/pipeline/event-queue.js";

function call(frame: number): PendingCall {
  return {
    time: "2025-11-24T16:00:00.000000Z",
    timeMs: 0,
    kind: "v1",
    method: "GET",
    path: "/",
    httpVersion: "1.1",
    userAgent: null,
    clientIp: "10.0.0.1",
    clientPort: 40000,
    serverIp: "169.254.169.254",
    serverPort: 80,
    responseMissing: null,
    frame,
    source: "t.pcap",
    tokenTtlSeconds: null,
    forwardedFor: false,
    requestOnConnection: frame,
    incomplete: null,
    status: null,
    settled: false,
    emitted: false,
  };
}

describe("AwaitingCalls", () => {
  it("hands calls out oldest first, then undefined", () => {
    const awaiting = new AwaitingCalls();
    const calls = [call(1), call(2), call(3)];
    for (const c of calls) awaiting.add(c);
    expect([awaiting.take(), awaiting.take(), awaiting.take(), awaiting.take()]).toEqual([...calls, undefined]);
  });

  it("counts off responses to calls whose events already left, in their place", () => {
    const awaiting = new AwaitingCalls();
    const calls = [call(1), call(2), call(3)];
    for (const c of calls) awaiting.add(c);
    calls[0]!.emitted = true;
    calls[1]!.emitted = true;
    awaiting.add(call(4)); // drops the emitted head: only their number is kept
    expect(awaiting.take()).toBe(alreadyEmitted);
    expect(awaiting.take()).toBe(alreadyEmitted);
    expect(awaiting.take()).toBe(calls[2]);
    expect(awaiting.take()?.frame).toBe(4);
    expect(awaiting.take()).toBeUndefined();
  });

  it("settleAll settles what is held and forgets the rest", () => {
    const awaiting = new AwaitingCalls();
    const calls = [call(1), call(2)];
    for (const c of calls) awaiting.add(c);
    calls[0]!.emitted = true;
    awaiting.settleAll("unobserved");
    expect(calls.map((c) => c.settled)).toEqual([true, true]);
    // The emitted one had already left; the one still held leaves saying why it has no status.
    expect(calls.map((c) => c.responseMissing)).toEqual([null, "unobserved"]);
    expect(awaiting.take()).toBeUndefined();
  });

  it("stays linear over 200,000 pipelined calls", () => {
    const awaiting = new AwaitingCalls();
    const count = 200_000;
    for (let frame = 1; frame <= count; frame++) awaiting.add(call(frame));
    const started = Date.now();
    let frames = 0;
    for (let taken = awaiting.take(); taken !== undefined; taken = awaiting.take()) frames += taken === null ? 0 : 1;
    expect(frames).toBe(count);
    // Array.shift would copy the array each time (~20 s); a head index takes milliseconds.
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
