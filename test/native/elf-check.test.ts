/**
 * Every native binary the project ships loads on any Linux with glibc 2.28 or newer and needs
 * neither libpcap (opened at run time) nor libgcc_s: native/elf-check.mjs reads each file's
 * DT_NEEDED and version needs. The check itself is shown to fail on a library built the
 * ordinary way (pthread_create, dlopen, stat, a 128-bit division, -lpcap), and to pass on the
 * same source built the way the addons are (native/common/portable.h, -static-libgcc).
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { addonPolicy, checkElf, newestGlibc, nodeExecutablePolicy, readElfNeeds, shippedBinaries } from "../../native/elf-check.mjs";
import { makeTempDir } from "../helpers/temp-dir.js";

const packageRoot = join(import.meta.dirname, "..", "..");
const inCi = process.env["CI"] === "true";
const portableHeader = join(packageRoot, "native", "common", "portable.h");

/** A library that uses what made the addons unportable. */
const unportableSource = `
#include <dlfcn.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sys/stat.h>
static void *run(void *arg) { return arg; }
int use_everything(const char *path, unsigned long long a, unsigned long long b) {
  pthread_t thread;
  if (pthread_create(&thread, 0, run, 0) == 0) pthread_join(thread, 0);
  void *library = dlopen("libz.so.1", RTLD_NOW);
  if (library != 0) dlclose(library);
  struct stat st;
  return stat(path, &st) + (int)((unsigned __int128)a * 1000000007u / b) + (pcap_lib_version() != 0);
}
`;

/**
 * Compiles unportable.c with gcc and links it with g++, as node-gyp does (g++ is what links the
 * shared libgcc_s for 128-bit division helpers; gcc would take them from the static libgcc).
 * "" when there is no compiler here (a failure under CI=true).
 */
function build(directory: string, name: string, compileFlags: readonly string[], linkFlags: readonly string[]): string {
  const object = join(directory, `${name}.o`);
  const output = join(directory, name);
  for (const [tool, args] of [
    ["gcc", ["-c", "-fPIC", "-O2", "-pthread", "-D_FILE_OFFSET_BITS=64", ...compileFlags, "-o", object, join(directory, "unportable.c")]],
    ["g++", ["-shared", "-pthread", "-o", output, object, ...linkFlags]],
  ] as const) {
    const result = spawnSync(tool, args, { encoding: "utf8" });
    if (result.error !== undefined && !inCi) return "";
    expect(result.status, `${tool}: ${result.stderr}${result.error?.message ?? ""}`).toBe(0);
  }
  return output;
}

describe("ELF check", () => {
  it("fails a library built the ordinary way, naming each reason, and passes it built portably", () => {
    const directory = makeTempDir("imds-elf-check-");
    writeFileSync(join(directory, "unportable.c"), unportableSource);
    const ordinary = build(directory, "ordinary.so", [], ["-lpcap"]);
    if (ordinary === "") {
      console.warn("skipping the ELF check's own test: no gcc here");
      return;
    }
    const problems = checkElf(readElfNeeds(ordinary), addonPolicy).map((problem) => problem.slice(ordinary.length + 2));
    expect(problems).toEqual(
      expect.arrayContaining([
        "links libpcap.so.0.8 (libpcap must be opened at run time, by soname)",
        "needs libgcc_s.so.1 (link with -static-libgcc)",
        expect.stringMatching(/^needs GLIBC_2\.34 from libc\.so\.6 \((?=.*pthread_create)(?=.*dlopen).*\); at most GLIBC_2\.28 is allowed$/) as unknown,
        expect.stringMatching(/^needs GLIBC_2\.33 from libc\.so\.6 \(stat64\); at most GLIBC_2\.28 is allowed$/) as unknown,
      ]),
    );
    const portable = build(directory, "portable.so", ["-include", portableHeader], ["-static-libgcc"]);
    const needs = readElfNeeds(portable);
    expect(checkElf(needs, addonPolicy)).toEqual([]);
    expect(needs.needed).toEqual(["libc.so.6"]);
  });

  it("passes Node's own binaries, what a single executable is made of, with the executable policy", () => {
    // This Node (the single executables are built from it: here it is Node's official build),
    // and the official arm64 one when the arm64 tests have fetched it.
    const arm64 = join(packageRoot, "node_modules", ".cache", "imds-analyzer", `node-v${process.versions.node}-linux-arm64`, "bin", "node");
    for (const node of [process.execPath, ...(existsSync(arm64) ? [arm64] : [])]) {
      const needs = readElfNeeds(node);
      expect(checkElf(needs, nodeExecutablePolicy)).toEqual([]);
      expect(checkElf(needs, addonPolicy).length).toBeGreaterThan(0); // more than an addon may need
      console.log(`${node}: ${needs.arch}, newest GLIBC_${newestGlibc(needs) ?? "none"}, DT_NEEDED ${needs.needed.join(" ")}`);
    }
  });

  const binaries = shippedBinaries(packageRoot);
  it("finds the built addons", () => {
    const built = binaries.filter((binary) => binary.path.includes("/build/Release/")).map((binary) => binary.path.slice(packageRoot.length + 1));
    if (built.length === 0 && !inCi) {
      console.warn("skipping: the native addons are not built here (node native/build.mjs)");
      return;
    }
    expect(built.sort()).toEqual(["native/ebpf/build/Release/imds_ebpf.node", "native/pcap/build/Release/imds_pcap.node"]);
  });

  it("finds the prebuilt addons for x64 and arm64", () => {
    const prebuilt = binaries.filter((binary) => binary.path.includes("/prebuilds/")).map((binary) => binary.path.slice(packageRoot.length + 1));
    if (prebuilt.length === 0 && !inCi) {
      console.warn("skipping: no prebuilt addons here (node native/build.mjs --prebuild --arch x64|arm64)");
      return;
    }
    expect(prebuilt.sort()).toEqual([
      "prebuilds/linux-arm64/imds_ebpf.node",
      "prebuilds/linux-arm64/imds_pcap.node",
      "prebuilds/linux-x64/imds_ebpf.node",
      "prebuilds/linux-x64/imds_pcap.node",
    ]);
  });

  it.each(binaries.map((binary) => [binary.path.slice(packageRoot.length + 1), binary] as const))("%s: needs nothing but what the policy allows, GLIBC <= 2.28", (name, binary) => {
    const needs = readElfNeeds(binary.path);
    const expectedArch = /linux-(x64|arm64)/.exec(name)?.[1] ?? process.arch;
    expect(needs.arch).toBe(expectedArch);
    expect(checkElf(needs, binary.policy)).toEqual([]);
    console.log(`${name}: ${needs.arch}, newest GLIBC_${newestGlibc(needs) ?? "none"}, DT_NEEDED ${needs.needed.join(" ")}`);
  });
});
