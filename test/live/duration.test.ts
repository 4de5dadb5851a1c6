import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UsageError } from "../../src/errors.js";
import { afterDuration, longestTimerMs, parseDurationMs } from "../../src/live/duration.js";

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

describe("afterDuration", () => {
  afterEach(() => { vi.useRealTimers(); });

  it.each([
    ["90s", 90_000],
    ["24d (under setTimeout's limit)", 24 * 86_400_000],
    ["25d (over it)", 25 * 86_400_000],
    ["60d (two chunks and a rest)", 60 * 86_400_000],
  ])("%s: fires once, exactly when the time is up", (_, ms) => {
    vi.useFakeTimers();
    const fired = vi.fn();
    afterDuration(ms, fired);
    vi.advanceTimersByTime(Math.min(ms - 1, longestTimerMs));
    vi.advanceTimersByTime(ms - 1 - Math.min(ms - 1, longestTimerMs));
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(ms);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it("cancelled in any chunk, never fires", () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const cancel = afterDuration(30 * 86_400_000, fired);
    vi.advanceTimersByTime(longestTimerMs + 1000);
    cancel();
    vi.advanceTimersByTime(60 * 86_400_000);
    expect(fired).not.toHaveBeenCalled();
  });

  it("a plain setTimeout over the limit fires at once (why afterDuration exists)", () => {
    const overflow = spawnSync(process.execPath, ["-e", `const t = Date.now(); setTimeout(() => { console.log(Date.now() - t); }, ${longestTimerMs + 1});`], { encoding: "utf8", timeout: 10_000 });
    expect(overflow.stderr).toContain("TimeoutOverflowWarning");
    expect(Number(overflow.stdout.trim())).toBeLessThan(1000);
  });
});
