/**
 * What a service unit runs must outlive the command that installed it: an `npx` cache, a
 * temporary directory or an unpacked download can disappear, and the unit would then fail at the
 * next boot. So install-service copies the program it is running from to a stable place first:
 * - a single executable (scripts/package.mjs) copies itself, by default to
 *   /usr/local/bin/imds-analyzer, and the unit runs that file alone (its V8 options in
 *   NODE_OPTIONS);
 * - run through npm (node and the bundle, dist/imds-analyzer.cjs), it copies the bundle, a
 *   package.json (so the addon loader finds its root) and the two native addons it loads now, by
 *   default into /usr/local/lib/imds-analyzer/, and the unit runs this node with that bundle.
 *   The bundle holds all the JavaScript (commander included): nothing else is needed. Node
 *   itself stays where it is (the unit names its path): it is the system's or the user's.
 * Every file is written through output-path.ts's checks (no planted links) as a new file that
 * replaces the old one by rename, so a running service's program is never changed in place.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OutputError } from "../errors.js";
import { openOutputFile } from "../sink/output-path.js";
import { addonFilesInLoadOrder, findPackageRoot, isSingleExecutable, prebuildDirectory } from "../native-addon.js";

/**
 * V8 options for the service: a young generation of 2 MiB semi-spaces instead of 16 took the
 * peak RSS at ~3,000 calls/s from 205 to 178 MiB at about the same CPU per call (bench/README.md,
 * memory). Node running the bundle gets them on its command line; the single executable, which
 * takes no node options there, in the unit's NODE_OPTIONS, and it carries a code cache made with
 * exactly these options (scripts/package.mjs, scripts/sea-main.cjs: V8 refuses a cache made
 * under other options).
 */
export const serviceNodeOptions: readonly string[] = ["--max-semi-space-size=2"];

export const defaultExecutableInstallPath = "/usr/local/bin/imds-analyzer";
export const defaultBundleInstallDirectory = "/usr/local/lib/imds-analyzer";
const bundleFile = join("dist", "imds-analyzer.cjs");
const addonFiles = ["imds_pcap.node", "imds_ebpf.node"] as const;

export interface ProgramInstallPlan {
  /** "executable" (a single executable copies itself) or "bundle" (node + the bundled CLI). */
  readonly kind: "executable" | "bundle";
  /** Where it goes: the executable's path, or the directory for the bundle. */
  readonly destination: string;
  /** The unit's command before "capture ...": [executable] or [node, V8 options, bundle]. */
  readonly command: readonly string[];
  /** The unit's environment: the single executable's V8 options, as NODE_OPTIONS. */
  readonly environment: Readonly<Record<string, string>>;
  /** Files to copy: destination path -> source path, and the mode to give each. */
  readonly files: readonly { readonly from: string; readonly to: string; readonly mode: number }[];
}

/**
 * The addons a copy of the bundle needs: for each, the file this package's loader tries first
 * (native-addon.ts: of a prebuild and a build from source, the newer), so the service runs the
 * addon this process would. (Prebuild first copied a stale prebuild over a newer build from
 * source, or, where the prebuild cannot load and install built from source, one that fails.)
 */
export function installedAddonSources(packageRoot: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const file of addonFiles) {
    const sourceDirectory = join("native", file.replace(/^imds_|\.node$/g, ""));
    const found = addonFilesInLoadOrder({ fileName: file, sourceDirectory }, packageRoot).find(({ path }) => existsSync(path));
    if (found !== undefined) sources.set(file, found.path);
  }
  return sources;
}

/** Works out what to copy where; `installTo` overrides the default destination. */
export function planProgramInstall(installTo: string | undefined): ProgramInstallPlan {
  if (isSingleExecutable()) {
    const destination = resolve(installTo ?? defaultExecutableInstallPath);
    return {
      kind: "executable",
      destination,
      command: [destination],
      environment: { NODE_OPTIONS: serviceNodeOptions.join(" ") },
      files: [{ from: process.execPath, to: destination, mode: 0o755 }],
    };
  }
  const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  const bundle = packageRoot === null ? null : join(packageRoot, bundleFile);
  if (packageRoot === null || bundle === null || !existsSync(bundle)) {
    throw new OutputError(packageRoot ?? ".", `cannot install the service: the bundled CLI (${bundleFile}) is not in this package; run "npm run build"`);
  }
  const destination = resolve(installTo ?? defaultBundleInstallDirectory);
  const files = [{ from: bundle, to: join(destination, bundleFile), mode: 0o755 }];
  for (const [file, from] of installedAddonSources(packageRoot)) files.push({ from, to: join(destination, prebuildDirectory(), file), mode: 0o755 });
  return { kind: "bundle", destination, command: [process.execPath, ...serviceNodeOptions, join(destination, bundleFile)], environment: {}, files };
}

/** Copies one file to `to` through the output-path checks, as a new file renamed over the old. */
function installFile(from: string, to: string, mode: number): void {
  mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
  const partial = `${to}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  const descriptor = openOutputFile(partial, { what: "the installed program", mode });
  closeSync(descriptor);
  try {
    copyFileSync(from, partial);
    renameSync(partial, to);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new OutputError(to, `cannot install ${from}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/** Copies the program as planned (nothing when it already runs from there). */
export function installProgram(plan: ProgramInstallPlan): void {
  for (const { from, to, mode } of plan.files) {
    if (resolve(from) === resolve(to)) continue;
    installFile(from, to, mode);
  }
  if (plan.kind === "bundle") {
    // Marks the copy's root for the addon loader (findPackageRoot), as the package's own does.
    const descriptor = openOutputFile(join(plan.destination, "package.json"), { what: "the installed program", mode: 0o644 });
    try {
      writeFileSync(descriptor, `${JSON.stringify({ name: "imds-analyzer-installed", private: true })}\n`);
    } finally {
      closeSync(descriptor);
    }
  }
}
