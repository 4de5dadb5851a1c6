/**
 * Which addon files install-service copies beside the bundle: for each addon, the file the
 * loader (src/native-addon.ts) would try first, so the service runs what this process runs.
 */
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { prebuildDirectory } from "../../src/native-addon.js";
import { installedAddonSources } from "../../src/service/installed-program.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const addons = ["imds_pcap.node", "imds_ebpf.node"] as const;
const prebuilt = (file: string): string => join(prebuildDirectory(), file);
const fromSource = (file: string): string => join("native", file.replace(/^imds_|\.node$/g, ""), "build", "Release", file);

/** A package root holding the given files, each modified `ageHours` ago. */
function packageWith(files: Record<string, number>): string {
  const root = makeTempDir("imds-installed-addons-");
  for (const [path, ageHours] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), "addon\n");
    const time = new Date(Date.now() - ageHours * 3_600_000);
    utimesSync(join(root, path), time, time);
  }
  return root;
}

describe("install-service's addons", () => {
  it("copies the build from source when it is newer than the prebuild (C code changed, or the prebuild could not load at install)", () => {
    const root = packageWith(Object.fromEntries(addons.flatMap((file) => [[prebuilt(file), 2], [fromSource(file), 1]])));
    expect(Object.fromEntries(installedAddonSources(root))).toEqual(Object.fromEntries(addons.map((file) => [file, join(root, fromSource(file))])));
  });

  it("copies the prebuild when it is the newer one, or the only one", () => {
    const root = packageWith({ [prebuilt("imds_pcap.node")]: 1, [fromSource("imds_pcap.node")]: 2, [prebuilt("imds_ebpf.node")]: 1 });
    expect(Object.fromEntries(installedAddonSources(root))).toEqual({
      "imds_pcap.node": join(root, prebuilt("imds_pcap.node")),
      "imds_ebpf.node": join(root, prebuilt("imds_ebpf.node")),
    });
  });

  it("copies a build from source that has no prebuild beside it, and nothing for an addon that is nowhere", () => {
    const root = packageWith({ [fromSource("imds_ebpf.node")]: 1 });
    expect(Object.fromEntries(installedAddonSources(root))).toEqual({ "imds_ebpf.node": join(root, fromSource("imds_ebpf.node")) });
  });
});
