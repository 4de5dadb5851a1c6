/**
 * The eBPF connect tracer on the real kernel (root). The tracer is opened in this process; the
 * clients run in test network namespaces (tracepoints are global, so it sees them), against a
 * fake IMDS on the namespace's own lo. SAFETY: every client runs under `ip netns exec` in one of
 * the two namespaces made here (see `TestNamespaces.run`); nothing talks to an IMDS address in
 * the host's namespace. Skipped with a printed reason when not root outside CI; under CI=true a
 * missing prerequisite fails.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EbpfConnectTracer } from "../../src/attribution/ebpf-tracer.js";
import type { ConnectRecord } from "../../src/attribution/ebpf-tracer.js";
import { AttributionUnavailableError, ErrorCode } from "../../src/errors.js";
import { stopChildren } from "../helpers/processes.js";

const fakeImdsScript = join(import.meta.dirname, "..", "fake-imds", "fake-imds.mjs");
/** The namespace's own (non-IMDS) addresses: clients use them as source; also a non-IMDS target. */
const clientIpv4 = "10.0.0.10";
const clientIpv6 = "2001:db8:77::10";
const clientTimeoutMs = 10_000;
/** How long records may take to arrive after the client exited (they normally take < 1 ms). */
const recordWaitMs = 3_000;
/** How long the long-lived client stays alive after its request, for /proc to be compared. */
const lingerSeconds = 2;

function prerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: "eBPF needs Linux" };
  if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (CAP_BPF, CAP_PERFMON, network namespaces)" };
  for (const tool of ["ip", "curl", "python3"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return { ok: false, reason: `${tool} not found` };
  }
  if (spawnSync("ip", ["netns", "list"]).status !== 0) return { ok: false, reason: "'ip netns' does not work here" };
  const available = EbpfConnectTracer.available();
  if (!available.ok) return { ok: false, reason: available.reason };
  return { ok: true };
}

const check = prerequisites();
const underCi = process.env["CI"] === "true";
if (!check.ok && !underCi) console.warn(`skipping eBPF tracer tests: ${check.reason}`);

interface Ran {
  readonly pid: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

type Namespace = "imds" | "empty";

/**
 * "imds": the IMDS addresses and the namespace's own addresses on lo, a fake IMDS on
 * 169.254.169.254:80 and [fd00:ec2::254]:80, plus HTTP listeners that are not IMDS
 * (169.254.169.254:8080, 10.0.0.10:80, [2001:db8:77::10]:80). "empty": the IMDS addresses and
 * nothing listening (connects are refused).
 */
class TestNamespaces {
  private readonly names: Record<Namespace, string>;
  private readonly directory = mkdtempSync(join(tmpdir(), "imds-ebpf-test-"));
  readonly fakeImdsLog = join(this.directory, "fake-imds.ndjson");
  private readonly started: ChildProcess[] = [];

  private constructor() {
    const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;
    this.names = { imds: `imds-ebpf-i-${suffix}`, empty: `imds-ebpf-e-${suffix}` };
  }

  static async create(): Promise<TestNamespaces> {
    const namespaces = new TestNamespaces();
    try {
      namespaces.setUp();
      await namespaces.startFakeImds();
    } catch (error) {
      await namespaces.close();
      throw error;
    }
    return namespaces;
  }

