import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseDurationMs } from "../../src/live/duration.js";

describe("parseDurationMs", () => {
  it.each([
    ["10m", 600_000],
    ["90s", 90_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["2d", 172_800_000],
    ["1.5s", 1500],
    ["45", 45_000],
  ])("%s = %d ms", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "10x", "m", "-5s", "10m junk", "0s"])("rejects %j", (text) => {
    expect(() => parseDurationMs(text)).toThrow(UsageError);
  });
});
