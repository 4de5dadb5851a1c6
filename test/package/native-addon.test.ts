/**
 * Where the native addons are loaded from (src/native-addon.ts): a prebuild for this platform
 * when it loads, else the one built from source (the newer of the two first), and a reason
 * naming both when neither loads.
 * Real addons (this checkout's build), copied into a package laid out like the npm tarball.
 */
import { copyFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { isPcapAddon, pcapAddonFile } from "../../src/live/pcap-addon.js";
import { loadNativeAddon, prebuildDirectory } from "../../src/native-addon.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const description = { fileName: pcapAddonFile, sourceDirectory: "native/pcap", title: "libpcap addon", buildNeeds: "a C compiler", isAddon: isPcapAddon };
const builtAddon = [join(repositoryRoot, prebuildDirectory(), pcapAddonFile), join(repositoryRoot, "native", "pcap", "build", "Release", pcapAddonFile)].find((path) => existsSync(path));

/** A package root with the given files (relative path -> a real addon, or text that is no ELF). */
function packageWith(files: Record<string, "addon" | "broken">): string {
  const root = makeTempDir("imds-addon-root-");
  writeFileSync(join(root, "package.json"), "{}\n");
  for (const [path, kind] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (kind === "addon") copyFileSync(builtAddon!, join(root, path));
    else writeFileSync(join(root, path), "not an ELF file\n");
  }
  return root;
}

const prebuilt = join(prebuildDirectory(), pcapAddonFile);
const fromSource = join("native", "pcap", "build", "Release", pcapAddonFile);

describe.skipIf(builtAddon === undefined && process.env["CI"] !== "true")("native addon loading order", () => {
  it("uses the prebuild for this platform when it loads", () => {
    const root = packageWith({ [prebuilt]: "addon", [fromSource]: "broken" });
    const result = loadNativeAddon(description, root);
    expect(result.ok && result.origin).toBe(`prebuilt (${join(root, prebuilt)})`);
  });

  it("falls back to the build from source when the prebuild does not load", () => {
    const root = packageWith({ [prebuilt]: "broken", [fromSource]: "addon" });
    const result = loadNativeAddon(description, root);
    expect(result.ok && result.origin).toBe(`built from source (${join(root, fromSource)})`);
  });

  it("tries the newer of the two first: a build from source made after the prebuild (C code changed) is not hidden by it", () => {
    const root = packageWith({ [prebuilt]: "addon", [fromSource]: "addon" });
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, prebuilt), hourAgo, hourAgo);
    const newerSource = loadNativeAddon(description, root);
    expect(newerSource.ok && newerSource.origin).toBe(`built from source (${join(root, fromSource)})`);
    const twoHoursAgo = new Date(Date.now() - 7_200_000);
    utimesSync(join(root, fromSource), twoHoursAgo, twoHoursAgo);
    const newerPrebuild = loadNativeAddon(description, root);
    expect(newerPrebuild.ok && newerPrebuild.origin).toBe(`prebuilt (${join(root, prebuilt)})`);
  });

  it("says what it tried when neither loads", () => {
    const root = packageWith({ [prebuilt]: "broken" });
    const result = loadNativeAddon(description, root);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toContain(`no prebuilt one for ${process.platform}-${process.arch} loads (cannot load ${join(root, prebuilt)}: `);
    expect(result.reason).toContain(`${join(root, fromSource)} is missing`);
    expect(result.reason).toContain(`run "node native/build.mjs" in ${root}`);
  });
});
