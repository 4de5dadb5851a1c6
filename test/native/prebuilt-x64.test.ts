/**
 * The x64 prebuilt addons (prebuilds/linux-x64, `node native/build.mjs --prebuild`) are what this
 * machine's Node loads when they are there and newer than the build from source: the loader
 * (src/native-addon.ts) tries the newer of the two first, and CI builds the prebuilds after
 * `npm ci` has built from source, so every live test captures with the shipped binaries.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadEbpfAddon } from "../../src/attribution/ebpf-addon.js";
import { loadPcapAddon } from "../../src/live/pcap-addon.js";

const prebuilds = join(import.meta.dirname, "..", "..", "prebuilds", `linux-${process.arch}`);
const present = ["imds_pcap.node", "imds_ebpf.node"].every((file) => existsSync(join(prebuilds, file)));
if (!present && process.env["CI"] === "true") throw new Error(`${prebuilds} must hold both addons under CI=true (node native/build.mjs --prebuild)`);
if (!present) console.warn(`skipping the prebuilt-addon tests: ${prebuilds} is not built`);

describe.skipIf(!present)(`prebuilt addons for linux-${process.arch}`, () => {
  it("are the ones this Node loads", () => {
    for (const loaded of [loadPcapAddon(), loadEbpfAddon()]) {
      expect(loaded.ok ? loaded.origin : loaded.reason).toMatch(new RegExp(`^prebuilt \\(${prebuilds.replaceAll("/", "\\/")}/imds_(pcap|ebpf)\\.node\\)$`));
    }
  });

  it("find libpcap by soname", () => {
    const loaded = loadPcapAddon();
    expect(loaded.ok && loaded.addon.libpcapVersion()).toMatch(/^libpcap version /);
  });
});
