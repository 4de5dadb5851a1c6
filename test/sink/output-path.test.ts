/**
 * The symlink rule for output files (src/sink/output-path.ts) on real files: links and foreign
 * files in a sticky world-writable directory (like /tmp) are refused with a one-line error,
 * links in private directories are followed, and every file written is mode 0600. The CLI part
 * runs the built CLI (test/helpers/cli.ts).
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync, chownSync, closeSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, writeFileSync, writeSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, OutputError, UnsafeOutputPathError } from "../../src/errors.js";
import { NdjsonWriter } from "../../src/sink/ndjson-writer.js";
import { directoryWritableWithoutOverride, inspectOutputPath, isSharedDirectoryMode, openOutputFile, reserveOutputFile } from "../../src/sink/output-path.js";
import { PcapWriter } from "../../src/sink/pcap-writer.js";
import { RotatingEventFile } from "../../src/sink/rotating-event-file.js";
import { writePcap } from "../../src/wire-format/pcap-file.mjs";
import { http, TcpConversation } from "../helpers/conversation.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { shouldSkipRootTests } from "../helpers/netns.js";
import { cliPath as cli } from "../helpers/cli.js";

const skipRootTests = shouldSkipRootTests("the output-path tests with another user's files (chown)");
const victimText = "root:*:19000:0:99999:7:::\n";

/** A fresh directory laid out like /tmp (mode 1777) and a private one (0700) with a victim file. */
function makeDirectories(): { shared: string; privateDir: string; victim: string } {
  const base = makeTempDir("imds-output-path-");
  const shared = join(base, "shared-tmp");
  const privateDir = join(base, "private");
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  mkdirSync(privateDir, { mode: 0o700 });
  const victim = join(privateDir, "shadow");
  writeFileSync(victim, victimText, { mode: 0o640 });
  return { shared, privateDir, victim };
}

function expectUnsafe(action: () => unknown, path: string): UnsafeOutputPathError {
  let caught: unknown = null;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UnsafeOutputPathError);
  const error = caught as UnsafeOutputPathError;
  expect(error.code).toBe(ErrorCode.unsafeOutputPath);
  expect(error).toBeInstanceOf(OutputError);
  expect(error.path).toBe(path);
  expect(error.message.startsWith(`${path}: refusing to write`)).toBe(true);
  expect(error.message).not.toContain("\n");
  return error;
}

describe("isSharedDirectoryMode", () => {
  it.each([
    [0o1777, true], [0o777, true], [0o1755, true], [0o755, false], [0o700, false], [0o775, false],
  ])("mode %o -> %s", (mode, shared) => {
    expect(isSharedDirectoryMode(mode)).toBe(shared);
  });
});

