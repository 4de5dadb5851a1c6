/**
 * Real container runtimes for live tests, under the project's safety rules: each daemon gets a
 * private state directory under one temp directory, starts inside a test network namespace with
 * `nsenter --net` (`ip netns exec` would hide the cgroup mounts they need), dockerd never touches
 * iptables, forwarding or bridges, containers use the host network of that namespace (its fake
 * IMDS and nothing else), and everything is stopped by pid at the end, also after a failure.
 * No registry is reachable: images are imported from a root file system made here (static
 * busybox, and curl with the libraries it links).
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopChildren } from "./processes.js";

/** Programs the runtime tests need (Debian: containerd, runc, docker.io, podman, busybox-static, curl). */
export const runtimePrograms = ["containerd", "containerd-shim-runc-v2", "ctr", "runc", "dockerd", "/usr/bin/docker", "podman", "conmon", "busybox", "curl", "nsenter", "ldd"] as const;

/** Which of `runtimePrograms` are missing. */
export function missingRuntimePrograms(): string[] {
  return runtimePrograms.filter((program) => spawnSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).status !== 0);
}

/** Runs a command to its end (bounded); throws with its output when it fails. */
export function runChecked(command: string, args: readonly string[], options: { input?: Buffer | string; timeoutMs?: number } = {}): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: options.timeoutMs ?? 60_000, input: options.input, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal ?? result.error?.message}): ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/** runChecked without blocking the event loop (callbacks, such as an eBPF tracer's, keep running). */
export function runCheckedAsync(command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
    child.stderr.on("data", (chunk: Buffer) => { output += chunk.toString("utf8"); });
    const timer = setTimeout(() => { child.kill("SIGKILL"); }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(" ")} failed (${code ?? signal}): ${output}${stdout}`));
    });
  });
}

/**
 * A root file system with static busybox (sh and friends) and curl with every library it
 * links, as `ldd` lists them; the tar of it is an image.
 */
export function makeCurlRootfs(directory: string): string {
  const rootfs = join(directory, "rootfs");
  for (const sub of ["bin", "etc", "tmp", "proc", "sys", "dev", "run"]) mkdirSync(join(rootfs, sub), { recursive: true });
  const busybox = runChecked("sh", ["-c", "command -v busybox"]).trim();
  copyFileSync(busybox, join(rootfs, "bin/busybox"));
  for (const applet of ["sh", "sleep", "cat", "echo", "true"]) symlinkSync("busybox", join(rootfs, "bin", applet));
  const curl = runChecked("sh", ["-c", "command -v curl"]).trim();
  copyFileSync(curl, join(rootfs, "bin/curl"));
  addLibrariesOf(rootfs, curl);
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
  return rootfs;
}

/** Copies every library PROGRAM links (as `ldd` lists them) into ROOTFS at the same paths. */
export function addLibrariesOf(rootfs: string, program: string): void {
  for (const library of runChecked("ldd", [program]).match(/\/\S+/g) ?? []) {
    mkdirSync(join(rootfs, dirname(library)), { recursive: true });
    copyFileSync(library, join(rootfs, library)); // copyFileSync follows the library's symlinks
  }
}

/** A tar stream of ROOTFS, for `docker import -` and `podman import -`. */
export function tarOf(rootfs: string): Buffer {
  const result = spawnSync("tar", ["-C", rootfs, "-c", "."], { maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`tar of ${rootfs} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/** The shell script every test container runs: curl's IMDSv1 GET, then a token PUT and an IMDSv2 GET. */
export const imdsCallsScript = [
  "curl -sf -o /dev/null http://169.254.169.254/latest/meta-data/instance-id",
  "T=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)",
  'curl -sf -o /dev/null -H "X-aws-ec2-metadata-token: $T" http://169.254.169.254/latest/meta-data/ami-id',
].join(" && ");

/** A daemon started here, stopped by its pid. */
class Daemon {
  private readonly output: string[] = [];

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.on("data", (chunk: Buffer) => { this.keep(chunk); });
    child.stderr?.on("data", (chunk: Buffer) => { this.keep(chunk); });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The last lines it wrote (for failure messages). */
  log(): string {
    return this.output.join("").slice(-4000);
  }

  stop(graceMs = 10_000): Promise<void> {
    return stopChildren([this.child], graceMs);
  }

  private keep(chunk: Buffer): void {
    this.output.push(chunk.toString("utf8"));
    if (this.output.length > 200) this.output.splice(0, 100);
  }
}

function startInNamespace(name: string, namespace: string, command: readonly string[]): Daemon {
  const child = spawn("nsenter", [`--net=/var/run/netns/${namespace}`, ...command], { stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  return new Daemon(name, child);
}

async function waitFor(what: string, daemon: Daemon, timeoutMs: number, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) throw new Error(`${daemon.name} ended before ${what}: ${daemon.log()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${daemon.log()}`);
    await sleep(100);
  }
}

/** containerd with private root, state and sockets (CRI plugin off: ctr imitates what it would create). */
export class Containerd {
  readonly socket: string;
  readonly stateDirectory: string;
  private constructor(private readonly daemon: Daemon, private readonly directory: string) {
    this.socket = join(directory, "containerd.sock");
    this.stateDirectory = join(directory, "state");
  }

  static async start(namespace: string, directory: string): Promise<Containerd> {
    mkdirSync(directory, { recursive: true });
    const config = [
      "version = 2",
      `root = "${join(directory, "root")}"`,
      `state = "${join(directory, "state")}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${join(directory, "containerd.sock")}"`,
      "[ttrpc]",
      `  address = "${join(directory, "containerd.sock.ttrpc")}"`,
      "",
    ].join("\n");
    writeFileSync(join(directory, "config.toml"), config);
    const daemon = startInNamespace("containerd", namespace, ["containerd", "--config", join(directory, "config.toml")]);
    const containerd = new Containerd(daemon, directory);
    await waitFor("containerd's socket", daemon, 30_000, () => spawnSync("ctr", ["--address", containerd.socket, "version"]).status === 0);
    return containerd;
  }

  get pid(): number {
    return this.daemon.pid;
  }

  ctrArgs(namespace: string, args: readonly string[]): string[] {
    return ["--address", this.socket, "--namespace", namespace, ...args];
  }

  /** Kills and deletes every task and container left in NAMESPACES, then stops the daemon. */
  async stop(namespaces: readonly string[]): Promise<void> {
    for (const namespace of namespaces) {
      const tasks = spawnSync("ctr", this.ctrArgs(namespace, ["task", "ls", "-q"]), { encoding: "utf8", timeout: 10_000 }).stdout;
      for (const id of tasks.split("\n").filter((line) => line.length > 0)) {
        spawnSync("ctr", this.ctrArgs(namespace, ["task", "kill", "-s", "SIGKILL", id]), { timeout: 10_000 });
        spawnSync("ctr", this.ctrArgs(namespace, ["task", "delete", "-f", id]), { timeout: 10_000 });
      }
      const containers = spawnSync("ctr", this.ctrArgs(namespace, ["container", "ls", "-q"]), { encoding: "utf8", timeout: 10_000 }).stdout;
      for (const id of containers.split("\n").filter((line) => line.length > 0)) spawnSync("ctr", this.ctrArgs(namespace, ["container", "delete", id]), { timeout: 10_000 });
    }
    await this.daemon.stop();
    killLeftovers(this.directory);
  }

  log(): string {
    return this.daemon.log();
  }
}

/** dockerd that leaves the host's networking alone, with private directories, on our containerd. */
export class Dockerd {
  readonly socket: string;
  readonly dataRoot: string;
  private constructor(private readonly daemon: Daemon, private readonly directory: string) {
    this.socket = join(directory, "docker.sock");
    this.dataRoot = join(directory, "data");
  }

  static async start(namespace: string, directory: string, containerdSocket: string): Promise<Dockerd> {
    mkdirSync(directory, { recursive: true });
    // Its own daemon.json: Docker 20.10 would otherwise write its trust key to /etc/docker.
    writeFileSync(join(directory, "daemon.json"), JSON.stringify({ "deprecated-key-path": join(directory, "key.json") }));
    const daemon = startInNamespace("dockerd", namespace, [
      "dockerd",
      "--config-file", join(directory, "daemon.json"),
      "--data-root", join(directory, "data"),
      "--exec-root", join(directory, "exec"),
      "--pidfile", join(directory, "dockerd.pid"),
      "-H", `unix://${join(directory, "docker.sock")}`,
      "--containerd", containerdSocket,
      "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
    ]);
    const dockerd = new Dockerd(daemon, directory);
    await waitFor("dockerd's socket", daemon, 60_000, () => spawnSync("/usr/bin/docker", ["-H", `unix://${dockerd.socket}`, "version"]).status === 0);
    return dockerd;
  }

  get pid(): number {
    return this.daemon.pid;
  }

  /** Debian's client by full path (/usr/local/bin/docker here is an unrelated newer client). */
  dockerArgs(args: readonly string[]): [string, string[]] {
    return ["/usr/bin/docker", ["-H", `unix://${this.socket}`, ...args]];
  }

  async stop(): Promise<void> {
    const [docker, args] = this.dockerArgs(["ps", "-aq"]);
    const ids = spawnSync(docker, args, { encoding: "utf8", timeout: 10_000 }).stdout;
    for (const id of ids.split("\n").filter((line) => line.length > 0)) {
      const [command, removeArgs] = this.dockerArgs(["rm", "-f", id]);
      spawnSync(command, removeArgs, { timeout: 20_000 });
    }
    await this.daemon.stop(20_000);
    killLeftovers(this.directory);
  }

  log(): string {
    return this.daemon.log();
  }
}

/** podman (no daemon) with private storage, cgroupfs, runc (crun refuses this hybrid cgroup host). */
export class Podman {
  readonly graphRoot: string;
  constructor(private readonly namespace: string, private readonly directory: string) {
    this.graphRoot = join(directory, "root");
  }

  /** The command line of `podman ARGS` inside the test namespace. */
  commandLine(args: readonly string[]): [string, string[]] {
    return [
      "nsenter",
      [
        `--net=/var/run/netns/${this.namespace}`,
        "podman",
        "--root", this.graphRoot,
        "--runroot", join(this.directory, "run"),
        "--tmpdir", join(this.directory, "tmp"),
        "--cgroup-manager", "cgroupfs",
        "--events-backend", "file",
        "--runtime", "runc",
        "--storage-driver", "overlay",
        ...args,
      ],
    ];
  }

  /** Removes every container left, then any process of ours still running. */
  stop(): void {
    const [command, args] = this.commandLine(["rm", "-af", "-t", "0"]);
    spawnSync(command, args, { timeout: 30_000 });
    killLeftovers(this.directory);
  }
}

/**
 * Processes still running whose command line names DIRECTORY (a private directory made for one
 * test run: shims, conmon, containers' monitors of daemons started here): killed by pid. A
 * clean stop leaves none.
 */
function killLeftovers(directory: string): void {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
    } catch {
      continue;
    }
    if (cmdline.includes(directory)) {
      try {
        process.kill(Number(name), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Unmounts whatever the runtimes left mounted under DIRECTORY (dockerd leaves the network
 * namespace of its host network bind-mounted in its exec-root), deepest first, so the directory
 * can be removed.
 */
export function unmountUnder(directory: string): void {
  const mountPoints = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((mountPoint): mountPoint is string => mountPoint !== undefined && mountPoint.startsWith(`${directory}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mountPoints) spawnSync("umount", ["-l", mountPoint], { timeout: 10_000 });
}

/** Whether PATH exists (for checking that a runtime removed a container's files). */
export function pathExists(path: string): boolean {
  return existsSync(path);
}
