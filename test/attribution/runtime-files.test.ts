/** Bounded, non-following, never-throwing reads of container runtime files. */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listRuntimeDirectory, readRuntimeFile, readRuntimeJson, readRuntimeLink } from "../../src/attribution/runtime-files.js";
import { makeTempDir } from "../helpers/temp-dir.js";

let directory: string;

beforeEach(() => {
  directory = makeTempDir("runtime-files-");
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe("readRuntimeFile and readRuntimeJson", () => {
  it("reads a regular file whole, across read chunks", async () => {
    const text = `{"pad":"${"x".repeat(200_000)}"}`;
    await writeFile(join(directory, "big.json"), text);
    const read = await readRuntimeFile(join(directory, "big.json"));
    expect(read.ok && read.value.toString("utf8")).toBe(text);
    expect(await readRuntimeJson(join(directory, "big.json"))).toMatchObject({ ok: true, value: { pad: "x".repeat(200_000) } });
  });

  it("says why it read nothing: missing, a directory, a symlink, too large, not JSON, not an object", async () => {
    await mkdir(join(directory, "dir"));
    await writeFile(join(directory, "real.json"), "{}");
    await symlink(join(directory, "real.json"), join(directory, "link.json"));
    await writeFile(join(directory, "large.json"), "x".repeat(101));
    await writeFile(join(directory, "broken.json"), "{");
    await writeFile(join(directory, "number.json"), "42");
    expect(await readRuntimeFile(join(directory, "absent.json"))).toEqual({ ok: false, problem: "missing" });
    expect(await readRuntimeFile(join(directory, "absent-dir/config.json"))).toEqual({ ok: false, problem: "missing" });
    expect(await readRuntimeFile(join(directory, "dir"))).toEqual({ ok: false, problem: "not-a-file" });
    expect(await readRuntimeFile(join(directory, "link.json"))).toEqual({ ok: false, problem: "symlink" });
    expect(await readRuntimeFile(join(directory, "large.json"), 100)).toEqual({ ok: false, problem: "too-large" });
    expect(await readRuntimeJson(join(directory, "broken.json"))).toEqual({ ok: false, problem: "malformed" });
    expect(await readRuntimeJson(join(directory, "number.json"))).toEqual({ ok: false, problem: "malformed" });
  });
});

describe("listRuntimeDirectory and readRuntimeLink", () => {
  it("lists at most the given number of entries", async () => {
    for (let n = 0; n < 30; n++) await writeFile(join(directory, `f${n}`), "");
    const listed = await listRuntimeDirectory(directory, 10);
    expect(listed.ok && listed.value.length).toBe(10);
    expect(await listRuntimeDirectory(join(directory, "absent"), 10)).toEqual({ ok: false, problem: "missing" });
  });

  it("reads a link's target without following it, and says when it is no link", async () => {
    await symlink("/var/log/pods/ns_pod_uid/c/0.log", join(directory, "link"));
    await writeFile(join(directory, "file"), "");
    expect(await readRuntimeLink(join(directory, "link"))).toEqual({ ok: true, value: "/var/log/pods/ns_pod_uid/c/0.log" });
    expect(await readRuntimeLink(join(directory, "file"))).toEqual({ ok: false, problem: "unreadable" });
  });
});
