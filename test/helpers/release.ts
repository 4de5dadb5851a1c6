/**
 * The release files (`npm run package`: release/) for the tests that run what ships. Made again
 * when missing or when what they were made from changed (release/inputs.sha256 lists the bundle
 * and the addons with their hashes), so a test never runs a stale executable.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryRoot } from "./packed-package.js";

export const releaseDirectory = join(repositoryRoot, "release");

export function executablePath(arch: "x64" | "arm64"): string {
  return join(releaseDirectory, `imds-analyzer-linux-${arch}`);
}

export function tarballPath(): string {
  const tarball = readdirSync(releaseDirectory).find((name) => name.endsWith(".tgz"));
  if (tarball === undefined) throw new Error(`no npm tarball in ${releaseDirectory}`);
  return join(releaseDirectory, tarball);
}

function isCurrent(): boolean {
  const inputs = join(releaseDirectory, "inputs.sha256");
  if (!existsSync(inputs) || !existsSync(executablePath("x64"))) return false;
  const bundle = join(repositoryRoot, "dist", "imds-analyzer.cjs");
  const lines = readFileSync(inputs, "utf8").trim().split("\n").map((line) => /^([0-9a-f]{64}) {2}(.+)$/.exec(line));
  if (!lines.some((match) => match?.[2] === bundle)) return false;
  return lines.every((match) => match !== null && existsSync(match[2]!) && createHash("sha256").update(readFileSync(match[2]!)).digest("hex") === match[1]);
}

/** Makes the release unless it is current (a minute or two: two executables and npm pack). */
export function ensureRelease(): void {
  if (isCurrent()) return;
  const result = spawnSync(process.execPath, [join(repositoryRoot, "scripts", "package.mjs")], { cwd: repositoryRoot, encoding: "utf8", timeout: 600_000 });
  if (result.status !== 0) throw new Error(`scripts/package.mjs failed: ${result.stdout}${result.stderr}${result.error?.message ?? ""}`);
}
