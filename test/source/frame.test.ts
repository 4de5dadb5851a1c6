import { describe, expect, it } from "vitest";
import { Frame, formatCaptureTime } from "../../src/source/frame.js";

/** The plain definition the cached formatter must agree with. */
function referenceTime(seconds: number, nanos: number, digits: number): string {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (digits <= 0) return `${base}Z`;
  return `${base}.${String(nanos).padStart(9, "0").slice(0, Math.min(digits, 9))}Z`;
}

describe("formatCaptureTime", () => {
  it("matches the plain definition for every precision, across second changes and repeats", () => {
    const seconds = [0, 1, 1, 1_700_000_000, 1_700_000_000, 1_700_000_001, 4_294_967_295, 0];
    const nanos = [0, 1, 9, 10, 999_999_999, 123_456_789, 100_000_000, 5_000];
    const got: string[] = [];
    const expected: string[] = [];
    for (const second of seconds) {
      for (const nano of nanos) {
        for (const digits of [0, 3, 6, 9]) {
          got.push(formatCaptureTime(second, nano, digits));
          expected.push(referenceTime(second, nano, digits));
        }
      }
    }
    expect(got).toEqual(expected);
    expect(formatCaptureTime(1_700_000_000, 123_456_789, 6)).toBe("2023-11-14T22:13:20.123456Z");
    expect(formatCaptureTime(1_700_000_000, 7, 9)).toBe("2023-11-14T22:13:20.000000007Z");
  });
});

describe("Frame", () => {
  it("exposes data[start, end) as bytes, and setData points it at another range", () => {
    const frame = new Frame();
    const data = Uint8Array.from([1, 2, 3, 4, 5]);
    frame.setData(data, 1, 4);
    expect([Array.from(frame.bytes), frame.capturedLength]).toEqual([[2, 3, 4], 3]);
    frame.setData(Uint8Array.from([9, 8]), 0, 2);
    expect([frame.start, frame.end, Array.from(frame.data)]).toEqual([0, 2, [9, 8]]);
  });
});
