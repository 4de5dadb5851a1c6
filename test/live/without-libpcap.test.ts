/**
 * On a machine without the libpcap package: the pcap addon still loads (libpcap is opened at run
 * time, never linked), offline analysis works, and `capture` fails at once with one line that
 * names the sonames tried and the package to install. The loader really cannot find libpcap
 * here: test/helpers/without-libpcap.ts hides it in a private mount namespace, and tcpdump (which
 * links it) fails to start there, as a control. Runs the built CLI (`npm run build` first).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliPath } from "../helpers/live-capture.js";
import { shouldSkipRootTests } from "../helpers/netns.js";
import { libpcapDirectories, runWithoutLibpcap } from "../helpers/without-libpcap.js";

const skip = shouldSkipRootTests("the libpcap-missing tests (mount namespace, overlayfs)");

const missingLine =
  "libpcap is not installed (tried libpcap.so.1, libpcap.so.0.8): install it with `dnf install libpcap` (Amazon Linux, RHEL, Fedora) or `apt-get install libpcap0.8` (Debian, Ubuntu)";
const capturePath = join(import.meta.dirname, "..", "..", "captures", "curl-v1-v2-lo.pcap");
const addonModule = join(import.meta.dirname, "..", "..", "dist", "live", "pcap-addon.js");

/** Loads the pcap addon the way the CLI does and prints what it exports and what libpcapVersion() says. */
const probeScript = `
const { loadPcapAddon } = await import(${JSON.stringify(addonModule)});
const loaded = loadPcapAddon();
if (!loaded.ok) { console.log(JSON.stringify({ loaded: false, reason: loaded.reason })); process.exit(0); }
let version;
try { version = { ok: loaded.addon.libpcapVersion() }; } catch (error) { version = { code: error.code, message: error.message }; }
console.log(JSON.stringify({ loaded: true, exports: Object.keys(loaded.addon).sort(), version }));
`;

function probe(run: (command: readonly string[]) => ReturnType<typeof spawnSync>): unknown {
  const result = run([process.execPath, "--input-type=module", "-e", probeScript]);
  expect(result.status, String(result.stderr)).toBe(0);
  return JSON.parse(String(result.stdout));
}

describe.skipIf(skip)("without libpcap installed (root, private mount namespace)", () => {
  it("hides libpcap for real: tcpdump, which links it, cannot start", () => {
    expect(libpcapDirectories().length).toBeGreaterThan(0);
    const control = spawnSync("tcpdump", ["--version"], { encoding: "utf8" });
    expect(control.status, control.stderr).toBe(0);
    const hidden = runWithoutLibpcap(["tcpdump", "--version"]);
    expect(hidden.status).not.toBe(0);
    expect(hidden.stderr).toMatch(/libpcap\.so\.[0-9.]+: cannot open shared object file: No such file or directory/);
  });

  it("the addon still loads; libpcapVersion() throws E_PCAP_LIBRARY with the one line", () => {
    const withLibpcap = probe((command) => spawnSync(command[0] ?? "", command.slice(1), { encoding: "utf8" }));
    expect(withLibpcap).toMatchObject({ loaded: true, version: { ok: expect.stringMatching(/^libpcap version /) as unknown } });
    expect(probe((command) => runWithoutLibpcap(command))).toEqual({
      loaded: true,
      exports: ["PcapHandle", "dropCapabilities", "libpcapVersion", "open", "reserveFileSpace"],
      version: { code: "E_PCAP_LIBRARY", message: missingLine },
    });
  });

  it("capture: exit code 1 at once, one line naming the sonames tried and the package", () => {
    const result = runWithoutLibpcap([process.execPath, cliPath, "capture", "--duration", "5s"]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`imds-analyzer: ${missingLine}\n`);
    expect(result.status).toBe(1);
  });

  it("analyze gives the same output as with libpcap", () => {
    const expected = spawnSync(process.execPath, [cliPath, "analyze", capturePath], { encoding: "utf8" });
    expect(expected.status, expected.stderr).toBe(0);
    const result = runWithoutLibpcap([process.execPath, cliPath, "analyze", capturePath]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(expected.stdout);
    expect(result.stdout.length).toBeGreaterThan(0);
    expect(result.stderr).toBe(expected.stderr);
  });

  it("a libpcap.so.1 that is not libpcap: says which function it lacks, still one line", () => {
    const notLibpcap = spawnSync("sh", ["-c", "ldconfig -p | sed -n 's/^\\s*libz\\.so\\.1 .*=> //p' | head -1"], { encoding: "utf8" }).stdout.trim();
    expect(notLibpcap, "libz.so.1 not found by ldconfig -p").not.toBe("");
    const result = runWithoutLibpcap([process.execPath, cliPath, "capture", "--duration", "5s"], { replaceWith: notLibpcap });
    expect(result.stderr).toBe("imds-analyzer: libpcap cannot be used: libpcap.so.1 (no pcap_lib_version) lacks pcap_activate: live capture needs libpcap 1.5 or newer\n");
    expect(result.status).toBe(1);
  });
});
