// @ts-check
/**
 * The package's install step (package.json "install"): nothing to compile when the prebuilt
 * addons shipped in prebuilds/<platform>-<arch>/ load here, which is the case on any x64 or arm64
 * Linux with glibc 2.28 or newer. Otherwise (another platform, or a prebuild that does not load)
 * it builds from source with native/build.mjs, which never fails the install outside CI.
 *
 * Each prebuild is loaded in a child process, so that a broken one cannot take the install down;
 * src/native-addon.ts loads from the same two places at run time, the newer file first (they meet
 * only in a development checkout: there a build made after changing the C code wins).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDirectory = dirname(fileURLToPath(import.meta.url));
const packageRoot = dirname(nativeDirectory);
const platform = `${process.platform}-${process.arch}`;
const prebuilds = join(packageRoot, "prebuilds", platform);
const addonFiles = ["imds_pcap.node", "imds_ebpf.node"];

/** @param {string} path @returns {string | null} why it does not load, or null when it does */
function loadProblem(path) {
  if (!existsSync(path)) return "missing";
  const result = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(path)})`], { encoding: "utf8", timeout: 30_000 });
  if (result.status === 0) return null;
  const lines = `${result.stderr}${result.error?.message ?? ""}`.split("\n").filter((line) => /error/i.test(line));
  return lines[0]?.trim() ?? `exit ${String(result.status ?? result.signal)}`;
}

const problems = addonFiles.map((file) => ({ file, problem: loadProblem(join(prebuilds, file)) }));
const failing = problems.filter(({ problem }) => problem !== null);
if (failing.length === 0) {
  console.log(`imds-analyzer: using the prebuilt addons for ${platform} (nothing to compile)`);
} else {
  if (existsSync(prebuilds)) {
    for (const { file, problem } of failing) console.log(`imds-analyzer: prebuilt ${file} for ${platform} does not load here (${problem}): building from source`);
  }
  const build = spawnSync(process.execPath, [join(nativeDirectory, "build.mjs"), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exitCode = build.status ?? 1;
}
