/**
 * Runs a command on this machine as if the libpcap package were not installed. LD_LIBRARY_PATH
 * cannot hide a library the loader finds in its system directories, so: in a private mount
 * namespace, every system library directory that holds libpcap.so* is covered by an overlay of
 * itself in which those files are deleted (or, with `replaceWith`, libpcap.so.1 is another
 * library). Nothing outside the namespace changes, and the namespace ends with the command.
 * The command also gets a network namespace of its own with only a down lo: even a capture
 * that wrongly started would see no traffic. Needs root, unshare and overlayfs.
 */
import { spawnSync } from "node:child_process";
import type { SpawnSyncReturns } from "node:child_process";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeTempDir } from "./temp-dir.js";

/** What the dynamic loader searches besides ld.so.cache (glibc's default path and the multiarch ones). */
const systemLibraryDirectories = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"];
const multiarchTriplets: Partial<Record<NodeJS.Architecture, string>> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

function isLibpcapFile(name: string): boolean {
  return name.startsWith("libpcap.so");
}

/** The directories (real paths, once each) from which the loader could open libpcap here. */
export function libpcapDirectories(): string[] {
  const candidates = new Set<string>();
  const triplet = multiarchTriplets[process.arch];
  for (const directory of systemLibraryDirectories) {
    candidates.add(directory);
    if (triplet !== undefined) candidates.add(join(directory, triplet));
  }
  const cache = spawnSync("ldconfig", ["-p"], { encoding: "utf8" });
  for (const line of cache.stdout.split("\n")) {
    const path = /^\s*libpcap\.so\S*\s.*=>\s*(\S+)$/.exec(line)?.[1];
    if (path !== undefined) candidates.add(dirname(path));
  }
  const found = new Set<string>();
  for (const directory of candidates) {
    if (!existsSync(directory)) continue;
    const real = realpathSync(directory);
    if (readdirSync(real).some(isLibpcapFile)) found.add(real);
  }
  return [...found].sort();
}

export interface WithoutLibpcapOptions {
  /** A library copied in as libpcap.so.1 (found, but not libpcap) instead of none at all. */
  readonly replaceWith?: string;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** Runs `command` (argv) where libpcap cannot be loaded; see the file comment. */
export function runWithoutLibpcap(command: readonly string[], options: WithoutLibpcapOptions = {}): SpawnSyncReturns<string> {
  const directories = libpcapDirectories();
  if (directories.length === 0) throw new Error("no libpcap.so* in the system library directories: nothing to hide (is libpcap installed?)");
  const scratch = makeTempDir("imds-no-libpcap-");
  // $1 scratch directory, $2 the library to put in as libpcap.so.1 (or ""), $3.. directories,
  // then "--" and the command. Each overlay's upper and work directories live on one tmpfs.
  const script = [
    "set -eu",
    'scratch=$1; replacement=$2; shift 2',
    'mount -t tmpfs tmpfs "$scratch"',
    'index=0; first=$1',
    'while [ "$1" != "--" ]; do',
    '  index=$((index + 1)); mkdir "$scratch/upper$index" "$scratch/work$index"',
    '  mount -t overlay overlay -o "lowerdir=$1,upperdir=$scratch/upper$index,workdir=$scratch/work$index" "$1"',
    '  rm -f "$1"/libpcap.so*',
    "  shift",
    "done",
    "shift",
    // Into an overlay (its tmpfs upper directory), never into the real directory.
    'if [ -n "$replacement" ]; then cp "$replacement" "$first/libpcap.so.1"; fi',
    'exec "$@"',
  ].join("\n");
  return spawnSync(
    "unshare",
    ["--mount", "--propagation", "private", "--net", "sh", "-c", script, "sh", scratch, options.replaceWith ?? "", ...directories, "--", ...command],
    { encoding: "utf8", timeout: options.timeoutMs ?? 60_000, cwd: options.cwd, env: { ...process.env } },
  );
}
