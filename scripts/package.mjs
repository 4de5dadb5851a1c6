// @ts-check
/**
 * `npm run package` (after `npm run build`): the release files, in release/ (git-ignored):
 * - imds-analyzer-linux-x64, imds-analyzer-linux-arm64: Node single executable applications.
 *   Each is the official Node binary of that architecture (npm's node-linux-<arch> package, at
 *   the version running this script), stripped, with a blob injected (postject) that holds
 *   scripts/sea-main.cjs as its main script and, as assets, the bundled CLI
 *   (dist/imds-analyzer.cjs), V8 code caches for it (one per set of V8 options the executable is
 *   run with: none for interactive use, the service's from install-service; sea-main.cjs says
 *   why Node's own single code cache is not used) and the two native addons of that
 *   architecture (written to a private directory and loaded at run time: src/native-addon.ts).
 * - imds-analyzer-<version>.tgz: the npm package (`npm pack`), with the same addons as prebuilds.
 * - SHA256SUMS, for `sha256sum -c`.
 *
 * The code caches are made by the target's own node, run with each set of options: a cache is
 * V8's for one architecture, so the arm64 ones are made by the arm64 node under
 * qemu-aarch64-static (Debian's qemu-user-static, with the arm64 C libraries of
 * libc6-arm64-cross / libstdc++6-arm64-cross); without qemu it has none (slower start, same
 * behaviour).
 *
 * Node binaries are cached under $IMDS_ANALYZER_CACHE (default ~/.cache/imds-analyzer), keyed by
 * package, version and architecture: the first run fetches ~43 MB per architecture with npm.
 *
 * Usage: node scripts/package.mjs [--arch x64,arm64] [--no-prebuild] (default: each architecture
 * whose addons are here, after native/build.mjs --prebuild made them for both)
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const releaseDirectory = join(root, "release");
const bundlePath = join(root, "dist", "imds-analyzer.cjs");
/** The single executable's main script: it runs the bundle with the code cache for its options. */
const seaMainPath = join(root, "scripts", "sea-main.cjs");
const nodeVersion = process.versions.node;
/** Names of the addons inside the executables and under prebuilds/linux-<arch>/. */
export const addonFiles = ["imds_pcap.node", "imds_ebpf.node"];
/** The fuse postject sets so that node looks for its blob (Node's documented value). */
const seaFuse = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** @typedef {"x64" | "arm64"} Arch */
/** @type {Record<Arch, { strip: string, qemu: string | null, libraryRoot: string | null }>} */
const architectures = {
  x64: { strip: "strip", qemu: null, libraryRoot: null },
  arm64: { strip: "aarch64-linux-gnu-strip", qemu: "qemu-aarch64-static", libraryRoot: "/usr/aarch64-linux-gnu" },
};

