import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileSpaceReserver } from "../../src/live/pcap-addon.js";
import { parseSizeBytes, RotatingEventFile } from "../../src/sink/rotating-event-file.js";
import type { FileSpaceReserver } from "../../src/sink/rotating-event-file.js";
import { shouldSkipRootTests } from "../helpers/netns.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function lines(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("RotatingEventFile", () => {
  it("rotates by size, keeps N files, never splits a line, mode 0600", () => {
    const path = join(makeTempDir("imds-rot-"), "events.ndjson");
    const file = new RotatingEventFile(path, { maxFileBytes: 1000, keepFiles: 2 });
    for (let index = 0; index < 100; index++) file.write({ index, padding: "x".repeat(40) });
    file.close();
    expect(file.eventsWritten).toBe(100);
    expect(file.rotations).toBeGreaterThan(3);
    expect(existsSync(`${path}.3`)).toBe(false);
    const kept = [...lines(`${path}.2`), ...lines(`${path}.1`), ...lines(path)].map((record) => record["index"]);
    // The newest events, in order, none torn.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i));
    for (const name of [path, `${path}.1`, `${path}.2`]) {
      expect(statSync(name).size).toBeLessThanOrEqual(1000);
      expect(statSync(name).mode & 0o777).toBe(0o600);
    }
  });

  it("appends to an existing file and reopens the path after an external rotation", () => {
    const path = join(makeTempDir("imds-rot-"), "events.ndjson");
    const first = new RotatingEventFile(path);
    first.write({ n: 1 });
    first.close();
    const file = new RotatingEventFile(path);
    file.write({ n: 2 });
    renameSync(path, `${path}.old`);
    file.write({ n: 3 }); // still goes to the moved file, like any open file
    file.reopen();
    file.write({ n: 4 });
    file.close();
    expect(lines(`${path}.old`).map((record) => record["n"])).toEqual([1, 2, 3]);
    expect(lines(path).map((record) => record["n"])).toEqual([4]);
  });

  it("counts events it could not write and reports the problem once", () => {
    const messages: string[] = [];
    const file = new RotatingEventFile("/dev/full", { maxFileBytes: null, keepFiles: 0 }, (message) => messages.push(message));
    for (let index = 0; index < 5; index++) file.write({ index });
    file.close();
    expect(file.eventsNotWritten).toBe(5);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/\/dev\/full: an event could not be written \(ENOSPC\)/);
  });
});

/** Mounts a file system of TYPE (with OPTIONS) on a fresh directory for `body`, always unmounted after. */
function withMount<T>(type: string, options: string, body: (directory: string) => T): T {
  const directory = makeTempDir(`imds-rot-${type}-`);
  const mounted = spawnSync("mount", ["-t", type, "-o", options, type, directory], { encoding: "utf8" });
  if (mounted.status !== 0) throw new Error(`mount -t ${type} failed: ${mounted.stderr}`);
  try {
    return body(directory);
  } finally {
    if (spawnSync("umount", [directory]).status !== 0) spawnSync("umount", ["-l", directory]);
  }
}

/** The native reserver (fallocate); live capture passes the same one. Required under CI=true. */
function nativeReserver(): FileSpaceReserver | null {
  const reserver = fileSpaceReserver();
  if (reserver === null && process.env["CI"] === "true") throw new Error("the native pcap addon must load under CI=true");
  return reserver;
}

const skipRootTests = shouldSkipRootTests("the full-file-system tests (they mount a tmpfs)");
/** ~1 KB per line: 8 fit in the two 4 KiB pages the filler leaves free. */
const event = (index: number): object => ({ index, padding: "x".repeat(980) });

interface FullDiskRun {
  readonly written: number[];
  readonly messages: string[];
  readonly file: RotatingEventFile;
  /** Whether the file's bytes, size and mtime stayed exactly as they were across the refused write. */
  readonly untouchedByRefusedWrite: boolean;
}

/**
 * On a 64 KiB tmpfs whose filler leaves 8 KiB: writes until an event is refused, writes 3 more
 * while full, frees the space and writes 2 more.
 */
