/**
 * The npm package as a user gets it: `npm pack` of this checkout (built first: `npm test` builds)
 * and `npm install` of the tarball into a fresh directory. Dependencies come from npm's cache
 * when they are there (npm ci filled it), else from the registry.
 */
import { spawnSync } from "node:child_process";
import type { SpawnSyncOptions } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const repositoryRoot = join(import.meta.dirname, "..", "..");

function npm(args: readonly string[], options: SpawnSyncOptions & { cwd: string }): string {
  const result = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { encoding: "utf8", timeout: 180_000, ...options });
  if (result.status !== 0) throw new Error(`npm ${args.join(" ")} failed in ${options.cwd}: ${String(result.stderr)}${result.error?.message ?? ""}`);
  return String(result.stdout);
}

/** Packs the package into `destination`; returns the tarball's path. */
export function packPackage(destination: string): string {
  const output = npm(["pack", "--json", "--pack-destination", destination], { cwd: repositoryRoot });
  const [packed] = JSON.parse(output) as { filename: string }[];
  if (packed === undefined) throw new Error(`npm pack printed no file: ${output}`);
  return join(destination, packed.filename);
}

/**
 * A fresh ESM project in `directory` with the tarball installed as a dependency. With
 * `ignoreScripts` the install step (native build or prebuild check) does not run: for tests of
 * the JavaScript API, which needs no native code.
 */
export function installIntoProject(directory: string, tarball: string, options: { ignoreScripts: boolean }): void {
  writeFileSync(join(directory, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }) + "\n");
  npm(["install", "--prefer-offline", ...(options.ignoreScripts ? ["--ignore-scripts"] : []), tarball], { cwd: directory });
}
