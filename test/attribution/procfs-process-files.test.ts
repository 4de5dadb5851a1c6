import { describe, expect, it } from "vitest";
import {
  parseBootTimeSeconds,
  parseCmdline,
  parseProcStat,
  parseStatusEffectiveUid,
  startTimeIso,
} from "../../src/attribution/procfs-process-files.js";
import { statLine } from "../helpers/fake-procfs.js";

describe("parseProcStat", () => {
  it("reads a real line (this machine's `head -3 /proc/self/stat`)", () => {
    const line =
      "5604 (head) R 5567 5567 4387 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 252928 2998272 389 18446744073709551615 94315599409152 94315599433257 140724835285616 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94315599449104 94315599450720 94315653644288 140724835289817 140724835289841 140724835289841 140724835291114 0\n";
    expect(parseProcStat(line)).toEqual({ pid: 5604, comm: "head", state: "R", ppid: 5567, startTimeTicks: 252928 });
  });

  it.each([
    ["spaces", "my app"],
    ["a ') (' inside", "a) (b"],
    ["ends with ')'", "x)"],
    ["only parentheses", ")()("],
    ["digits and a fake field list", "1 2 3) S 99 1"],
    ["15 bytes", "node (vitest 1)"],
  ])("comm with %s: ends at the last ')'", (_name, comm) => {
    expect(parseProcStat(statLine(321, comm, "S", 7, 424242))).toEqual({ pid: 321, comm, state: "S", ppid: 7, startTimeTicks: 424242 });
  });

  it("reads a zombie and pid 1 (ppid 0)", () => {
    expect(parseProcStat(statLine(9, "defunct", "Z", 8, 5))).toMatchObject({ state: "Z", ppid: 8 });
    expect(parseProcStat(statLine(1, "systemd", "S", 0, 2))).toMatchObject({ pid: 1, ppid: 0, startTimeTicks: 2 });
  });

  it.each([
    ["empty", ""],
    ["no parentheses", "12 bash S 1 2 3"],
    ["no pid", "(bash) S 1"],
    ["pid 0", "0 (idle) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"],
    ["cut before starttime", "12 (bash) S 1 12 12 0 -1 4194560 1200 0 3"],
    ["non-numeric ppid", "12 (bash) S x 12 12 0 -1 4194560 1200 0 3 0 12 5 0 0 20 0 1 0 77"],
  ])("rejects %s", (_name, text) => {
    expect(parseProcStat(text)).toBeNull();
  });
});

describe("parseStatusEffectiveUid", () => {
  it("takes the effective uid (second field)", () => {
    expect(parseStatusEffectiveUid("Name:\tsudo\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n")).toBe(0);
    expect(parseStatusEffectiveUid("Uid:\t1001\t1001\t1001\t1001\n")).toBe(1001);
  });

  it("is null without a Uid line", () => {
    expect(parseStatusEffectiveUid("Name:\tx\nGid:\t0\t0\t0\t0\n")).toBeNull();
  });
});

describe("parseCmdline", () => {
  it.each([
    ["NUL-terminated argv", "curl\0-s\0http://169.254.169.254/\0", ["curl", "-s", "http://169.254.169.254/"]],
    ["empty arguments are kept", "x\0\0y\0", ["x", "", "y"]],
    ["kernel thread or zombie", "", []],
    ["setproctitle without NULs", "nginx: worker process", ["nginx: worker process"]],
  ])("%s", (_name, text, argv) => {
    expect(parseCmdline(text)).toEqual(argv);
  });
});

describe("boot time and start time", () => {
  it("finds btime among /proc/stat lines", () => {
    expect(parseBootTimeSeconds("cpu  1 2 3\nintr 5 6\nctxt 7\nbtime 1795485325\nprocesses 9\n")).toBe(1795485325);
    expect(parseBootTimeSeconds("cpu  1 2 3\n")).toBeNull();
  });

  it("adds ticks at 100 per second", () => {
    // 252,928 ticks = 2,529.28 s = 42 min 9.28 s after 22:13:20.
    expect(startTimeIso(1_700_000_000, 252_928)).toBe("2023-11-14T22:55:29.280Z");
    expect(startTimeIso(1_700_000_000, 0)).toBe("2023-11-14T22:13:20.000Z");
    expect(startTimeIso(null, 5)).toBeNull();
  });
});
