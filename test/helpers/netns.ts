/**
 * Test network namespaces for live tests, under the project's safety rule: IMDS traffic exists
 * only inside namespaces made here. "instance" holds the IMDS addresses on its lo (this kernel has
 * no dummy links) with a source address of its own; "container" is joined to it by a veth pair,
 * like a container on a host. Everything is deleted by `close()`, which tests call in `finally`.
 * Only processes started here are killed, by pid.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stopChildren } from "./processes.js";
import { makeTempDir } from "./temp-dir.js";

export const instanceIpv4 = "10.0.0.10";
export const instanceIpv6 = "2001:db8:77::10";
export const containerIpv4 = "10.77.0.2";
const containerGateway = "10.77.0.1";
const fakeImdsScript = join(import.meta.dirname, "..", "fake-imds", "fake-imds.mjs");

/** Whether live tests can run here; under CI=true a missing prerequisite is a failure, not a skip. */
export function liveTestPrerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: "live tests need root" };
  const ip = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (ip.status !== 0) return { ok: false, reason: "'ip netns' does not work here" };
  return { ok: true };
}

export function shouldSkipLiveTests(): boolean {
  const check = liveTestPrerequisites();
  if (check.ok) return false;
  if (process.env["CI"] === "true") throw new Error(`live tests cannot run under CI=true: ${check.reason}`);
  console.warn(`skipping live tests: ${check.reason}`);
  return true;
}

/**
 * For tests that need root but no network (chown to another user, mount a tmpfs): true when they
 * must be skipped here. Under CI=true (which runs as root) not being root is a failure, not a skip.
 */
export function shouldSkipRootTests(what: string): boolean {
  if (process.geteuid?.() === 0) return false;
  if (process.env["CI"] === "true") throw new Error(`${what} needs root under CI=true`);
  console.warn(`skipping ${what}: needs root`);
  return true;
}