describe("openOutputFile: the symlink rule", () => {
  it("refuses a symbolic link in a sticky world-writable directory and leaves its target alone", () => {
    const { shared, victim } = makeDirectories();
    const trap = join(shared, "events.ndjson");
    symlinkSync(victim, trap);
    const error = expectUnsafe(() => openOutputFile(trap, { what: "the events file" }), trap);
    expect(error.message).toBe(
      `${trap}: refusing to write through the symbolic link ${trap} in the world-writable directory ${shared} (another user could point it at any file); give the real path`,
    );
    expectUnsafe(() => openOutputFile(trap, { what: "the events file", append: true }), trap);
    expect(readFileSync(victim, "utf8")).toBe(victimText);
    expect(statSync(victim).mode & 0o777).toBe(0o640);
  });

  it("refuses a dangling link there too (it would create a file wherever it points)", () => {
    const { shared, privateDir } = makeDirectories();
    const trap = join(shared, "report.md");
    symlinkSync(join(privateDir, "created-by-trap"), trap);
    expectUnsafe(() => openOutputFile(trap, { what: "the report" }), trap);
    expect(readdirSync(privateDir)).toEqual(["shadow"]);
  });

  it("refuses a linked directory in a shared directory on the way to the file", () => {
    const { shared, privateDir, victim } = makeDirectories();
    symlinkSync(privateDir, join(shared, "logs"));
    const path = join(shared, "logs", "shadow");
    expectUnsafe(() => openOutputFile(path, { what: "the summary" }), path);
    expect(readFileSync(victim, "utf8")).toBe(victimText);
  });

  it("refuses a relative path that reaches such a link", () => {
    const { shared, victim } = makeDirectories();
    symlinkSync(victim, join(shared, "out.json"));
    const previous = process.cwd();
    process.chdir(shared);
    try {
      expectUnsafe(() => openOutputFile("out.json", { what: "the summary" }), "out.json");
    } finally {
      process.chdir(previous);
    }
    expect(readFileSync(victim, "utf8")).toBe(victimText);
  });

  it("refuses an existing file with another hard link in a shared directory", () => {
    const { shared } = makeDirectories();
    const original = join(shared, "mine");
    writeFileSync(original, "keep\n", { mode: 0o600 });
    const path = join(shared, "events.ndjson");
    linkSync(original, path);
    const error = expectUnsafe(() => openOutputFile(path, { what: "the events file" }), path);
    expect(error.message).toContain("1 other hard link(s)");
    expect(readFileSync(original, "utf8")).toBe("keep\n");
  });

  it.skipIf(skipRootTests)("refuses a file that belongs to another user in a shared directory", () => {
    const { shared } = makeDirectories();
    const path = join(shared, "summary.json");
    writeFileSync(path, "theirs\n", { mode: 0o666 });
    chownSync(path, 65534, 65534);
    const error = expectUnsafe(() => openOutputFile(path, { what: "the summary" }), path);
    expect(error.message).toBe(`${path}: refusing to write the summary: the file belongs to uid 65534 and is in the world-writable directory ${shared}`);
    expect(readFileSync(path, "utf8")).toBe("theirs\n");
  });

  it("creates a new file in a shared directory (O_EXCL), mode 0600", () => {
    const { shared } = makeDirectories();
    const path = join(shared, "new.ndjson");
    const descriptor = openOutputFile(path, { what: "the events file" });
    writeSync(descriptor, "x\n");
    closeSync(descriptor);
    expect(readFileSync(path, "utf8")).toBe("x\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("follows a symbolic link in a private directory, as before, and the target becomes 0600", () => {
    const { privateDir, victim } = makeDirectories();
    const link = join(privateDir, "current.ndjson");
    symlinkSync("shadow", link);
    const found = inspectOutputPath(link);
    expect(found).toMatchObject({ directory: privateDir, lastComponentIsLink: true, sharedDirectory: false });
    expect(found.file?.isFile()).toBe(true);
    const descriptor = openOutputFile(link, { what: "the events file", append: true });
    writeSync(descriptor, "appended\n");
    closeSync(descriptor);
    expect(readFileSync(victim, "utf8")).toBe(`${victimText}appended\n`);
    expect(statSync(victim).mode & 0o777).toBe(0o600);
  });

  it("follows a link from a private directory into a shared one, then applies the shared rules to the file", () => {
    const { shared, privateDir } = makeDirectories();
    symlinkSync(shared, join(privateDir, "spool"));
    const path = join(privateDir, "spool", "fresh.json");
    expect(inspectOutputPath(path)).toMatchObject({ directory: shared, file: null, sharedDirectory: true, lastComponentIsLink: false });
    closeSync(openOutputFile(path, { what: "the summary" }));
    expect(statSync(join(shared, "fresh.json")).mode & 0o777).toBe(0o600);
  });

  it("truncates an existing file of ours and sets 0600 even when it was 0644", () => {
    const { privateDir } = makeDirectories();
    const path = join(privateDir, "report.md");
    writeFileSync(path, "old contents that are longer\n", { mode: 0o644 });
    chmodSync(path, 0o644);
    const descriptor = openOutputFile(path, { what: "the report" });
    writeSync(descriptor, "new\n");
    closeSync(descriptor);
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("writes to /dev/null (a device, not chmod-ed) and to /dev/stdout's kind of link chain", () => {
    closeSync(openOutputFile("/dev/null", { what: "the events file" }));
    expect(statSync("/dev/null").mode & 0o777).toBe(0o666);
    expect(inspectOutputPath("/dev/stdout").lastComponentIsLink).toBe(true);
  });

  it("reports a missing directory as an OutputError naming the path", () => {
    const { privateDir } = makeDirectories();
    const path = join(privateDir, "no-such-dir", "x.json");
    expect(() => openOutputFile(path, { what: "the summary" })).toThrow(new OutputError(path, "cannot open the summary: ENOENT"));
  });
});

describe("writers use the rule", () => {
  it("NdjsonWriter.toFile and PcapWriter refuse a link in a shared directory", () => {
    const { shared, victim } = makeDirectories();
    const events = join(shared, "events.ndjson");
    const pcap = join(shared, "saved.pcap");
    symlinkSync(victim, events);
    symlinkSync(victim, pcap);
    expectUnsafe(() => NdjsonWriter.toFile(events), events);
    expectUnsafe(() => new PcapWriter(pcap, 1), pcap);
    expect(readFileSync(victim, "utf8")).toBe(victimText);
  });

  it("RotatingEventFile: rotated files are 0600, and a link planted at FILE before a reopen is refused", () => {
    const { shared, victim } = makeDirectories();
    const path = join(shared, "events.ndjson");
    const messages: string[] = [];
    const file = new RotatingEventFile(path, { maxFileBytes: 100, keepFiles: 3 }, (message) => messages.push(message), { pathCheckIntervalMs: 60_000 });
    for (let index = 0; index < 6; index++) file.write({ index, padding: "x".repeat(40) });
    expect(file.rotations).toBe(5); // every line is over half of maxFileBytes
    for (const name of readdirSync(shared)) expect(statSync(join(shared, name)).mode & 0o777).toBe(0o600);
    expect(readdirSync(shared).sort()).toEqual(["events.ndjson", "events.ndjson.1", "events.ndjson.2", "events.ndjson.3"]);
    // logrotate moves FILE away; before the SIGHUP, another user plants a link at FILE.
    renameSync(path, `${path}.moved`);
    symlinkSync(victim, path);
    file.reopen();
    expect(messages).toEqual([
      `${path}: cannot reopen the events file (${path}: refusing to write through the symbolic link ${path} in the world-writable directory ${shared} (another user could point it at any file); give the real path); still writing to the file opened before`,
    ]);
    file.write({ after: "refused reopen" });
    file.close();
    expect(readFileSync(`${path}.moved`, "utf8")).toContain("refused reopen");
    expectUnsafe(() => new RotatingEventFile(path), path);
    expect(readFileSync(victim, "utf8")).toBe(victimText);
  });
});

describe("the CLI refuses with one line and exit code 1", () => {
  const conversation = new TcpConversation().handshake().send(http.getV1()).reply(http.response(200)).close();

  it.each([
    ["analyze --events", (trap: string, capture: string) => ["analyze", "--events", trap, capture]],
    ["analyze --summary-json", (trap: string, capture: string) => ["analyze", "--quiet", "--summary-json", trap, capture]],
    ["analyze --report", (trap: string, capture: string) => ["analyze", "--quiet", "--report", trap, capture]],
    ["report -o", (trap: string, capture: string) => ["report", "-o", trap, `${capture}.ndjson`]],
  ])("%s", (_name, argsFor) => {
    const { shared, privateDir, victim } = makeDirectories();
    const capture = join(privateDir, "one.pcap");
    writeFileSync(capture, writePcap(conversation.frames));
    writeFileSync(`${capture}.ndjson`, "");
    const trap = join(shared, "out.json");
    symlinkSync(victim, trap);
    const result = spawnSync(process.execPath, [cli, ...argsFor(trap, capture)], { encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(1);
    const errorLines = result.stderr.split("\n").filter((line) => line.startsWith("imds-analyzer: "));
    expect(errorLines).toEqual([
      `imds-analyzer: ${trap}: refusing to write through the symbolic link ${trap} in the world-writable directory ${shared} (another user could point it at any file); give the real path`,
    ]);
    expect(readFileSync(victim, "utf8")).toBe(victimText);
  });
});

describe("directoryWritableWithoutOverride", () => {
  it("judges by the permission bits and the owner", () => {
    const { shared, privateDir } = makeDirectories();
    expect(directoryWritableWithoutOverride(privateDir)).toBe(true);
    expect(directoryWritableWithoutOverride(shared)).toBe(true);
    expect(directoryWritableWithoutOverride(join(privateDir, "missing"))).toBe(false);
  });

  it.skipIf(skipRootTests)("judges another user's directory by its other-bits (root, chown)", () => {
    const { privateDir } = makeDirectories();
    const theirs = join(privateDir, "theirs");
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    expect(directoryWritableWithoutOverride(theirs)).toBe(false);
  });
});

describe("reserveOutputFile (opened before a run that may still fail to start)", () => {
  it("abandoned: removes a file it created, keeps one that was there, and closes the descriptor either way", () => {
    const directory = makeTempDir("imds-reserve-");
    const fresh = join(directory, "new.pcap");
    reserveOutputFile(fresh, { what: "the capture file" }).abandon();
    expect(existsSync(fresh)).toBe(false);
    const earlier = join(directory, "earlier.pcap");
    writeFileSync(earlier, "kept\n", { mode: 0o644 });
    const reserved = reserveOutputFile(earlier, { what: "the capture file" });
    expect(readFileSync(earlier, "utf8")).toBe("kept\n");
    reserved.abandon();
    reserved.abandon(); // idempotent
    expect(readFileSync(earlier, "utf8")).toBe("kept\n");
    expect(statSync(earlier).mode & 0o777).toBe(0o600);
  });

  it("committed: the contents are replaced from the start, through the descriptor handed over", () => {
    const path = join(makeTempDir("imds-reserve-"), "saved.pcap");
    writeFileSync(path, "an older and longer capture\n");
    const reserved = reserveOutputFile(path, { what: "the capture file" });
    const descriptor = reserved.commit();
    writeSync(descriptor, "new\n");
    closeSync(descriptor);
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(() => reserved.commit()).toThrow(OutputError);
    reserved.abandon(); // after commit: nothing to do, the file stays
    expect(existsSync(path)).toBe(true);
  });
});
