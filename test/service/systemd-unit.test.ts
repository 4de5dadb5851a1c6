import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UnsafeOutputPathError } from "../../src/errors.js";
import { installService, renderSystemdUnit } from "../../src/service/systemd-unit.js";
import { shouldSkipRootTests } from "../helpers/netns.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/** node and an installed bundle (systemd-analyze verify wants the program to exist: node does). */
const command = [process.execPath, "/usr/local/lib/imds-analyzer/dist/imds-analyzer.cjs"];

describe("systemd unit", () => {
  const settings = {
    command,
    logDirectory: "/var/log/imds-analyzer",
    interface: "any",
    rotateSize: "100M",
    rotateKeep: 10,
  };

  it("starts before the network (and cloud-init), restarts on failure, reloads with SIGHUP", () => {
    const unit = renderSystemdUnit(settings);
    expect(unit).toContain("Before=network-pre.target network-online.target cloud-init-local.service shutdown.target");
    expect(unit).toContain("Restart=on-failure");
    expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID");
    expect(unit).toContain("UMask=0077");
    expect(unit).toContain(
      `ExecStart=${process.execPath} /usr/local/lib/imds-analyzer/dist/imds-analyzer.cjs capture --interface any --events /var/log/imds-analyzer/events.ndjson ` +
        "--summary-json /var/log/imds-analyzer/summary.json --rotate-size 100M --rotate-keep 10 --quiet",
    );
  });

  it("gives the service its environment (the single executable's V8 options as NODE_OPTIONS) before ExecStart, quoted when it has spaces", () => {
    expect(renderSystemdUnit(settings)).not.toContain("Environment=");
    const unit = renderSystemdUnit({ ...settings, command: ["/usr/local/bin/imds-analyzer"], environment: { NODE_OPTIONS: "--max-semi-space-size=2" } });
    expect(unit).toContain("[Service]\nType=simple\nEnvironment=NODE_OPTIONS=--max-semi-space-size=2\nExecStart=/usr/local/bin/imds-analyzer capture --interface any ");
    const spaced = renderSystemdUnit({ ...settings, environment: { NODE_OPTIONS: "--max-semi-space-size=2 --stack-trace-limit=20" } });
    expect(spaced).toContain('\nEnvironment="NODE_OPTIONS=--max-semi-space-size=2 --stack-trace-limit=20"\nExecStart=');
  });

  it("is accepted by systemd-analyze verify, and install writes it with a 0700 log directory", () => {
    const root = makeTempDir("imds-unit-");
    const result = installService({ ...settings, environment: { NODE_OPTIONS: "--max-semi-space-size=2" }, logDirectory: join(root, "log") }, { unitDirectory: root, start: false });
    expect(result.started).toBe(false);
    expect(statSync(join(root, "log")).mode & 0o777).toBe(0o700);
    expect(readFileSync(result.unitPath, "utf8")).toContain("[Install]\nWantedBy=sysinit.target");
    const verify = spawnSync("systemd-analyze", ["verify", result.unitPath], { encoding: "utf8" });
    if (verify.error) {
      if (process.env["CI"] === "true") throw new Error("systemd-analyze is missing under CI=true");
      console.warn("skipping systemd-analyze verify: not installed");
      return;
    }
    // Units named in Before= may not exist on a test machine; anything else is a real problem.
    const problems = verify.stderr.split("\n").filter((line) => line.trim().length > 0 && !/cloud-init-local\.service|not found|Failed to .*unit/i.test(line));
    expect(problems, verify.stderr).toEqual([]);
  });
});

/** A directory laid out like /tmp (mode 1777) in a fresh temporary directory. */
function sharedTmp(): string {
  const shared = join(makeTempDir("imds-unit-shared-"), "tmp");
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  return shared;
}

