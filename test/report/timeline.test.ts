import { describe, expect, it } from "vitest";
import { CallTimeline, isoTime, timelineBucketCount } from "../../src/report/timeline.js";

const base = Date.parse("2025-03-01T00:00:00.000Z");

describe("CallTimeline", () => {
  it("counts calls in one-second buckets while they fit", () => {
    const timeline = new CallTimeline();
    timeline.add(base + 500, true);
    timeline.add(base + 2100, false);
    timeline.add(base + 2900, true);
    expect(timeline.snapshot()).toEqual({ start: "2025-03-01T00:00:00.000Z", bucketSeconds: 1, v1: [1, 0, 1], v2: [0, 0, 1] });
  });

  it("widens its buckets to hold any span, keeping every call", () => {
    const timeline = new CallTimeline();
    const hours = 72;
    for (let hour = 0; hour < hours; hour++) timeline.add(base + hour * 3_600_000, hour % 2 === 0);
    const snapshot = timeline.snapshot()!;
    expect(snapshot.v1.length).toBeLessThanOrEqual(timelineBucketCount);
    expect(snapshot.v1.reduce((a, b) => a + b, 0)).toBe(36);
    expect(snapshot.v2.reduce((a, b) => a + b, 0)).toBe(36);
    expect(snapshot.bucketSeconds).toBe(8192);
  });

  it("gives the same buckets whatever order the calls arrive in", () => {
    const times = Array.from({ length: 200 }, (_, index) => base + ((index * 7919) % 200) * 37_000);
    const forward = new CallTimeline();
    const backward = new CallTimeline();
    const sorted = [...times].sort((a, b) => a - b);
    for (const time of sorted) forward.add(time, time % 3 === 0);
    for (const time of sorted.reverse()) backward.add(time, time % 3 === 0);
    expect(backward.snapshot()).toEqual(forward.snapshot());
  });

  it("ignores times that are not numbers and survives extreme ones", () => {
    const timeline = new CallTimeline();
    timeline.add(Number.NaN, true);
    expect(timeline.snapshot()).toBeNull();
    timeline.add(base, true);
    timeline.add(8.64e15, false);
    timeline.add(-8.64e15, false);
    const snapshot = timeline.snapshot()!;
    expect(snapshot.v1.reduce((a, b) => a + b, 0) + snapshot.v2.reduce((a, b) => a + b, 0)).toBe(3);
    expect(isoTime(1e20)).toBe("+275760-09-13T00:00:00.000Z");
  });
});