/**
 * @param {string} command
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** @param {string} command */
function onPath(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

/** @param {string} message */
function say(message) {
  console.log(`package: ${message}`);
}

/**
 * The official node binary for `arch` at this node's version, from npm's node-linux-<arch>
 * package (fetched with `npm pack` once, then cached).
 * @param {Arch} arch
 */
function officialNode(arch) {
  const cache = join(process.env["IMDS_ANALYZER_CACHE"] ?? join(homedir(), ".cache", "imds-analyzer"), "node", `node-linux-${arch}-${nodeVersion}`);
  const binary = join(cache, "node");
  if (existsSync(binary)) return binary;
  mkdirSync(cache, { recursive: true });
  say(`fetching node-linux-${arch}@${nodeVersion} (npm pack)`);
  /** @type {unknown} */
  const output = JSON.parse(run("npm", ["pack", "--json", "--silent", `node-linux-${arch}@${nodeVersion}`], { cwd: cache }));
  const [packed] = /** @type {{ filename: string }[]} */ (output);
  if (packed === undefined) throw new Error(`npm pack node-linux-${arch}@${nodeVersion} printed no file`);
  const tarball = join(cache, packed.filename);
  run("tar", ["-xzf", tarball, "-C", cache, "--strip-components=2", "package/bin/node"]);
  rmSync(tarball);
  return binary;
}

/**
 * The addons of `arch`: prebuilds/linux-<arch>/ (the native cross-build's output); for this
 * machine's own architecture the from-source build serves when there is no prebuild.
 * @param {Arch} arch
 * @returns {Record<string, string>}
 */
function addonAssets(arch) {
  /** @type {Record<string, string>} */
  const assets = {};
  for (const file of addonFiles) {
    const prebuilt = join(root, "prebuilds", `linux-${arch}`, file);
    const source = join(root, "native", file.replace(/^imds_|\.node$/g, ""), "build", "Release", file);
    if (existsSync(prebuilt)) assets[file] = prebuilt;
    else if (arch === process.arch && existsSync(source)) assets[file] = source;
    else throw new Error(`no ${file} for linux-${arch}: build the prebuilds first (${join("prebuilds", `linux-${arch}`)} is missing it)`);
  }
  return assets;
}

/**
 * One single executable for `arch`: copy and strip its node, make the blob with that node, inject.
 * @param {Arch} arch
 * @param {string} work
 * @param {string[]} inputs receives the files the executable is made from
 * @param {Partial<Record<Arch, Record<string, string>>>} addons receives its addons by file name
 * @param {readonly (readonly string[])[]} codeCacheOptions the sets of V8 options to make a code cache for
 */
function buildExecutable(arch, work, inputs, addons, codeCacheOptions) {
  const target = architectures[arch];
  const node = officialNode(arch);
  if (arch === process.arch) {
    const same = readFileSync(node).equals(readFileSync(process.execPath));
    say(`linux-${arch}: node ${nodeVersion} from npm's node-linux-${arch}${same ? " (byte-identical to the node running this)" : ""}`);
  }
  const output = join(releaseDirectory, `imds-analyzer-linux-${arch}`);
  const partial = `${output}.partial`;
  copyFileSync(node, partial);
  chmodSync(partial, 0o755);
  const rawBytes = statSync(partial).size;
  let stripped = false;
  if (onPath(target.strip)) {
    run(target.strip, [partial]);
    stripped = true;
  } else say(`linux-${arch}: ${target.strip} not found, not stripped`);

  // The code caches are made by the target's node itself; for another architecture under qemu.
  const runsHere = arch === process.arch;
  const emulated = !runsHere && target.qemu !== null && onPath(target.qemu) && target.libraryRoot !== null && existsSync(target.libraryRoot);
  /** @param {readonly string[]} args */
  const runTargetNode = (args) => {
    if (runsHere) run(node, args);
    else if (target.qemu !== null && target.libraryRoot !== null) run(target.qemu, ["-L", target.libraryRoot, node, ...args]);
  };
  const addonFilesOfArch = addonAssets(arch);
  addons[arch] = addonFilesOfArch;
  inputs.push(bundlePath, seaMainPath, ...Object.values(addonFilesOfArch));
  /** @type {Record<string, string>} */
  const codeCaches = {};
  if (runsHere || emulated) {
    for (const options of codeCacheOptions) {
      const file = join(work, `code-cache-${arch}-${Object.keys(codeCaches).length}`);
      runTargetNode([...options, seaMainPath, "--make-code-cache", bundlePath, file]);
      codeCaches[`code-cache:${options.join(" ")}`] = file;
    }
  } else say(`linux-${arch}: no ${target.qemu ?? "emulator"}: no code cache`);
  const blob = join(work, `sea-${arch}.blob`);
  const config = join(work, `sea-${arch}.json`);
  writeFileSync(config, JSON.stringify({
    main: seaMainPath,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    // Node's one code cache would be for sea-main.cjs, and rejected, with a warning, under any
    // V8 option it was not made with: the bundle's caches are assets instead (sea-main.cjs).
    useCodeCache: false,
    assets: { ...addonFilesOfArch, "imds-analyzer.cjs": bundlePath, ...codeCaches },
  }, null, 2));
  run(process.execPath, ["--experimental-sea-config", config]);
  const postject = join(root, "node_modules", "postject", "dist", "cli.js");
  run(process.execPath, [postject, partial, "NODE_SEA_BLOB", blob, "--sentinel-fuse", seaFuse]);
  renameSync(partial, output);
  const bytes = statSync(output).size;
  const caches = Object.keys(codeCaches).map((key) => (key === "code-cache:" ? "no options" : key.replace("code-cache:", "NODE_OPTIONS=")));
  say(`linux-${arch}: ${basename(output)} ${(bytes / 1e6).toFixed(1)} MB (node ${(rawBytes / 1e6).toFixed(1)} MB${stripped ? ", stripped" : ""}; code caches: ${caches.length === 0 ? "none" : caches.join(", ")})`);
  return output;
}

/**
 * `npm pack` into release/: the package's own files (as `npm pack` lists them) staged in `work`
 * with prebuilds/linux-<arch>/ holding the very addons embedded in the executables.
 * @param {string} work
 * @param {Partial<Record<Arch, Record<string, string>>>} addonsByArch
 */
function packNpm(work, addonsByArch) {
  /** @type {unknown} */
  const listing = JSON.parse(run("npm", ["pack", "--dry-run", "--json", "--silent"], { cwd: root }));
  const [dryRun] = /** @type {{ files: { path: string }[] }[]} */ (listing);
  if (dryRun === undefined) throw new Error("npm pack --dry-run printed nothing");
  const stage = join(work, "npm");
  for (const { path } of dryRun.files) {
    if (path.startsWith("prebuilds/")) continue;
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(root, path), join(stage, path));
  }
  for (const [arch, assets] of Object.entries(addonsByArch)) {
    const directory = join(stage, "prebuilds", `linux-${arch}`);
    mkdirSync(directory, { recursive: true });
    for (const [file, source] of Object.entries(assets)) copyFileSync(source, join(directory, file));
  }
  /** @type {unknown} */
  const output = JSON.parse(run("npm", ["pack", "--json", "--silent", "--pack-destination", releaseDirectory], { cwd: stage }));
  const [packed] = /** @type {{ filename: string, size: number }[]} */ (output);
  if (packed === undefined) throw new Error("npm pack printed no file");
  say(`npm package: ${packed.filename} ${(packed.size / 1e6).toFixed(2)} MB, with prebuilds for ${Object.keys(addonsByArch).map((arch) => `linux-${arch}`).join(", ")}`);
  return join(releaseDirectory, packed.filename);
}

