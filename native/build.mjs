// @ts-check
/**
 * Builds the native addons (each directory under native/ with a binding.gyp: native/pcap for
 * live capture, native/ebpf for eBPF attribution) with node-gyp, in one of two ways:
 *
 * From source, in place: `node native/build.mjs [--verbose]`, run at `npm install` when no
 * prebuilt addon loads. Output: native/<name>/build/Release/*.node. A failed build does not
 * fail the install: offline analysis needs no native code, and a machine without a compiler
 * or libpcap-dev must still be able to `npm ci`. It prints one line per addon that could not be
 * built and exits 0. Under CI=true a failed build exits 1 (CI must catch a broken native build)
 * and the compiler output is shown.
 *
 * Prebuilt, for shipping: `node native/build.mjs --prebuild [--arch x64|arm64]` (default: this
 * machine's) writes prebuilds/linux-<arch>/imds_pcap.node and imds_ebpf.node at the package
 * root, stripped, for `npm run package`. Built in a scratch copy (native/<name>/build stays this
 * machine's), cross-compiled for another architecture with Debian's cross toolchain
 * (gcc-aarch64-linux-gnu + libc6-dev-arm64-cross for arm64), and checked with
 * native/elf-check.mjs: anything that would not load on glibc 2.28 fails the build. Every
 * failure exits 1. The sources are the same for every architecture; what makes the result
 * portable is in the sources and binding.gyp (native/common/portable.h), not here.
 *
 * Nothing is downloaded when Node's headers are on this machine: node-gyp is pointed at them
 * (`--nodedir`, the prefix node runs from, e.g. /usr for Debian's nodejs) unless npm already
 * says where they are (npm_config_nodedir). Node-API, libuv and V8 headers are the same for
 * every architecture (config.gypi differs, and node-gyp's --arch overrides what it says), so a
 * prebuild for another architecture uses them too. With no headers here, a prebuild takes them
 * from Node's own build for that architecture (native/node-package.mjs, npm registry).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { addonPolicy, checkElf, readElfNeeds } from "./elf-check.mjs";
import { nodeDistribution } from "./node-package.mjs";

const nativeDirectory = dirname(fileURLToPath(import.meta.url));
const packageRoot = dirname(nativeDirectory);
/** A build that takes longer is stuck (node-gyp waiting on a network it cannot reach, say). */
const buildTimeoutMs = 10 * 60 * 1000;

/** What each addon gives, and the usual reason it does not build. */
const addonNotes = /** @type {const} */ ({
  pcap: { feature: "live capture", hint: "is libpcap-dev installed?" },
  ebpf: { feature: "eBPF process attribution", hint: "are a C compiler, python3 and linux-libc-dev installed?" },
});

/**
 * Prefixes of the cross tools (gcc, strip) that build for an architecture on another one;
 * Debian's names. Building for this machine's own architecture uses the default compiler.
 */
const crossToolPrefixes = /** @type {const} */ ({ x64: "x86_64-linux-gnu-", arm64: "aarch64-linux-gnu-" });
/** Where to look for pcap/pcap.h (libpcap-dev): the headers do not depend on the architecture. */
const pcapHeaderRoots = ["/usr/include", "/usr/local/include"];

const inCi = process.env["CI"] === "true";
const verbose = process.argv.includes("--verbose");

/** @param {string} name */
function notesFor(name) {
  if (name === "pcap" || name === "ebpf") return addonNotes[name];
  return { feature: `native/${name}`, hint: "is a C/C++ toolchain installed?" };
}

/** @returns {string[]} */
function addonNames() {
  return readdirSync(nativeDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(nativeDirectory, entry.name, "binding.gyp")))
    .map((entry) => entry.name)
    .sort();
}

/**
 * node-gyp's entry script: the one npm runs its scripts with (npm_config_node_gyp), the copy
 * bundled with npm next to this node, or a node-gyp installed in the project.
 * @returns {string | null}
 */
