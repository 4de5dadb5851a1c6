// @ts-check
/**
 * Builds every native addon under native/ (each directory with a binding.gyp: native/pcap for
 * live capture, native/ebpf when present), each on its own, with node-gyp. Run by `npm install` /
 * `npm ci` (the package's "install" script) and by hand: `node native/build.mjs [--verbose]`.
 *
 * A failed build does not fail the install: offline analysis needs no native code, and a
 * machine without libpcap-dev must still be able to `npm ci`. It prints one line per addon that
 * could not be built and exits 0. Under CI=true a failed build exits 1 (CI must catch a broken
 * native build) and the compiler output is shown.
 *
 * Nothing is downloaded when Node's headers are on this machine: node-gyp is pointed at them
 * (`--nodedir`, the prefix node runs from, e.g. /usr for Debian's nodejs) unless npm already
 * says where they are (npm_config_nodedir). Output: native/<name>/build/Release/*.node.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDirectory = dirname(fileURLToPath(import.meta.url));
const packageRoot = dirname(nativeDirectory);
/** A build that takes longer is stuck (node-gyp waiting on a network it cannot reach, say). */
const buildTimeoutMs = 10 * 60 * 1000;

/** What each addon gives, and the usual reason it does not build. */
const addonNotes = /** @type {const} */ ({
  pcap: { feature: "live capture", hint: "is libpcap-dev installed?" },
  ebpf: { feature: "eBPF process attribution", hint: "are a C compiler, python3 and linux-libc-dev installed?" },
});

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

/** @returns {string[]} extra node-gyp arguments that keep it from downloading headers */
function headerArguments() {
  const configured = process.env["npm_config_nodedir"];
  if (configured !== undefined && configured !== "") return [];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

/**
 * @param {string} name
 * @param {string} nodeGyp
 * @returns {{ ok: true } | { ok: false, output: string }}
 */
function build(name, nodeGyp) {
  const directory = join(nativeDirectory, name);
  const result = spawnSync(process.execPath, [nodeGyp, "rebuild", `--directory=${directory}`, ...headerArguments()], {
    cwd: directory,
    encoding: "utf8",
    timeout: buildTimeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    // node-gyp's own progress lines are noise at install time; errors still reach the output.
    env: { ...process.env, npm_config_loglevel: verbose ? "info" : "warn" },
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.error) return { ok: false, output: `${output}\n${result.error.message}` };
  if (result.status !== 0) return { ok: false, output };
  const release = join(directory, "build", "Release");
  const built = existsSync(release) && readdirSync(release).some((file) => file.endsWith(".node"));
  return built ? { ok: true } : { ok: false, output: `${output}\nno .node file in ${release}` };
}

function main() {
  const names = addonNames();
  const nodeGyp = findNodeGyp();
  let failures = 0;
  for (const name of names) {
    const { feature, hint } = notesFor(name);
    const where = relative(packageRoot, join(nativeDirectory, name));
    const result = nodeGyp === null ? { ok: false, output: "node-gyp not found (it comes with npm)" } : build(name, nodeGyp);
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

main();
