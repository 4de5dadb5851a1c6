/**
 * The same code against the real /proc of this machine: the test process opens loopback
 * connections (127.0.0.1 only) to a server it starts, and must find itself as their owner.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { userInfo } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProcessIdentity } from "../../src/attribution/process-identity.js";
import { parseCmdline, parseProcStat } from "../../src/attribution/procfs-process-files.js";
import { redactArgv } from "../../src/attribution/redact.js";
import { SocketOwnerFinder } from "../../src/attribution/socket-owner.js";

const onLinux = process.platform === "linux";

let server: net.Server;
let serverPort = 0;
const clients: net.Socket[] = [];

async function connect(options: net.NetConnectOpts): Promise<net.Socket> {
  const socket = net.connect(options);
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

function ownNetnsInode(): number {
  return Number(/^net:\[(\d+)\]$/.exec(readlinkSync("/proc/self/ns/net"))![1]);
}

/** Link targets of this process's fds ("socket:[123]", "pipe:[45]", paths). */
function ownFdTargets(): Set<string> {
  const targets = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      targets.add(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd readdir itself used is closed by now
    }
  }
  return targets;
}

/** Ancestor pids from the PPid lines of /proc/PID/status (a different file than stat). */
function ancestorsFromStatus(pid: number): number[] {
  const ancestors: number[] = [];
  let current = pid;
  while (current !== 1 && ancestors.length < 32) {
    const parent = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${current}/status`, "utf8"))![1]);
    if (parent === 0) break;
    ancestors.push(parent);
    current = parent;
  }
  return ancestors;
}

describe.skipIf(!onLinux)("against the real /proc (loopback 127.0.0.1)", () => {
  beforeAll(async () => {
    server = net.createServer((socket) => {
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverPort = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const client of clients) client.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });

  it("finds its own pid for its own connection, client end and server end", async () => {
    const client = await connect({ host: "127.0.0.1", port: serverPort });
    const finder = new SocketOwnerFinder();
    const clientEnd = await finder.find({ ipVersion: 4, clientAddress: "127.0.0.1", clientPort: client.localPort!, serverAddress: "127.0.0.1", serverPort });
    const serverEnd = await finder.find({ ipVersion: 4, clientAddress: "127.0.0.1", clientPort: serverPort, serverAddress: "127.0.0.1", serverPort: client.localPort! });
    expect(clientEnd).toEqual({ pid: process.pid, inode: expect.any(Number) as number, netnsInode: ownNetnsInode() });
    expect(serverEnd).toEqual({ pid: process.pid, inode: expect.any(Number) as number, netnsInode: ownNetnsInode() });
    if (!("pid" in clientEnd) || !("pid" in serverEnd)) throw new Error("unreachable");
    expect(clientEnd.inode).not.toBe(serverEnd.inode);
    // Both inodes really are sockets this process holds.
    const held = ownFdTargets();
    expect(held.has(`socket:[${clientEnd.inode}]`)).toBe(true);
    expect(held.has(`socket:[${serverEnd.inode}]`)).toBe(true);
  });

  it("finds a dual-stack (AF_INET6, v4-mapped) socket from the IPv4 tuple", async () => {
    const client = await connect({ host: "::ffff:127.0.0.1", port: serverPort, family: 6 });
    expect(client.localAddress).toBe("::ffff:127.0.0.1");
    const result = await new SocketOwnerFinder().find({ ipVersion: 4, clientAddress: "127.0.0.1", clientPort: client.localPort!, serverAddress: "127.0.0.1", serverPort });
    expect(result).toMatchObject({ pid: process.pid, netnsInode: ownNetnsInode() });
  });

  it("answers socket-not-found, 'connection already closed', once its own connection is in TIME_WAIT", async () => {
    const finder = new SocketOwnerFinder();
    const client = await connect({ host: "127.0.0.1", port: serverPort });
    const tuple = { ipVersion: 4 as const, clientAddress: "127.0.0.1", clientPort: client.localPort!, serverAddress: "127.0.0.1", serverPort };
    // The client closes first, so its end goes to TIME_WAIT.
    client.end();
    await new Promise<void>((resolve) => client.once("close", () => { resolve(); }));
    let result = await finder.find(tuple);
    for (let attempt = 0; attempt < 50 && !("reason" in result && result.detail === "connection already closed"); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      result = await finder.find(tuple);
    }
    expect(result).toEqual({ status: "failed", reason: "socket-not-found", detail: "connection already closed" });
  });

  it("reads its own identity", async () => {
    const identity = await readProcessIdentity(process.pid);
    if ("status" in identity) throw new Error(JSON.stringify(identity));
    const ownStat = parseProcStat(readFileSync("/proc/self/stat", "utf8"))!;
    expect(identity.pid).toBe(process.pid);
    expect(identity.comm).toBe(readFileSync("/proc/self/comm", "utf8").replace(/\n$/, ""));
    expect(identity.exe).toBe(readlinkSync("/proc/self/exe"));
    expect(identity.exe).toBe(process.execPath);
    expect(identity.cmdline).toEqual(redactArgv(parseCmdline(readFileSync("/proc/self/cmdline", "utf8"))));
    expect(identity.cmdline.length).toBeGreaterThan(0);
    expect(identity.uid).toBe(process.geteuid!());
    expect(identity.user).toBe(userInfo().username);
    expect(identity.startTimeTicks).toBe(ownStat.startTimeTicks);
    const startedMs = Date.now() - process.uptime() * 1000;
    expect(Math.abs(Date.parse(identity.startTime!) - startedMs)).toBeLessThan(2000);
    expect(identity.parents[0]?.pid).toBe(process.ppid);
    expect(identity.parents.map((parent) => parent.pid)).toEqual(ancestorsFromStatus(process.pid));
    expect(identity.parents[0]?.comm).toBe(readFileSync(`/proc/${process.ppid}/comm`, "utf8").replace(/\n$/, ""));
    expect(identity.cgroupFile).toBe(readFileSync("/proc/self/cgroup", "utf8"));

    expect(await readProcessIdentity(process.pid, { expectedStartTimeTicks: ownStat.startTimeTicks + 1 })).toMatchObject({ status: "failed", reason: "pid-reused" });
  });

  it("answers process-exited for a child that has exited", async () => {
    const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const childPid = Number(child.stdout);
    expect(childPid).toBeGreaterThan(0);
    expect(await readProcessIdentity(childPid)).toMatchObject({ status: "failed", reason: "process-exited" });
  });

  it("times SocketOwnerFinder.find on this machine", async () => {
    const client = await connect({ host: "127.0.0.1", port: serverPort });
    const tuple = { ipVersion: 4 as const, clientAddress: "127.0.0.1", clientPort: client.localPort!, serverAddress: "127.0.0.1", serverPort };
    const finder = new SocketOwnerFinder();
    const coldStart = performance.now();
    expect(await finder.find(tuple)).toMatchObject({ pid: process.pid });
    const coldMs = performance.now() - coldStart;
    const warmTimes: number[] = [];
    for (let round = 0; round < 10; round++) {
      const started = performance.now();
      await finder.find(tuple);
      warmTimes.push(performance.now() - started);
    }
    const missStart = performance.now();
    await finder.find({ ...tuple, clientPort: 1 });
    const missMs = performance.now() - missStart;
    const processes = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
    console.log(
      `SocketOwnerFinder.find with ${processes} processes: cold ${coldMs.toFixed(1)} ms, warm median ${warmTimes.sort((a, b) => a - b)[5]!.toFixed(1)} ms, miss ${missMs.toFixed(1)} ms`,
    );
    expect(coldMs).toBeLessThan(5000);
  });
});
