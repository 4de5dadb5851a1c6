/**
 * install-service through npm (node and the bundle), end to end: the program is copied to a
 * stable place (the bundle, a package.json and the addons it loads) and the unit runs that copy;
 * every option is checked by capture's own check first, so a value capture refuses writes nothing.
 * The single executable's case (ExecStart is the installed executable alone) is in
 * test/package/release.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliPath } from "../helpers/cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";

function cli(args: readonly string[], program: readonly string[] = [process.execPath, cliPath]) {
  const [command, ...rest] = [...program, ...args];
  const result = spawnSync(command!, rest, { encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("install-service (npm)", () => {
  it("copies the bundle and its addons to --install-to, and the unit runs that copy with this node", () => {
    const root = makeTempDir("imds-install-");
    const [unitDir, logDir, installTo] = ["units", "log", "lib/imds-analyzer"].map((name) => join(root, name));
    mkdirSync(unitDir!);
    const result = cli(["install-service", "--unit-dir", unitDir!, "--log-dir", logDir!, "--install-to", installTo!, "--no-start", "--rotate-keep", "3"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`installed ${installTo} (the bundled CLI and its addons, run by ${process.execPath})`);
    const installedBundle = join(installTo!, "dist", "imds-analyzer.cjs");
    expect(readFileSync(installedBundle)).toEqual(readFileSync(cliPath));
    expect(readdirSync(join(installTo!, "prebuilds", `${process.platform}-${process.arch}`)).sort()).toEqual(["imds_ebpf.node", "imds_pcap.node"]);
    const unit = readFileSync(join(unitDir!, "imds-analyzer.service"), "utf8");
    expect(unit).toContain(`ExecStart=${process.execPath} --max-semi-space-size=2 ${installedBundle} capture --interface any --events ${join(logDir!, "events.ndjson")} `);
    expect(unit).toContain("--rotate-keep 3 --quiet");
    // The copy stands alone: it runs, and loads its own addons (the capture gets as far as the device).
    expect(cli(["--version"], [process.execPath, installedBundle]).code).toBe(0);
    const capture = cli(["capture", "-i", "imds-no-such-if0", "--duration", "1s"], [process.execPath, installedBundle]);
    expect(capture.stderr).not.toMatch(/addon/);
  });

  it("--print shows the unit for the default place and changes nothing", () => {
    const result = cli(["install-service", "--print"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`ExecStart=${process.execPath} --max-semi-space-size=2 /usr/local/lib/imds-analyzer/dist/imds-analyzer.cjs capture `);
    // node takes the V8 options on its command line: no NODE_OPTIONS (the single executable's way).
    expect(result.stdout).not.toContain("Environment=");
  });

  it("refuses what capture refuses, with capture's message and exit code 2, and writes nothing", () => {
    const root = makeTempDir("imds-install-bad-");
    const events = join(root, "events.ndjson");
    for (const bad of [["--rotate-keep", "abc"], ["--rotate-keep", "5000"], ["--rotate-keep", "-1"], ["--rotate-keep", "1e2"], ["--rotate-size", "12Q"]]) {
      const fromCapture = cli(["capture", "--events", events, ...bad]);
      const fromInstall = cli(["install-service", "--unit-dir", join(root, "units"), "--log-dir", join(root, "log"), "--install-to", join(root, "lib"), "--no-start", ...bad]);
      expect(fromCapture.code, bad.join(" ")).toBe(2);
      expect(fromCapture.stderr).toMatch(/^imds-analyzer: invalid --rotate-(keep|size) /);
      expect(fromInstall).toEqual(fromCapture);
      expect(readdirSync(root)).toEqual([]);
    }
    expect(existsSync(events)).toBe(false);
  });
});