  private setUp(): void {
    const run = (...args: string[]): void => {
      const result = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
      if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
    };
    const imds = this.names.imds;
    const empty = this.names.empty;
    run("netns", "add", imds);
    run("netns", "add", empty);
    run("netns", "exec", imds, "ip", "link", "set", "lo", "up");
    run("netns", "exec", imds, "ip", "addr", "add", `${clientIpv4}/32`, "dev", "lo");
    run("netns", "exec", imds, "ip", "addr", "add", "169.254.169.254/32", "dev", "lo");
    run("netns", "exec", imds, "ip", "-6", "addr", "add", `${clientIpv6}/128`, "dev", "lo", "nodad");
    run("netns", "exec", imds, "ip", "-6", "addr", "add", "fd00:ec2::254/128", "dev", "lo", "nodad");
    // Clients would use the IMDS address itself as source; make them use the namespace's own,
    // so a record that swapped source and destination cannot pass.
    run("netns", "exec", imds, "ip", "route", "replace", "local", "169.254.169.254", "dev", "lo", "table", "local", "proto", "kernel", "scope", "host", "src", clientIpv4);
    run("netns", "exec", imds, "ip", "-6", "route", "del", "local", "fd00:ec2::254", "dev", "lo", "table", "local");
    run("netns", "exec", imds, "ip", "-6", "route", "add", "local", "fd00:ec2::254", "dev", "lo", "table", "local", "proto", "kernel", "src", clientIpv6);
    run("netns", "exec", empty, "ip", "link", "set", "lo", "up");
    run("netns", "exec", empty, "ip", "addr", "add", "169.254.169.254/32", "dev", "lo");
    run("netns", "exec", empty, "ip", "-6", "addr", "add", "fd00:ec2::254/128", "dev", "lo", "nodad");
  }