function fillTheDisk(reserveSpace: FileSpaceReserver | null): FullDiskRun {
  const run = withMount("tmpfs", "size=64k,mode=0700", (directory): FullDiskRun | null => {
    const filler = join(directory, "filler");
    writeFileSync(filler, Buffer.alloc(56 * 1024, 0x78));
    const path = join(directory, "events.ndjson");
    const messages: string[] = [];
    const file = new RotatingEventFile(path, { maxFileBytes: null, keepFiles: 0 }, (message) => messages.push(message), reserveSpace === null ? {} : { reserveSpace });
    // Read through a function: a property compared in the loop condition stays narrowed to 0.
    const lost = (): number => file.eventsNotWritten;
    let index = 0;
    while (lost() === 0 && index < 100) {
      const before = { bytes: readFileSync(path), stats: statSync(path, { bigint: true }) };
      // tmpfs stamps mtime with a coarse clock: let it move on, so a write would show.
      const until = Date.now() + 20;
      while (Date.now() < until) { /* wait */ }
      file.write(event(index++));
      if (lost() === 1) {
        const after = statSync(path, { bigint: true });
        const untouched = readFileSync(path).equals(before.bytes) && after.size === before.stats.size && after.mtimeNs === before.stats.mtimeNs;
        for (let more = 0; more < 3; more++) file.write(event(index++));
        rmSync(filler);
        for (let more = 0; more < 2; more++) file.write(event(index++));
        file.close();
        return { written: lines(path).map((record) => Number(record["index"])), messages, file, untouchedByRefusedWrite: untouched };
      }
    }
    file.close();
    return null;
  });
  if (run === null) throw new Error("the disk never filled");
  return run;
}

describe.skipIf(skipRootTests)("RotatingEventFile on a full file system (root: a 64 KiB tmpfs)", () => {
  it("with the native reserver, refuses a line that does not fit whole: the file is not touched, the loss counted and said once, writing resumes when space is back", (context) => {
    const reserver = nativeReserver();
    if (reserver === null) {
      context.skip("the native pcap addon is not built");
      return;
    }
    const run = fillTheDisk(reserver);
    expect(run.untouchedByRefusedWrite).toBe(true);
    // 8 lines fit; the 9th and the 3 written while full are lost; the 2 after the filler went are in.
    expect(run.written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 12, 13]);
    expect(run.file.eventsNotWritten).toBe(4);
    expect(run.messages).toEqual([
      expect.stringMatching(/events\.ndjson: an event could not be written \(ENOSPC\); events are being lost$/),
      expect.stringMatching(/events\.ndjson: writing events again \(4 event\(s\) were lost\)$/),
    ]);
  });

  it("without a reserver, the line is written in part and cut back: whole lines at rest, but the file was touched (why live capture reserves)", () => {
    const run = fillTheDisk(null);
    expect(run.untouchedByRefusedWrite).toBe(false);
    expect(run.written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 12, 13]);
    expect(run.file.eventsNotWritten).toBe(4);
  });

  it("on a file system that cannot reserve (ramfs: no fallocate), writes as before", (context) => {
    const reserver = nativeReserver();
    if (reserver === null) {
      context.skip("the native pcap addon is not built");
      return;
    }
    withMount("ramfs", "mode=0700", (directory) => {
      const path = join(directory, "events.ndjson");
      const file = new RotatingEventFile(path, { maxFileBytes: null, keepFiles: 0 }, () => undefined, { reserveSpace: reserver });
      for (let index = 0; index < 100; index++) file.write(event(index));
      file.close();
      expect(file.eventsWritten).toBe(100);
      expect(lines(path).map((record) => record["index"])).toEqual(Array.from({ length: 100 }, (_, index) => index));
    });
  });
});

describe("parseSizeBytes", () => {
  it.each([
    ["100M", 100 * 1024 ** 2],
    ["512k", 512 * 1024],
    ["2G", 2 * 1024 ** 3],
    ["1048576", 1048576],
    ["10MiB", 10 * 1024 ** 2],
  ])("%s", (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });
  it.each(["", "-1M", "0", "ten", "5T"])("rejects %j", (text) => {
    expect(parseSizeBytes(text)).toBeNull();
  });
});