/**
 * release/inputs.sha256: what this release was made from (the bundle and every addon asset), so
 * that the tests rebuild it when those change and never test a stale one.
 * @param {readonly string[]} inputs
 */
function writeInputs(inputs) {
  const lines = [...new Set(inputs)].map((file) => `${createHash("sha256").update(readFileSync(file)).digest("hex")}  ${file}\n`);
  writeFileSync(join(releaseDirectory, "inputs.sha256"), lines.join(""));
}

/** @param {readonly string[]} files */
function writeChecksums(files) {
  const lines = files.map((file) => `${createHash("sha256").update(readFileSync(file)).digest("hex")}  ${basename(file)}\n`);
  writeFileSync(join(releaseDirectory, "SHA256SUMS"), lines.join(""));
}

/**
 * The V8 options install-service gives the service (src/service/installed-program.ts, built to
 * dist/ by `npm run build` like the bundle).
 * @returns {Promise<readonly string[]>}
 */
async function serviceNodeOptions() {
  /** @type {unknown} */
  const installedProgram = await import(pathToFileURL(join(root, "dist", "service", "installed-program.js")).href);
  return /** @type {{ serviceNodeOptions: readonly string[] }} */ (installedProgram).serviceNodeOptions;
}

async function main() {
  if (process.platform !== "linux") throw new Error("the release is built on Linux");
  if (!existsSync(bundlePath)) throw new Error(`${bundlePath} is missing: run npm run build first`);
  // A code cache for interactive use (no V8 options) and one for the service's options.
  const codeCacheOptions = [[], await serviceNodeOptions()];
  const archArgument = process.argv.indexOf("--arch");
  // The portable prebuilt addons of both architectures (native/build.mjs --prebuild: glibc 2.28,
  // libc.so.6 only, checked), which the executables embed and the tarball carries.
  if (!process.argv.includes("--no-prebuild")) {
    for (const arch of ["x64", "arm64"]) {
      say(`linux-${arch}: building the prebuilt addons (native/build.mjs --prebuild)`);
      run(process.execPath, [join(root, "native", "build.mjs"), "--prebuild", "--arch", arch]);
    }
  }
  // By default every architecture whose addons are here (this machine's always, from source at
  // least); --arch makes a missing one an error.
  const available = ["x64", "arm64"].filter((arch) => arch === process.arch || addonFiles.every((file) => existsSync(join(root, "prebuilds", `linux-${arch}`, file))));
  for (const arch of ["x64", "arm64"].filter((arch) => !available.includes(arch))) say(`linux-${arch}: skipped, no prebuilds/linux-${arch}/ (make them with the native cross-build)`);
  const requested = archArgument === -1 ? available : (process.argv[archArgument + 1] ?? "").split(",");
  /** @type {Arch[]} */
  const arches = requested.filter(/** @returns {a is Arch} */ (a) => a === "x64" || a === "arm64");
  if (arches.length !== requested.length) throw new Error(`--arch takes x64 and/or arm64, not ${requested.join(",")}`);
  mkdirSync(releaseDirectory, { recursive: true });
  for (const stale of readdirSync(releaseDirectory)) rmSync(join(releaseDirectory, stale), { recursive: true, force: true });
  const work = join(releaseDirectory, ".work");
  mkdirSync(work);
  try {
    /** @type {string[]} */
    const inputs = [];
    /** @type {Partial<Record<Arch, Record<string, string>>>} */
    const addons = {};
    const files = arches.map((arch) => buildExecutable(arch, work, inputs, addons, codeCacheOptions));
    files.push(packNpm(work, addons));
    writeChecksums(files);
    writeInputs(inputs);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  say(`wrote ${releaseDirectory}/: ${readdirSync(releaseDirectory).join(", ")}`);
}

await main();
