/**
 * Running the arm64 prebuilt addons on this x64 machine: an arm64 Node (Node's official build,
 * native/node-package.mjs) under qemu-aarch64-static, with Debian's arm64 C library from
 * libc6-arm64-cross (-L /usr/aarch64-linux-gnu) and Debian's arm64 libpcap with the libraries it
 * links, unpacked once into node_modules/.cache/imds-analyzer/arm64-libpcap. Those packages are
 * fetched with a private apt configuration (its own lists and cache, arm64 only): the system's
 * dpkg architectures and package state are never touched.
 *
 * qemu-user translates system calls; it has no bpf() ("Unsupported syscall: 280") and does not
 * pass on the packet socket ioctls libpcap needs, so live capture cannot run here: what can be
 * shown is that the addons load, report their shape and fail with a clear error.
 */
import { spawnSync } from "node:child_process";
import type { SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nodeDistribution } from "../../native/node-package.mjs";

const packageRoot = join(import.meta.dirname, "..", "..");
const cacheDirectory = join(packageRoot, "node_modules", ".cache", "imds-analyzer");
export const arm64SystemRoot = "/usr/aarch64-linux-gnu";
const qemu = "qemu-aarch64-static";
/**
 * Debian 12's libpcap0.8 and what its libraries link (DT_NEEDED, recursively: libdbus-1 ->
 * libsystemd -> ...), without libc6 (the cross one serves). Complete, or dlopen(RTLD_NOW) of
 * libpcap says which library is missing.
 */
const libpcapPackages = ["libpcap0.8", "libdbus-1-3", "libsystemd0", "libcap2", "libgcrypt20", "libgpg-error0", "liblz4-1", "liblzma5", "libzstd1"];

/** Whether arm64 code can run here, and if not, what is missing. */
export function arm64Prerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.arch !== "x64") return { ok: false, reason: `this machine is ${process.arch}, not x64` };
  if (spawnSync(qemu, ["--version"]).status !== 0) return { ok: false, reason: `${qemu} not found (Debian's qemu-user-static)` };
  if (!existsSync(join(arm64SystemRoot, "lib", "ld-linux-aarch64.so.1"))) return { ok: false, reason: `no arm64 C library in ${arm64SystemRoot} (libc6-arm64-cross)` };
  if (!existsSync(join(arm64SystemRoot, "lib", "libstdc++.so.6"))) return { ok: false, reason: `no arm64 libstdc++ in ${arm64SystemRoot} (libstdc++6-arm64-cross), which Node needs` };
  return { ok: true };
}

function run(command: string, args: readonly string[], cwd?: string): string {
  const result = spawnSync(command, args, { encoding: "utf8", cwd, timeout: 5 * 60 * 1000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr || result.error?.message || ""}`);
  return result.stdout;
}

/** The arm64 library directories holding libpcap and its dependencies (fetched on first use). */
export function arm64LibpcapDirectories(): string[] {
  const root = join(cacheDirectory, "arm64-libpcap");
  if (!existsSync(join(root, "complete"))) {
    mkdirSync(cacheDirectory, { recursive: true });
    const scratch = mkdtempSync(join(cacheDirectory, "arm64-libpcap-"));
    try {
      for (const directory of ["lists/partial", "cache/archives/partial", "debs", "root"]) mkdirSync(join(scratch, directory), { recursive: true });
      writeFileSync(join(scratch, "status"), "");
      const apt = [
        "-qq",
        "-o", "APT::Architecture=arm64",
        "-o", "APT::Architectures::=arm64",
        "-o", `Dir::State::Lists=${join(scratch, "lists")}`,
        "-o", `Dir::Cache=${join(scratch, "cache")}`,
        "-o", `Dir::State::status=${join(scratch, "status")}`,
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
      ];
      run("apt-get", [...apt, "update"]);
      run("apt-get", [...apt, "download", ...libpcapPackages.map((name) => `${name}:arm64`)], join(scratch, "debs"));
      for (const deb of readdirSync(join(scratch, "debs"))) run("dpkg-deb", ["-x", join(scratch, "debs", deb), join(scratch, "root")]);
      writeFileSync(join(scratch, "root", "complete"), `${libpcapPackages.join(" ")}\n`);
      rmSync(root, { recursive: true, force: true });
      renameSync(join(scratch, "root"), root);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return ["usr/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu"].map((directory) => join(root, directory)).filter((directory) => existsSync(directory));
}

export interface Arm64RunOptions {
  readonly timeoutMs?: number;
  /** Wraps the qemu command line (argv) in another, e.g. to run it in a namespace. */
  readonly wrap?: (command: readonly string[]) => readonly string[];
}

/** Runs the arm64 `node` with `args` under qemu, libpcap findable; never throws on a non-zero exit. */
export function runArm64Node(args: readonly string[], options: Arm64RunOptions = {}): SpawnSyncReturns<string> {
  const node = join(nodeDistribution("arm64"), "bin", "node");
  const command = [qemu, "-L", arm64SystemRoot, node, ...args];
  const [program, ...programArgs] = options.wrap === undefined ? command : options.wrap(command);
  return spawnSync(program ?? qemu, programArgs, {
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, LD_LIBRARY_PATH: arm64LibpcapDirectories().join(":") },
  });
}
