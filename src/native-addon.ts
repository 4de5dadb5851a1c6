/**
 * Loading the project's Node-API addons. A missing or broken addon is a reason to report, never a
 * crash: offline analysis needs no native code. Where an addon comes from, first that loads:
 * 1. inside a single executable (scripts/package.mjs), the asset of its name: written into a
 *    private directory (mkdtemp, 0700; the file O_EXCL), loaded with process.dlopen and removed
 *    at once; a directory on a noexec file system cannot map it, so the next place is tried:
 *    $TMPDIR (or /tmp), $XDG_RUNTIME_DIR, /dev/shm, the executable's own directory;
 * 2. prebuilds/linux-<arch>/<file> in the package: shipped prebuilt in the npm tarball;
 * 3. native/<name>/build/Release/<file>: built from source at install (native/build.mjs).
 * Between 2 and 3 the newer file is tried first: an install builds from source only when the
 * prebuild does not load, so the two meet in a development checkout, where the newer one is
 * either the prebuild CI just made (the tests then run the binaries that ship) or a build the
 * developer made after changing the C code (which a stale prebuild must not hide).
 * Paths are resolved from the package root, so this works from src/ (tests), dist/ and the
 * bundle alike. When none loads, the reason says what was tried and why each failed.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { constants, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type AddonLoadResult<Addon> =
  | { readonly ok: true; readonly addon: Addon; readonly origin: string }
  | { readonly ok: false; readonly reason: string };

export interface AddonDescription<Addon> {
  /** The addon's file name, the same in every place: "imds_pcap.node". */
  readonly fileName: string;
  /** Its source directory relative to the package root: "native/pcap". */
  readonly sourceDirectory: string;
  /** What it is, for messages: "libpcap addon", "eBPF addon". */
  readonly title: string;
  /** What building it needs, for the hint in the message. */
  readonly buildNeeds: string;
  /** Checks that what was loaded has the expected shape. */
  readonly isAddon: (value: unknown) => value is Addon;
}

/** The nearest directory at or above `startDirectory` holding a package.json. */
export function findPackageRoot(startDirectory: string): string | null {
  let directory = startDirectory;
  for (;;) {
    if (existsSync(join(directory, "package.json"))) return directory;
    const parent = dirname(directory);
    if (parent === directory) return null;
    directory = parent;
  }
}

/** Where the prebuilt addons of this platform are, relative to the package root. */
export function prebuildDirectory(platform: string = process.platform, arch: string = process.arch): string {
  return join("prebuilds", `${platform}-${arch}`);
}

type Attempt<Addon> = { readonly ok: true; readonly addon: Addon } | { readonly ok: false; readonly problem: string };

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checked<Addon>(value: unknown, description: AddonDescription<Addon>): Attempt<Addon> {
  return description.isAddon(value) ? { ok: true, addon: value } : { ok: false, problem: `not the imds-analyzer ${description.title}` };
}

interface SeaAssets {
  getRawAsset(key: string): ArrayBuffer;
}

/** The running single executable's assets, or null when this is not one. */
function singleExecutableAssets(): SeaAssets | null {
  try {
    const sea = createRequire(import.meta.url)("node:sea") as { isSea(): boolean } & SeaAssets;
    return sea.isSea() ? sea : null;
  } catch {
    return null; // node:sea came with Node 20.12: older nodes are never a single executable
  }
}

/** Whether this process is a single executable (scripts/package.mjs), not node running a script. */
export function isSingleExecutable(): boolean {
  return singleExecutableAssets() !== null;
}

/** Directories to write an embedded addon into, in order; the first on an exec-mountable file system wins. */
function privateDirectoryBases(): string[] {
  const candidates = [tmpdir(), process.env["XDG_RUNTIME_DIR"], "/dev/shm", dirname(process.execPath)];
  return [...new Set(candidates.filter((candidate): candidate is string => candidate !== undefined && candidate !== ""))];
}

