/**
 * The bounded procfs readers: the asynchronous one (any file) and the synchronous one (the
 * small procfs files of a process only), against real files and real procfs.
 */
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readBoundedText, readProcfsTextSync } from "../../src/attribution/procfs-read.js";
import { withLateFifo } from "../helpers/late-fifo.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** Text longer than the first 4 KiB read and than one 64 KiB chunk after it, with a multi-byte character across a chunk edge. */
const longText = `${"a".repeat(4095)}é${"b".repeat(70_000)}\n`;

describe("readProcfsTextSync", () => {
  it("reads what readBoundedText reads: a file across several chunks, and the same bound", async () => {
    const path = join(makeTempDir("procfs-read-"), "long");
    writeFileSync(path, longText);
    expect(readProcfsTextSync(path, 1 << 20)).toBe(longText);
    expect(readProcfsTextSync(path, 1 << 20)).toBe(await readBoundedText(path, 1 << 20));
    expect(readProcfsTextSync(path, 100)).toBe("a".repeat(100));
    expect(readProcfsTextSync(path, 70_000)).toBe(await readBoundedText(path, 70_000));
    expect(Buffer.byteLength(readProcfsTextSync(path, 70_000))).toBeLessThanOrEqual(70_000);
  });

  it("reads real procfs files whole (they report size 0)", () => {
    const stat = readProcfsTextSync(`/proc/${String(process.pid)}/stat`, 64 * 1024);
    expect(stat.startsWith(`${String(process.pid)} (`)).toBe(true);
    expect(stat.endsWith("\n")).toBe(true);
    expect(readProcfsTextSync("/proc/self/status", 64 * 1024)).toMatch(/^Uid:\s+\d+/m);
  });

  it("throws with the errno code for a missing file", () => {
    expect(() => readProcfsTextSync(join(makeTempDir("procfs-read-"), "missing"), 1024)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("never waits on a FIFO planted where a file should be (the event loop would stall)", async () => {
    // No writer yet: O_NONBLOCK opens at once and reads end of file; a blocking open would
    // have waited for the late writer and read "late".
    const fifo = join(makeTempDir("procfs-read-"), "stat");
    await withLateFifo(fifo, () => {
      expect(readProcfsTextSync(fifo, 1024)).toBe("");
    });
  });

  it("does not follow a link in the last component", () => {
    const directory = makeTempDir("procfs-read-");
    writeFileSync(join(directory, "target"), "secret\n");
    symlinkSync(join(directory, "target"), join(directory, "stat"));
    expect(() => readProcfsTextSync(join(directory, "stat"), 1024)).toThrow(expect.objectContaining({ code: "ELOOP" }));
    expect(readFileSync(join(directory, "stat"), "utf8")).toBe("secret\n");
  });
});