function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 20_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr || result.error?.message || ""}`);
  return result.stdout;
}

export type Role = "instance" | "container";

export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code and output when the process ends. */
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** What the process wrote to stderr so far (for messages when a test times out). */
  stderr(): string;
}

export class TestNetwork {
  readonly instance: string;
  readonly container: string;
  readonly directory = makeTempDir("imds-live-");
  private readonly started: ChildProcess[] = [];
  private fakeImds: Spawned | null = null;
  readonly fakeImdsLog = join(this.directory, "fake-imds.ndjson");

  private constructor() {
    const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;
    this.instance = `imds-test-i-${suffix}`;
    this.container = `imds-test-c-${suffix}`;
  }

  /** Creates both namespaces and their links; on any failure removes what it made. */
  static create(): TestNetwork {
    const network = new TestNetwork();
    try {
      network.setUp();
    } catch (error) {
      network.removeNamespaces();
      throw error;
    }
    return network;
  }

  private setUp(): void {
    run("ip", ["netns", "add", this.instance]);
    run("ip", ["netns", "add", this.container]);
    const inInstance = (...args: string[]): string => run("ip", ["netns", "exec", this.instance, ...args]);
    const inContainer = (...args: string[]): string => run("ip", ["netns", "exec", this.container, ...args]);
    inInstance("ip", "link", "set", "lo", "mtu", "1500", "up");
    inInstance("ip", "addr", "add", `${instanceIpv4}/32`, "dev", "lo");
    inInstance("ip", "addr", "add", "169.254.169.254/32", "dev", "lo");
    inInstance("ip", "-6", "addr", "add", `${instanceIpv6}/128`, "dev", "lo", "nodad");
    inInstance("ip", "-6", "addr", "add", "fd00:ec2::254/128", "dev", "lo", "nodad");
    // Clients on lo would otherwise use the IMDS address itself as their source.
    inInstance("ip", "route", "replace", "local", "169.254.169.254", "dev", "lo", "table", "local", "proto", "kernel", "scope", "host", "src", instanceIpv4);
    // The kernel adds an address's local route on its own, and under load not always before
    // `ip addr add` returns: wait (bounded) for it before replacing it.
    for (let attempt = 0; attempt < 40 && !inInstance("ip", "-6", "route", "show", "table", "local", "fd00:ec2::254").includes("fd00:ec2::254"); attempt++) {
      spawnSync("sleep", ["0.05"]);
    }
    inInstance("ip", "-6", "route", "del", "local", "fd00:ec2::254", "dev", "lo", "table", "local");
    inInstance("ip", "-6", "route", "add", "local", "fd00:ec2::254", "dev", "lo", "table", "local", "proto", "kernel", "src", instanceIpv6);
    inContainer("ip", "link", "set", "lo", "up");
    this.createContainerLink();
  }

  /**
   * The veth pair "veth-ctr0" (instance) / "eth0" (container) with its addresses and the
   * container's IMDS route, as a container runtime makes it. Called by create(); tests call it
   * again after deleteContainerLink() to recreate the pair under the same names (new ifindexes).
   */
  createContainerLink(): void {
    const inInstance = (...args: string[]): string => run("ip", ["netns", "exec", this.instance, ...args]);
    const inContainer = (...args: string[]): string => run("ip", ["netns", "exec", this.container, ...args]);
    inInstance("ip", "link", "add", "veth-ctr0", "type", "veth", "peer", "name", "eth0", "netns", this.container);
    inInstance("ip", "addr", "add", `${containerGateway}/24`, "dev", "veth-ctr0");
    inInstance("ip", "link", "set", "veth-ctr0", "up");
    inContainer("ip", "addr", "add", `${containerIpv4}/24`, "dev", "eth0");
    inContainer("ip", "link", "set", "eth0", "up");
    inContainer("ip", "route", "add", "169.254.169.254/32", "via", containerGateway, "dev", "eth0");
  }

  /** Deletes the veth pair (deleting veth-ctr0 removes its peer eth0 too), as when a container goes away. */
  deleteContainerLink(): void {
    run("ip", ["netns", "exec", this.instance, "ip", "link", "del", "veth-ctr0"]);
  }

  private namespaceOf(role: Role): string {
    return role === "instance" ? this.instance : this.container;
  }

  /**
   * Starts a command inside a namespace. `ip netns exec` execs the command itself, so the child's
   * pid is the command's pid (what attribution must report).
   */
  spawn(role: Role, command: readonly string[], options: SpawnOptions = {}): Spawned {
    const child = spawn("ip", ["netns", "exec", this.namespaceOf(role), ...command], { stdio: ["ignore", "pipe", "pipe"], ...options });
    this.started.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => { stdout += chunk.toString("utf8"); });
    child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child.on("close", (code) => { resolve({ code, stdout, stderr }); });
      child.on("error", () => { resolve({ code: null, stdout, stderr }); });
    });
    if (child.pid === undefined) throw new Error(`could not start ${command.join(" ")}`);
    return { child, pid: child.pid, done, stderr: () => stderr };
  }

  /** Runs a command in a namespace to its end (bounded by timeoutMs). */
  async run(role: Role, command: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string; pid: number }> {
    const spawned = this.spawn(role, command);
    const timer = setTimeout(() => spawned.child.kill("SIGKILL"), timeoutMs);
    const result = await spawned.done;
    clearTimeout(timer);
    return { ...result, pid: spawned.pid };
  }

  /** Starts the fake IMDS in the instance namespace and waits for its "ready" line. */
  async startFakeImds(mode = "optional"): Promise<void> {
    await this.stopFakeImds();
    const spawned = this.spawn("instance", [process.execPath, fakeImdsScript, "--mode", mode, "--log", this.fakeImdsLog]);
    this.fakeImds = spawned;
    await waitForLine(spawned, "ready", 10_000);
  }

  /** Stops the fake IMDS (to restart it in another mode). */
  async stopFakeImds(): Promise<void> {
    const running = this.fakeImds;
    if (running === null) return;
    this.fakeImds = null;
    running.child.kill("SIGTERM");
    await running.done;
  }

  /** The fake IMDS's ground-truth log so far. */
  fakeImdsRequests(): Record<string, unknown>[] {
    let text = "";
    try {
      text = readFileSync(this.fakeImdsLog, "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Stops what was started here (by pid) and deletes both namespaces. */
  async close(): Promise<void> {
    await stopChildren(this.started);
    this.removeNamespaces();
  }

  private removeNamespaces(): void {
    spawnSync("ip", ["netns", "del", this.container]);
    spawnSync("ip", ["netns", "del", this.instance]);
  }
}

export function waitForLine(spawned: Spawned, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      reject(new Error(`timed out waiting for "${text}"; output so far: ${seen}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString("utf8");
      if (seen.includes(text)) {
        clearTimeout(timer);
        spawned.child.stdout?.off("data", onData);
        spawned.child.stderr?.off("data", onData);
        resolve();
      }
    };
    spawned.child.stdout?.on("data", onData);
    spawned.child.stderr?.on("data", onData);
    void spawned.done.then(() => {
      clearTimeout(timer);
      reject(new Error(`process ended before "${text}"; output: ${seen}`));
    });
  });
}
