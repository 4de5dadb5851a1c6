import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSizeBytes, RotatingEventFile } from "../../src/sink/rotating-event-file.js";
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
