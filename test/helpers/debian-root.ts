/**
 * An old user space to run the single executable in: a Debian 11 (bullseye, glibc 2.31) root made
 * by `debootstrap --variant=minbase` with libpcap0.8 and curl only (no Node, no compiler, no
 * libpcap-dev). Made once and cached under $IMDS_ANALYZER_CACHE (default ~/.cache/imds-analyzer),
 * in a directory named after its recipe, so a changed recipe makes a new one; tests never change
 * it: each run sees it through an overlay in a mount namespace of its own (runInRoot).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const recipe = {
  suite: "bullseye",
  variant: "minbase",
  include: ["libpcap0.8", "curl"],
  mirror: "http://deb.debian.org/debian",
} as const;

const cacheRoot = process.env["IMDS_ANALYZER_CACHE"] ?? join(homedir(), ".cache", "imds-analyzer");

/** The cached root's path, made when missing (about 30 s and 220 MB from the Debian mirror). */
export function debianRoot(): string {
  const key = createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 12);
  const root = join(cacheRoot, "debootstrap", `${recipe.suite}-${recipe.variant}-${key}`);
  if (existsSync(join(root, "etc", "debian_version"))) return root;
  const partial = `${root}.partial-${process.pid}`;
  mkdirSync(join(cacheRoot, "debootstrap"), { recursive: true });
  rmSync(partial, { recursive: true, force: true });
  const made = spawnSync("debootstrap", [`--variant=${recipe.variant}`, `--include=${recipe.include.join(",")}`, recipe.suite, partial, recipe.mirror], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (made.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`debootstrap ${recipe.suite} failed: ${made.stderr}${made.stdout.slice(-2000)}${made.error?.message ?? ""}`);
  }
  renameSync(partial, root);
  return root;
}

/**
 * The shell command (for `sh -c`, run under `unshare --mount --propagation private`) that lays
 * an overlay over `root` in `work`, copies `files` into it at the same absolute paths, mounts
 * /proc, /sys and /dev, optionally removes libpcap, and execs `command` chrooted there.
 */
export function inRootScript(root: string, work: string, files: readonly string[], command: readonly string[], options: { withoutLibpcap: boolean }): string {
  const quote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
  const merged = join(work, "merged");
  return [
    "set -e",
    `mkdir -p ${quote(join(work, "upper"))} ${quote(join(work, "work"))} ${quote(merged)}`,
    `mount -t overlay overlay -o ${quote(`lowerdir=${root},upperdir=${join(work, "upper")},workdir=${join(work, "work")}`)} ${quote(merged)}`,
    `mount -t proc proc ${quote(join(merged, "proc"))}`,
    `mount --rbind /sys ${quote(join(merged, "sys"))}`,
    `mount --rbind /dev ${quote(join(merged, "dev"))}`,
    ...files.map((file) => `mkdir -p "$(dirname ${quote(merged + file)})" && cp ${quote(file)} ${quote(merged + file)}`),
    ...(options.withoutLibpcap ? [`rm -f ${quote(merged)}/usr/lib/*-linux-gnu/libpcap.so*`] : []),
    // An empty environment, as on a fresh instance (the host's NODE_EXTRA_CA_CERTS and the like stay out).
    `exec chroot ${quote(merged)} /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin ${command.map(quote).join(" ")}`,
  ].join("\n");
}