describe("install-service writes through the same safe-path rules as every output", () => {
  const settings = { command, interface: "any", rotateSize: "100M", rotateKeep: 10 };
  const skipRootTests = shouldSkipRootTests("install-service with another user's directory (chown)");

  it("writes the unit 0644 and sets an existing log directory of ours to 0700", () => {
    const root = makeTempDir("imds-unit-");
    const logDirectory = join(root, "log");
    mkdirSync(logDirectory, { mode: 0o755 });
    chmodSync(logDirectory, 0o755);
    const result = installService({ ...settings, logDirectory }, { unitDirectory: root, start: false });
    expect(statSync(result.unitPath).mode & 0o777).toBe(0o644);
    expect(statSync(logDirectory).mode & 0o777).toBe(0o700);
    // Reinstalling replaces the unit's text (and keeps its mode).
    writeFileSync(result.unitPath, "old text that is longer than nothing\n".repeat(200));
    installService({ ...settings, logDirectory }, { unitDirectory: root, start: false });
    expect(readFileSync(result.unitPath, "utf8")).toBe(renderSystemdUnit({ ...settings, logDirectory }));
  });

  it("refuses a unit path that is a symbolic link in a world-writable directory, and leaves its target alone", () => {
    const shared = sharedTmp();
    const victim = join(makeTempDir("imds-unit-victim-"), "victim");
    writeFileSync(victim, "victim\n", { mode: 0o600 });
    symlinkSync(victim, join(shared, "imds-analyzer.service"));
    const logDirectory = join(makeTempDir("imds-unit-"), "log");
    expect(() => installService({ ...settings, logDirectory }, { unitDirectory: shared, start: false })).toThrow(UnsafeOutputPathError);
    expect(() => installService({ ...settings, logDirectory }, { unitDirectory: shared, start: false })).toThrow(/symbolic link .*imds-analyzer\.service in the world-writable directory/);
    expect(readFileSync(victim, "utf8")).toBe("victim\n");
    expect(statSync(victim).mode & 0o777).toBe(0o600);
  });

  it("refuses a log directory reached through a symbolic link in a world-writable directory, and changes nothing there", () => {
    const shared = sharedTmp();
    const target = join(makeTempDir("imds-unit-victim-"), "somewhere");
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    symlinkSync(target, join(shared, "log"));
    const unitDirectory = makeTempDir("imds-unit-");
    expect(() => installService({ ...settings, logDirectory: join(shared, "log") }, { unitDirectory, start: false })).toThrow(UnsafeOutputPathError);
    expect(() => installService({ ...settings, logDirectory: join(shared, "log", "deeper") }, { unitDirectory, start: false })).toThrow(UnsafeOutputPathError);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(target)).toEqual([]);
    expect(readdirSync(unitDirectory)).toEqual([]);
  });

  it("creates a missing log directory (and its parents) 0700 in a world-writable directory", () => {
    const shared = sharedTmp();
    const logDirectory = join(shared, "a", "log");
    installService({ ...settings, logDirectory }, { unitDirectory: makeTempDir("imds-unit-"), start: false });
    expect(statSync(logDirectory).mode & 0o777).toBe(0o700);
    expect(statSync(join(shared, "a")).mode & 0o777).toBe(0o700);
  });

  it("refuses a log directory path that is a file", () => {
    const root = makeTempDir("imds-unit-");
    writeFileSync(join(root, "log"), "");
    expect(() => installService({ ...settings, logDirectory: join(root, "log") }, { unitDirectory: root, start: false })).toThrow(/the log directory: it exists and is not a directory/);
  });

  it.skipIf(skipRootTests)("as root, refuses a log directory in a world-writable directory that another user owns", () => {
    const shared = sharedTmp();
    const logDirectory = join(shared, "log");
    mkdirSync(logDirectory, { mode: 0o755 });
    chownSync(logDirectory, 65534, 65534);
    expect(() => installService({ ...settings, logDirectory }, { unitDirectory: makeTempDir("imds-unit-"), start: false })).toThrow(
      /refusing to use the log directory: it belongs to uid 65534 and is in the world-writable directory/,
    );
    expect(statSync(logDirectory).mode & 0o777).toBe(0o755);
  });
});