/** One try: the asset written into a fresh private directory under `base`, loaded, removed. */
function loadAssetIn<Addon>(base: string, bytes: Uint8Array, description: AddonDescription<Addon>): Attempt<Addon> {
  let directory: string;
  try {
    directory = mkdtempSync(join(base, "imds-analyzer-"));
  } catch (error) {
    return { ok: false, problem: `cannot make a private directory in ${base}: ${(error as NodeJS.ErrnoException).code ?? errorText(error)}` };
  }
  try {
    const path = join(directory, description.fileName);
    writeFileSync(path, bytes, { flag: "wx", mode: 0o700 });
    const module = { exports: {} as unknown };
    process.dlopen(module, path, constants.dlopen.RTLD_NOW);
    return checked(module.exports, description);
  } catch (error) {
    return { ok: false, problem: `${base}: ${errorText(error)}` };
  } finally {
    // Mapped into the process already: the file is not needed any more, and nothing is left behind.
    rmSync(directory, { recursive: true, force: true });
  }
}

function loadEmbedded<Addon>(assets: SeaAssets, description: AddonDescription<Addon>): AddonLoadResult<Addon> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(assets.getRawAsset(description.fileName));
  } catch (error) {
    return { ok: false, reason: `the ${description.title} is not in this executable (${errorText(error)})` };
  }
  const problems: string[] = [];
  for (const base of privateDirectoryBases()) {
    const attempt = loadAssetIn(base, bytes, description);
    if (attempt.ok) return { ok: true, addon: attempt.addon, origin: `embedded (${description.fileName})` };
    problems.push(attempt.problem);
  }
  return { ok: false, reason: `cannot load the ${description.title} embedded in this executable: ${problems.join("; ")}` };
}

/** A file's modification time, or -1 when it is not there. */
function modifiedAtMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/** Where an addon lies outside a single executable: a prebuild, or a build from source. */
export interface AddonFile {
  readonly kind: "prebuilt" | "source";
  readonly path: string;
}

/**
 * The files `loadNativeAddon` tries outside a single executable, in the order it tries them: of
 * the prebuild and the build from source, the newer first (see the top of this file). Whoever
 * copies an addon (install-service) takes it from here too, so it copies what would be loaded.
 */
export function addonFilesInLoadOrder(
  description: Pick<AddonDescription<unknown>, "fileName" | "sourceDirectory">,
  packageRoot: string,
): readonly AddonFile[] {
  const prebuilt: AddonFile = { kind: "prebuilt", path: join(packageRoot, prebuildDirectory(), description.fileName) };
  const built: AddonFile = { kind: "source", path: join(packageRoot, description.sourceDirectory, "build", "Release", description.fileName) };
  return modifiedAtMs(built.path) > modifiedAtMs(prebuilt.path) ? [built, prebuilt] : [prebuilt, built];
}

function loadFile<Addon>(path: string, description: AddonDescription<Addon>): Attempt<Addon> {
  if (!existsSync(path)) return { ok: false, problem: `${path} is missing` };
  try {
    return checked(createRequire(import.meta.url)(path), description);
  } catch (error) {
    return { ok: false, problem: `cannot load ${path}: ${errorText(error)}` };
  }
}

/**
 * Loads the addon from the first place that has one that loads (see the top of this file).
 * `packageRoot` is for tests; by default the package this module belongs to.
 */
export function loadNativeAddon<Addon>(description: AddonDescription<Addon>, packageRoot?: string): AddonLoadResult<Addon> {
  const assets = packageRoot === undefined ? singleExecutableAssets() : null;
  if (assets !== null) return loadEmbedded(assets, description);
  const root = packageRoot ?? findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  if (root === null) return { ok: false, reason: "cannot find the imds-analyzer package directory (no package.json above the module)" };
  const problems = { prebuilt: "", source: "" };
  for (const { kind, path } of addonFilesInLoadOrder(description, root)) {
    const attempt = loadFile(path, description);
    if (attempt.ok) return { ok: true, addon: attempt.addon, origin: `${kind === "prebuilt" ? "prebuilt" : "built from source"} (${path})` };
    problems[kind] = attempt.problem;
  }
  return {
    ok: false,
    reason: `the ${description.title} could not be loaded: no prebuilt one for ${process.platform}-${process.arch} loads (${problems.prebuilt}) ` +
      `and the one built from source does not either (${problems.source}); to build it: run "node native/build.mjs" in ${root} (needs ${description.buildNeeds})`,
  };
}