  private async startFakeImds(): Promise<void> {
    const listen = ["169.254.169.254:80", "[fd00:ec2::254]:80", "169.254.169.254:8080", `${clientIpv4}:80`, `[${clientIpv6}]:80`];
    const child = spawn(
      "ip",
      ["netns", "exec", this.names.imds, process.execPath, fakeImdsScript, "--mode", "optional", "--log", this.fakeImdsLog, ...listen.flatMap((address) => ["--listen", address])],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.started.push(child);
    await new Promise<void>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => { reject(new Error(`fake IMDS not ready after 10 s: ${output}`)); }, 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString("utf8");
        if (/^ready$/m.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", () => {
        clearTimeout(timer);
        reject(new Error(`fake IMDS exited: ${output}`));
      });
    });
  }

  /**
   * Starts a command in one of our namespaces. `ip netns exec` execs it: its pid is the child's,
   * and its parent is this test process. `onStdout` sees the output as it comes.
   */
  start(namespace: Namespace, command: readonly string[], onStdout?: (text: string) => void): { pid: number; done: Promise<Ran> } {
    const child = spawn("ip", ["netns", "exec", this.names[namespace], ...command], { stdio: ["ignore", "pipe", "pipe"] });
    this.started.push(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${command.join(" ")}`);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      onStdout?.(stdout);
    });
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
    const timer = setTimeout(() => child.kill("SIGKILL"), clientTimeoutMs);
    const done = new Promise<Ran>((resolve) => {
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ pid, code, stdout, stderr });
      });
    });
    return { pid, done };
  }

  /** Runs a command in one of our namespaces to its end. */
  run(namespace: Namespace, command: readonly string[]): Promise<Ran> {
    return this.start(namespace, command).done;
  }

  /** Runs a command to its end with this thread blocked (spawnSync): the event loop stands still. */
  runBlocking(namespace: Namespace, command: readonly string[]): Ran {
    const result = spawnSync("ip", ["netns", "exec", this.names[namespace], ...command], { encoding: "utf8", timeout: clientTimeoutMs });
    return { pid: result.pid, code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** The fake IMDS's requests so far: [clientIp, clientPort, serverIp, serverPort]. */
  loggedConnections(): string[] {
    let text = "";
    try {
      text = readFileSync(this.fakeImdsLog, "utf8");
    } catch {
      return [];
    }
    return text
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => {
        const entry = JSON.parse(line) as { clientIp: string; clientPort: number; serverIp: string; serverPort: number };
        return `${entry.clientIp} ${entry.clientPort} ${entry.serverIp} ${entry.serverPort}`;
      });
  }

  async close(): Promise<void> {
    await stopChildren(this.started);
    spawnSync("ip", ["netns", "del", this.names.imds]);
    spawnSync("ip", ["netns", "del", this.names.empty]);
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes (the event loop keeps running). */
async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** /proc/PID/stat field 22 (start time in clock ticks since boot); comm may hold spaces and ')'. */
function statStartTicks(pid: number | "self"): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[22 - 3]);
}

/** Now, in stat's units (clock ticks since boot, suspend included), rounded up. */
function nowTicks(): number {
  const uptimeSeconds = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return Math.ceil(uptimeSeconds * clockTicksPerSecond()) + 1;
}

function clockTicksPerSecond(): number {
  return Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim());
}

/** The cgroup v2 path of a live process (its "0::" line). */
function cgroupV2Path(pid: number | "self"): string | null {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((entry) => entry.startsWith("0::"));
  return line === undefined ? null : line.slice(3);
}

/** Names of this process's threads: one of them forked each client (normally the main one). */
function ourThreadComms(): string[] {
  return readdirSync("/proc/self/task").map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim());
}

/** The executable a command name runs (its real path), as /proc/PID/exe shows it. */
function executablePath(name: string): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  return realpathSync(found);
}

/** The real executable behind `python3` (a pyenv shim execs it), as python itself sees it. */
function pythonPath(): string {
  return spawnSync("python3", ["-c", "import os; print(os.readlink('/proc/self/exe'))"], { encoding: "utf8" }).stdout.trim();
}

function curlCommand(url: string, ...extra: string[]): string[] {
  return ["curl", ...extra, "-s", "-o", "/dev/null", "-m", "5", "-w", "%{local_port}", url];
}

describe.skipIf(!check.ok && !underCi)("EbpfConnectTracer on the real kernel", () => {
  let tracer: EbpfConnectTracer | null = null;
  let namespaces: TestNamespaces | null = null;
  const records: ConnectRecord[] = [];
  const recordsOf = (pid: number): ConnectRecord[] => records.filter((record) => record.pid === pid);
  /** One-shot curls whose record kept the exe path read from /proc at record time. */
  const oneShotCurls = { total: 0, withExePath: 0, withCgroupPath: 0, exited: 0 };
  let ourStartTicks = 0;
  let ourCgroupPath: string | null = null;
  let curlPath = "";

  beforeAll(async () => {
    if (!check.ok) throw new Error(`CI=true but the eBPF tracer tests cannot run: ${check.reason}`);
    tracer = EbpfConnectTracer.open((batch) => { records.push(...batch); }, { reportFailedConnects: true });
    namespaces = await TestNamespaces.create();
    ourStartTicks = statStartTicks("self");
    ourCgroupPath = cgroupV2Path("self");
    curlPath = executablePath("curl");
  });

  afterAll(async () => {
    tracer?.close();
    await namespaces?.close();
  });

  /**
   * What identifies the process, read in the kernel at connect time and by the addon at record
   * time, for a client this test process started with `ip netns exec` (which execs the client,
   * so the client's parent is this process). The process is gone by now: /proc can no longer
   * say, so start times are checked against bounds here and exactly in the long-lived client test.
   */
  function expectIdentity(record: ConnectRecord, exePath: string): void {
    expect(record.parentPid).toBe(process.pid);
    expect(ourThreadComms()).toContain(record.parentComm);
    expect(record.startTimeTicks).not.toBeNull();
    expect(record.startTimeTicks!).toBeGreaterThanOrEqual(ourStartTicks);
    expect(record.startTimeTicks!).toBeLessThanOrEqual(nowTicks());
    expect(record.exeName).toBe(basename(exePath));
    // Read from /proc before the process exited ("confirmed"), or too late ("exited"); never another process's.
    expect(["confirmed", "exited"]).toContain(record.procSnapshot);
    if (record.exePath !== null) expect(record.exePath).toBe(exePath);
    if (record.cgroupPath !== null) expect(record.cgroupPath).toBe(ourCgroupPath);
    if (record.procSnapshot === "exited") expect([record.exePath, record.cgroupPath]).toEqual([null, null]);
  }

  function tallyOneShotCurl(record: ConnectRecord): void {
    oneShotCurls.total++;
    if (record.exePath === curlPath) oneShotCurls.withExePath++;
    if (record.cgroupPath !== null) oneShotCurls.withCgroupPath++;
    if (record.procSnapshot === "exited") oneShotCurls.exited++;
  }

  /** Waits for one record per pid and checks it is the only one and an established IMDS connect. */
  async function expectAttributed(
    runs: readonly { ran: Ran; command: readonly string[] }[],
    expected: { comm: string | RegExp; ipVersion: 4 | 6; exePath: string },
  ): Promise<ConnectRecord[]> {
    for (const { ran } of runs) expect(ran.code, ran.stderr).toBe(0);
    const arrived = await waitFor(() => runs.every(({ ran }) => recordsOf(ran.pid).length > 0), recordWaitMs);
    expect(arrived, `records for pids ${runs.map(({ ran }) => ran.pid).join(",")}`).toBe(true);
    const logged = namespaces!.loggedConnections();
    for (const { ran, command } of runs) {
      const mine = recordsOf(ran.pid);
      expect(mine).toHaveLength(1);
      const record = mine[0]!;
      expect(record.outcome).toBe("established");
      expect(record.tid).toBe(ran.pid);
      expect(record.comm).toMatch(expected.comm);
      expect([record.uid, record.gid]).toEqual([0, 0]);
      expect(record.ipVersion).toBe(expected.ipVersion);
      expect(record.serverAddress).toBe(expected.ipVersion === 4 ? "169.254.169.254" : "fd00:ec2::254");
      expect(record.serverPort).toBe(80);
      expect(record.clientAddress).toBe(expected.ipVersion === 4 ? clientIpv4 : clientIpv6);
      if (command[0] === "curl") expect(record.clientPort).toBe(Number(ran.stdout));
      expect(record.endTimeNs >= record.connectTimeNs).toBe(true);
      expect(record.cgroupId > 0n).toBe(true);
      // The fake IMDS saw a request on exactly this 4-tuple.
      expect(logged).toContain(`${record.clientAddress} ${record.clientPort} ${record.serverAddress} ${record.serverPort}`);
      if (tracer!.argvCapture) {
        if (command[0] === "curl") expect(record.argv).toEqual(command);
        else expect(record.argv?.slice(1)).toEqual(command.slice(1));
      } else {
        expect(record.argv).toBeNull();
      }
      expectIdentity(record, expected.exePath);
    }
    return runs.map(({ ran }) => recordsOf(ran.pid)[0]!);
  }

  it("reports argv capture, with a reason when it is off", () => {
    expect(tracer).not.toBeNull();
    if (!tracer!.argvCapture) console.warn(`argv capture off: ${String(tracer!.argvUnavailableReason)}`);
    expect(tracer!.argvUnavailableReason === null).toBe(tracer!.argvCapture);
  });

  it("captures every kernel identity field (parent pid and comm, start time, exe name)", () => {
    const capture = tracer!.identityCapture;
    for (const field of ["parentPid", "parentComm", "startTime", "exeName"] as const) {
      if (!capture[field].enabled) console.warn(`identity field ${field} off: ${String(capture[field].unavailableReason)}`);
    }
    // Linux >= 5.8 (the ring buffer's minimum) has every member these need.
    expect(capture).toEqual({
      parentPid: { enabled: true, unavailableReason: null },
      parentComm: { enabled: true, unavailableReason: null },
      startTime: { enabled: true, unavailableReason: null },
      exeName: { enabled: true, unavailableReason: null },
    });
  });

  it("attributes 20 sequential one-shot curls, each to exactly one record", async () => {
    const runs = [];
    for (let index = 0; index < 20; index++) {
      const command = curlCommand(`http://169.254.169.254/latest/meta-data/instance-id?n=${index}`);
      runs.push({ ran: await namespaces!.run("imds", command), command });
    }
    const attributed = await expectAttributed(runs, { comm: "curl", ipVersion: 4, exePath: curlPath });
    attributed.forEach(tallyOneShotCurl);
    // Sequential: each process started after the one before it.
    const starts = attributed.map((record) => record.startTimeTicks!);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
  });

  it("attributes 5 concurrent curls", async () => {
    const commands = Array.from({ length: 5 }, (_, index) => curlCommand(`http://169.254.169.254/latest/meta-data/ami-id?c=${index}`));
    const ran = await Promise.all(commands.map((command) => namespaces!.run("imds", command)));
    const attributed = await expectAttributed(ran.map((one, index) => ({ ran: one, command: commands[index]! })), {
      comm: "curl",
      ipVersion: 4,
      exePath: curlPath,
    });
    attributed.forEach(tallyOneShotCurl);
  });

  it("kept the /proc exe path for most one-shot curls, and the kernel fields for all", () => {
    const share = (count: number): string => `${count}/${oneShotCurls.total} (${Math.round((100 * count) / oneShotCurls.total)}%)`;
    console.log(
      `one-shot curls: exePath ${curlPath} for ${share(oneShotCurls.withExePath)}, cgroupPath for ${share(oneShotCurls.withCgroupPath)}, ` +
        `gone before /proc was read: ${share(oneShotCurls.exited)}`,
    );
    // Kernel fields were asserted on every record above; the /proc share depends on scheduling.
    expect(oneShotCurls.total).toBe(25);
    expect(oneShotCurls.withExePath).toBeGreaterThan(0);
  });

  it("reads /proc on its own thread: curls run while the event loop is blocked still get their exe path", async () => {
    // spawnSync blocks this thread until curl has exited: a consumer on the event loop could
    // only read /proc afterwards, when the process is gone, and would get no path at all.
    const blocked = Array.from({ length: 10 }, (_, index) => {
      const command = curlCommand(`http://169.254.169.254/latest/meta-data/?blocked=${index}`);
      return { ran: namespaces!.runBlocking("imds", command), command };
    });
    const attributed = await expectAttributed(blocked, { comm: "curl", ipVersion: 4, exePath: curlPath });
    const withExePath = attributed.filter((record) => record.exePath === curlPath).length;
    console.log(`curls with the event loop blocked: exePath for ${withExePath}/${attributed.length}`);
    expect(withExePath).toBeGreaterThan(0);
  });

  it("drain() hands over at once, in this turn of the loop, the records the loop has not been given yet", async () => {
    // The loop stays blocked from the first curl to the drain (spawnSync, then synchronous
    // code): no wakeup can have delivered these records; they are in the ring or the addon's
    // queue, as for an analyzer that fell behind. drain() must hand them over before it returns.
    const blocked = Array.from({ length: 5 }, (_, index) => {
      const command = curlCommand(`http://169.254.169.254/latest/meta-data/?drained=${index}`);
      return { ran: namespaces!.runBlocking("imds", command), command };
    });
    const deliveredBefore = blocked.map(({ ran }) => recordsOf(ran.pid).length);
    const drained = tracer!.drain();
    const deliveredAfter = blocked.map(({ ran }) => recordsOf(ran.pid).length);
    expect(deliveredBefore).toEqual([0, 0, 0, 0, 0]);
    // Other connects to IMDS on this machine (other namespaces) may be drained with them.
    expect(drained).toBeGreaterThanOrEqual(5);
    expect(deliveredAfter).toEqual([1, 1, 1, 1, 1]);
    // Handed over once: the wakeup that follows does not deliver them again.
    const attributed = await expectAttributed(blocked, { comm: "curl", ipVersion: 4, exePath: curlPath });
    expect(attributed.map((record) => record.procSnapshot).every((snapshot) => snapshot === "confirmed" || snapshot === "exited")).toBe(true);
  });

  it("gives a long-lived client's start time exactly as /proc/PID/stat field 22, with exe and cgroup", async () => {
    const code = `import time, urllib.request; urllib.request.urlopen('http://169.254.169.254/latest/meta-data/', timeout=5).read(); print('requested', flush=True); time.sleep(${lingerSeconds})`;
    let requested = (): void => undefined;
    const requestDone = new Promise<void>((resolve) => { requested = resolve; });
    const client = namespaces!.start("imds", ["python3", "-c", code], (stdout) => { if (stdout.includes("requested")) requested(); });
    await Promise.race([requestDone, client.done]);
    // Alive (sleeping) now: /proc describes the very process the kernel recorded.
    const live = { startTicks: statStartTicks(client.pid), exe: readlinkSync(`/proc/${client.pid}/exe`), cgroup: cgroupV2Path(client.pid) };
    expect(await waitFor(() => recordsOf(client.pid).length > 0, recordWaitMs)).toBe(true);
    const ran = await client.done;
    expect(ran.code, ran.stderr).toBe(0);
    const record = recordsOf(client.pid)[0]!;
    expect(record.startTimeTicks).toBe(live.startTicks);
    expect([record.procSnapshot, record.exePath, record.cgroupPath, record.exeName]).toEqual(["confirmed", live.exe, live.cgroup, basename(live.exe)]);
    expect([record.parentPid, record.outcome]).toEqual([process.pid, "established"]);
  });

  it("attributes python3 urllib", async () => {
    const code = "import urllib.request; print(urllib.request.urlopen('http://169.254.169.254/latest/meta-data/', timeout=5).status)";
    const command = ["python3", "-c", code];
    const ran = await namespaces!.run("imds", command);
    expect(ran.stdout.trim()).toBe("200");
    await expectAttributed([{ ran, command }], { comm: /^python3/, ipVersion: 4, exePath: pythonPath() });
  });

  it("attributes an IPv6 curl to [fd00:ec2::254]", async () => {
    const command = curlCommand("http://[fd00:ec2::254]/latest/meta-data/", "-g");
    const ran = await namespaces!.run("imds", command);
    await expectAttributed([{ ran, command }], { comm: "curl", ipVersion: 6, exePath: curlPath });
  });

  it("reports an IPv6 socket connecting to ::ffff:169.254.169.254 as IPv4", async () => {
    const code = "import socket; s = socket.socket(socket.AF_INET6); s.settimeout(5); s.connect(('::ffff:169.254.169.254', 80)); print(s.getsockname()[1]); s.close()";
    const ran = await namespaces!.run("imds", ["python3", "-c", code]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(await waitFor(() => recordsOf(ran.pid).length > 0, recordWaitMs)).toBe(true);
    expect(recordsOf(ran.pid).map((r) => [r.outcome, r.ipVersion, r.clientAddress, r.clientPort, r.serverAddress, r.serverPort])).toEqual([
      ["established", 4, clientIpv4, Number(ran.stdout), "169.254.169.254", 80],
    ]);
  });

  it("lets nothing but IMDS leave the kernel", async () => {
    const others = [
      curlCommand("http://169.254.169.254:8080/latest/meta-data/"), // IMDS address, other port
      curlCommand(`http://${clientIpv4}/latest/meta-data/`), // port 80, other address
      curlCommand(`http://[${clientIpv6}]/latest/meta-data/`, "-g"),
    ];
    const ran = [];
    for (const command of others) {
      const one = await namespaces!.run("imds", command);
      expect(one.code, `${command.join(" ")}: ${one.stderr}`).toBe(0);
      ran.push(one);
    }
    // Records leave the ring in order: once a later IMDS connect's record is here, any record
    // for the connects above would be too.
    const control = await namespaces!.run("imds", curlCommand("http://169.254.169.254/latest/meta-data/"));
    expect(await waitFor(() => recordsOf(control.pid).length > 0, recordWaitMs)).toBe(true);
    for (const one of ran) expect(recordsOf(one.pid)).toEqual([]);
  });

  it("reports a refused connect as failed, never established, and leaves no pending entry", async () => {
    const before = tracer!.stats();
    const refused = [
      await namespaces!.run("empty", curlCommand("http://169.254.169.254/latest/meta-data/")),
      await namespaces!.run("empty", curlCommand("http://[fd00:ec2::254]/latest/meta-data/", "-g")),
    ];
    for (const ran of refused) expect(ran.code).toBe(7); // curl: failed to connect
    expect(await waitFor(() => refused.every((ran) => recordsOf(ran.pid).length > 0), recordWaitMs)).toBe(true);
    for (const ran of refused) {
      expect(recordsOf(ran.pid).map((r) => [r.outcome, r.comm, r.serverPort])).toEqual([["failed", "curl", 80]]);
      expect(recordsOf(ran.pid)[0]!.clientPort).toBeGreaterThan(0);
    }
    expect(recordsOf(refused[1]!.pid)[0]!.serverAddress).toBe("fd00:ec2::254");
    expect(await waitFor(() => tracer!.stats().pendingConnects === 0, recordWaitMs)).toBe(true);
    const after = tracer!.stats();
    expect(after.failed - before.failed).toBeGreaterThanOrEqual(2);
  });

  it("lost nothing and decoded everything", () => {
    const stats = tracer!.stats();
    expect(stats.ringBufferLost).toBe(0);
    expect(stats.mapFull).toBe(0);
    expect(stats.unknownRecords).toBe(0);
    expect(stats.identityFailed).toBe(0);
    expect(stats.procPidReused).toBe(0);
    expect(stats.recordsDelivered).toBe(records.length);
    expect(stats.established + stats.failed).toBeGreaterThanOrEqual(31);
  });

  it("loads without the identity capture on request: kernel fields null, /proc paths unverified", async () => {
    const plain: ConnectRecord[] = [];
    const other = EbpfConnectTracer.open((batch) => { plain.push(...batch); }, { captureProcessIdentity: false });
    try {
      const notRequested = { enabled: false, unavailableReason: "process identity capture not requested" };
      expect(other.identityCapture).toEqual({ parentPid: notRequested, parentComm: notRequested, startTime: notRequested, exeName: notRequested });
      expect(other.argvCapture).toBe(tracer!.argvCapture);
      const command = curlCommand("http://169.254.169.254/latest/meta-data/?plain");
      const ran = await namespaces!.run("imds", command);
      expect(await waitFor(() => plain.some((record) => record.pid === ran.pid), recordWaitMs)).toBe(true);
      const record = plain.find((one) => one.pid === ran.pid)!;
      expect([record.parentPid, record.parentComm, record.startTimeTicks, record.exeName]).toEqual([null, null, null, null]);
      // Nothing to check /proc against: kept but "unverified" (or "exited" when it was too late).
      expect(["unverified", "exited"]).toContain(record.procSnapshot);
      if (record.procSnapshot === "unverified" && record.exePath !== null) expect(record.exePath).toBe(curlPath);
      if (tracer!.argvCapture) expect(record.argv).toEqual(command);
      expect(other.stats().identityFailed).toBe(0);
    } finally {
      other.close();
    }
  });

  it("stops delivering at close(), which is idempotent, while a second tracer goes on", async () => {
    const second: ConnectRecord[] = [];
    const other = EbpfConnectTracer.open((batch) => { second.push(...batch); }); // default options
    try {
      const first = tracer!;
      first.close();
      first.close();
      const closedStats = first.stats(); // a snapshot taken at close
      expect(closedStats.recordsDelivered).toBe(records.length);
      const refused = await namespaces!.run("empty", curlCommand("http://169.254.169.254/latest/meta-data/"));
      expect(refused.code).toBe(7);
      const ran = await namespaces!.run("imds", curlCommand("http://169.254.169.254/latest/meta-data/"));
      expect(await waitFor(() => second.some((record) => record.pid === ran.pid), recordWaitMs)).toBe(true);
      expect(recordsOf(ran.pid)).toEqual([]);
      // Failed connects are only delivered on request (reportFailedConnects).
      expect(second.filter((record) => record.pid === refused.pid)).toEqual([]);
      expect(other.stats().failed).toBeGreaterThanOrEqual(1);
    } finally {
      other.close();
    }
  });
});

describe("EbpfConnectTracer errors", () => {
  it("are AttributionUnavailableErrors with a code and a reason", () => {
    const error = new AttributionUnavailableError("E_EBPF_PERMISSION", "eBPF connect tracer: not permitted");
    expect(error.code).toBe(ErrorCode.attributionUnavailable);
    expect(error.code).toBe("E_ATTRIBUTION_UNAVAILABLE");
    expect(error.reason).toBe("E_EBPF_PERMISSION");
    expect(error.name).toBe("AttributionUnavailableError");
  });
});