function findNodeGyp() {
  const candidates = [
    process.env["npm_config_node_gyp"],
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate !== "" && existsSync(candidate)) return candidate;
  }
  try {
    return createRequire(join(packageRoot, "package.json")).resolve("node-gyp/bin/node-gyp.js");
  } catch {
    return null;
  }
}

/** @returns {string | null} the prefix of this machine's Node headers (PREFIX/include/node), or null */
function localNodeHeaders() {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : null;
}

/** @returns {string[]} extra node-gyp arguments that keep it from downloading headers */
function headerArguments() {
  const configured = process.env["npm_config_nodedir"];
  if (configured !== undefined && configured !== "") return [];
  const prefix = localNodeHeaders();
  return prefix === null ? [] : [`--nodedir=${prefix}`];
}

/**
 * Runs node-gyp rebuild in `directory`.
 * @param {string} directory
 * @param {string} nodeGyp
 * @param {readonly string[]} extraArguments
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ ok: true } | { ok: false, output: string }}
 */
function runNodeGyp(directory, nodeGyp, extraArguments, env) {
  const result = spawnSync(process.execPath, [nodeGyp, "rebuild", `--directory=${directory}`, ...extraArguments], {
    cwd: directory,
    encoding: "utf8",
    timeout: buildTimeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    // node-gyp's own progress lines are noise at install time; errors still reach the output.
    env: { ...env, npm_config_loglevel: verbose ? "info" : "warn" },
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.error) return { ok: false, output: `${output}\n${result.error.message}` };
  if (result.status !== 0) return { ok: false, output };
  const release = join(directory, "build", "Release");
  const built = existsSync(release) && readdirSync(release).some((file) => file.endsWith(".node"));
  return built ? { ok: true } : { ok: false, output: `${output}\nno .node file in ${release}` };
}

/* ------------------------------------------------------------------------------------------ */
/* From source, in place (npm install)                                                          */
/* ------------------------------------------------------------------------------------------ */
function buildInPlace() {
  const nodeGyp = findNodeGyp();
  let failures = 0;
  for (const name of addonNames()) {
    const { feature, hint } = notesFor(name);
    const where = relative(packageRoot, join(nativeDirectory, name));
    const result =
      nodeGyp === null ? { ok: false, output: "node-gyp not found (it comes with npm)" } : runNodeGyp(join(nativeDirectory, name), nodeGyp, headerArguments(), process.env);
    if (result.ok) {
      console.log(`imds-analyzer: built ${where}`);
      continue;
    }
    failures++;
    // At install time one line per addon; the compiler output only when asked for or in CI.
    if (inCi || verbose) console.error(result.output.trimEnd());
    const details = inCi || verbose ? "" : " (details: node native/build.mjs --verbose)";
    console.error(`imds-analyzer: ${feature} unavailable: could not build ${where} (${hint})${details}`);
  }
  process.exitCode = failures > 0 && inCi ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Prebuilt, for shipping                                                                       */
/* ------------------------------------------------------------------------------------------ */
/** @param {string} message @returns {never} */
function prebuildFailure(message) {
  throw new Error(message);
}

/** @returns {"x64" | "arm64"} */
function requestedArch() {
  const index = process.argv.indexOf("--arch");
  const value = index < 0 ? process.arch : process.argv[index + 1];
  if (value === "x64" || value === "arm64") return value;
  return prebuildFailure(`--arch must be x64 or arm64, got ${String(value)}`);
}

/**
 * A directory holding only pcap/ (libpcap-dev's headers), for a cross compiler: adding the
 * host's whole /usr/include would mix the host's C library headers into the target's.
 * @param {string} scratch
 */
function pcapOnlyIncludeDirectory(scratch) {
  const root = pcapHeaderRoots.find((candidate) => existsSync(join(candidate, "pcap", "pcap.h")));
  if (root === undefined) return prebuildFailure(`pcap/pcap.h not found in ${pcapHeaderRoots.join(", ")}: install libpcap-dev`);
  const directory = join(scratch, "include");
  mkdirSync(directory);
  symlinkSync(join(root, "pcap"), join(directory, "pcap"));
  return directory;
}

/**
 * The compilers and flags for `arch`: this machine's own for its architecture, the cross tools
 * otherwise (C only: every addon is plain C, so gcc also links).
 * @param {"x64" | "arm64"} arch
 * @param {string} scratch
 * @returns {{ env: NodeJS.ProcessEnv, strip: string }}
 */
function toolchainFor(arch, scratch) {
  if (arch === process.arch) return { env: { ...process.env }, strip: "strip" };
  const prefix = crossToolPrefixes[arch];
  const gcc = `${prefix}gcc`;
  if (spawnSync(gcc, ["--version"]).status !== 0) {
    prebuildFailure(`${gcc} not found: building for ${arch} on ${process.arch} needs Debian's gcc-${prefix.slice(0, -1)} and libc6-dev-${arch}-cross`);
  }
  const include = `-I${pcapOnlyIncludeDirectory(scratch)}`;
  const env = { ...process.env, CC: gcc, CXX: gcc, LINK: gcc, AR: `${prefix}ar`, CFLAGS: [process.env["CFLAGS"], include].filter(Boolean).join(" ") };
  return { env, strip: `${prefix}strip` };
}

/**
 * --nodedir for a prebuild: npm's, this machine's headers, or the headers of Node's own build
 * for `arch` (downloaded once).
 * @param {"x64" | "arm64"} arch
 */
function prebuildHeaderArguments(arch) {
  const configured = process.env["npm_config_nodedir"];
  if (configured !== undefined && configured !== "") return [`--nodedir=${configured}`];
  return [`--nodedir=${localNodeHeaders() ?? nodeDistribution(arch)}`];
}

function prebuild() {
  const arch = requestedArch();
  const nodeGyp = findNodeGyp() ?? prebuildFailure("node-gyp not found (it comes with npm)");
  const output = join(packageRoot, "prebuilds", `linux-${arch}`);
  const scratch = mkdtempSync(join(tmpdir(), `imds-prebuild-${arch}-`));
  try {
    const { env, strip } = toolchainFor(arch, scratch);
    const headers = prebuildHeaderArguments(arch);
    // A copy of native/ without build output: each addon finds ../common as in the package.
    const copy = join(scratch, "native");
    cpSync(nativeDirectory, copy, { recursive: true, filter: (source) => !/[/\\]build$/.test(source) && !/[/\\]node_modules$/.test(source) });
    mkdirSync(output, { recursive: true });
    for (const name of addonNames()) {
      const result = runNodeGyp(join(copy, name), nodeGyp, [`--arch=${arch}`, ...headers], env);
      if (!result.ok) prebuildFailure(`${result.output.trimEnd()}\nprebuild of native/${name} for linux-${arch} failed`);
      const release = join(copy, name, "build", "Release");
      for (const file of readdirSync(release).filter((entry) => entry.endsWith(".node"))) {
        const target = join(output, file);
        copyFileSync(join(release, file), target);
        const stripped = spawnSync(strip, ["--strip-unneeded", target], { encoding: "utf8" });
        if (stripped.status !== 0) prebuildFailure(`${strip} ${target} failed: ${stripped.stderr || stripped.error?.message}`);
        const needs = readElfNeeds(target);
        const problems = needs.arch === arch ? checkElf(needs, addonPolicy) : [`${target}: built for ${needs.arch}, not ${arch}`];
        if (problems.length > 0) {
          rmSync(target, { force: true });
          prebuildFailure(`not portable, removed:\n  ${problems.join("\n  ")}`);
        }
        console.log(`imds-analyzer: prebuilt ${relative(packageRoot, target)}`);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv.includes("--prebuild")) {
  try {
    prebuild();
  } catch (error) {
    console.error(`imds-analyzer: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
} else {
  buildInPlace();
}
