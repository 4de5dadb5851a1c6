/**
 * Loading the project's Node-API addons (native/<name>, built at install time by
 * native/build.mjs). Resolved from the package root, so it works from src/ (tests) and from
 * dist/ (the built CLI) alike. A missing or broken addon is a reason to report, never a crash:
 * offline analysis needs no native code.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type AddonLoadResult<Addon> = { readonly ok: true; readonly addon: Addon } | { readonly ok: false; readonly reason: string };

export interface AddonDescription<Addon> {
  /** Path of the .node file relative to the package root. */
  readonly relativePath: string;
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

export function loadNativeAddon<Addon>(description: AddonDescription<Addon>): AddonLoadResult<Addon> {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  if (root === null) return { ok: false, reason: "cannot find the imds-analyzer package directory (no package.json above the module)" };
  const path = join(root, description.relativePath);
  if (!existsSync(path)) {
    return {
      ok: false,
      reason: `the ${description.title} is not built (${path} is missing): run "node native/build.mjs" in ${root} (needs ${description.buildNeeds})`,
    };
  }
  try {
    const addon: unknown = createRequire(import.meta.url)(path);
    if (!description.isAddon(addon)) return { ok: false, reason: `${path} is not the imds-analyzer ${description.title}` };
    return { ok: true, addon };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `cannot load ${path}: ${message}` };
  }
}
