/**
 * The bundled CLI (dist/imds-analyzer.cjs, scripts/bundle.mjs): the npm "bin" and the script in
 * the single executables. It must stand alone (no node_modules, no package.json beside it), keep
 * the version, and give the events the unbundled modules give.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliPath } from "../helpers/cli.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const unbundled = join(repositoryRoot, "dist", "bin.js");
const captures = ["awscli1-put403-fallback-any.pcapng", "keepalive-pipelined-lo.pcap", "ipv6-endpoint-lo.pcap"].map((name) => join(repositoryRoot, "captures", name));

function node(args: readonly string[], cwd: string = repositoryRoot) {
  const result = spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the bundled CLI", () => {
  it("needs nothing but Node's own modules", () => {
    const text = readFileSync(cliPath, "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n\"use strict\";\n")).toBe(true);
    const required = new Set([...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]));
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    expect([...required].filter((name) => name !== undefined && !builtins.has(name))).toEqual([]);
  });

  it("runs alone from another directory, with the package's version", () => {
    const alone = join(makeTempDir("imds-bundle-alone-"), "imds-analyzer.cjs");
    copyFileSync(cliPath, alone);
    const { version } = JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as { version: string };
    expect(node([alone, "--version"], "/")).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    const analyzed = node([alone, "analyze", "--quiet", captures[0]!], "/");
    expect(analyzed.code).toBe(0);
    expect(analyzed.stdout.trim().split("\n").length).toBeGreaterThan(1);
  });

  it("gives the events and exit code of the unbundled modules", () => {
    for (const args of [["analyze", "--quiet", ...captures], ["analyze", "--quiet", "--fail-on-v1", captures[0]!]]) {
      const fromBundle = node([cliPath, ...args]);
      const fromModules = node([unbundled, ...args]);
      expect(fromBundle.stdout.length).toBeGreaterThan(0);
      expect(fromBundle).toEqual(fromModules);
    }
  });
});
