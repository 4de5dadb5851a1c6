import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SocketOwnerFinder } from "../../src/attribution/socket-owner.js";
import type { SocketTuple } from "../../src/attribution/types.js";
import { FakeProcfs, defaultNetns, tcpLine } from "../helpers/fake-procfs.js";
import { realTcp6Lines, realTcpLines, realTimeWaitTcpLine } from "./real-tables.js";

const containerNetns = 4026532301;
const otherContainerNetns = 4026532415;

function v4(clientAddress: string, clientPort: number, serverAddress: string, serverPort: number): SocketTuple {
  return { ipVersion: 4, clientAddress, clientPort, serverAddress, serverPort };
}

/** A container's IMDS connection, hand-encoded: 172.17.0.2:45678 -> 169.254.169.254:80. */
const containerImdsLine = tcpLine(0, "020011AC:B26E", "FEA9FEA9:0050", "01", 91_001, 1000);
const containerImdsTuple = v4("172.17.0.2", 45678, "169.254.169.254", 80);

let fake: FakeProcfs;
let finder: SocketOwnerFinder;

beforeEach(async () => {
  fake = await FakeProcfs.create();
  finder = new SocketOwnerFinder({ procRoot: fake.procRoot });
  await fake.setSocketTables(defaultNetns, { tcp: [...realTcpLines, realTimeWaitTcpLine], tcp6: realTcp6Lines });
  await fake.addProcess({ pid: 1, ppid: 0, comm: "systemd", fds: { 0: "/dev/null", 7: "socket:[1206]" } });
  await fake.addProcess({ pid: 310, comm: "sshd", fds: { 3: "socket:[5555]" } });
  await fake.addProcess({
    pid: 4242,
    comm: "node",
    fds: { 0: "/dev/null", 1: "pipe:[88807]", 19: "socket:[88811]", 22: "socket:[88814]", 23: "socket:[88815]", 24: "socket:[88816]", 26: "socket:[88818]" },
  });
  await fake.setSocketTables(containerNetns, { tcp: [containerImdsLine] });
  await fake.addProcess({ pid: 5000, comm: "pause", netns: containerNetns });
  await fake.addProcess({ pid: 5001, comm: "python3", netns: containerNetns, fds: { 4: "anon_inode:[eventpoll]", 6: "socket:[91001]" } });
  await fake.setSelf(4242);
});

afterEach(async () => {
  await fake.cleanup();
});

describe("SocketOwnerFinder against a fake procfs", () => {
  it("finds an IPv4 connection's owner (the client end, not the server end)", async () => {
    expect(await finder.find(v4("127.0.0.1", 37936, "127.0.0.1", 36397))).toEqual({ pid: 4242, inode: 88814, netnsInode: defaultNetns });
    expect(await finder.find(v4("127.0.0.1", 36397, "127.0.0.1", 37936))).toEqual({ pid: 4242, inode: 88815, netnsInode: defaultNetns });
  });

  it("finds an IPv6 connection", async () => {
    expect(await finder.find({ ipVersion: 6, clientAddress: "::1", clientPort: 47150, serverAddress: "::1", serverPort: 41545 })).toEqual({
      pid: 4242,
      inode: 88816,
      netnsInode: defaultNetns,
    });
  });

  it("matches an IPv4 tuple to a dual-stack socket listed v4-mapped in tcp6", async () => {
    expect(await finder.find(v4("127.0.0.1", 54426, "127.0.0.1", 39513))).toEqual({ pid: 4242, inode: 88818, netnsInode: defaultNetns });
  });

  it("finds a socket in another network namespace through its representative pid", async () => {
    expect(await finder.find(containerImdsTuple)).toEqual({ pid: 5001, inode: 91_001, netnsInode: containerNetns });
  });

  it("answers socket-not-found with 'connection already closed' for TIME_WAIT (inode 0)", async () => {
    expect(await finder.find(v4("127.0.0.1", 35434, "127.0.0.1", 38461))).toEqual({
      status: "failed",
      reason: "socket-not-found",
      detail: "connection already closed",
    });
  });

  it("answers socket-not-found for an unknown tuple", async () => {
    expect(await finder.find(v4("127.0.0.1", 1111, "169.254.169.254", 80))).toEqual({
      status: "failed",
      reason: "socket-not-found",
      detail: "no TCP socket 127.0.0.1:1111 -> 169.254.169.254:80 in 2 network namespace(s)",
    });
  });

  it("answers socket-not-found when no process holds the socket any more", async () => {
    // 88817 (the server end of the IPv6 connection) is in the table but in nobody's fd list.
    expect(await finder.find({ ipVersion: 6, clientAddress: "::1", clientPort: 41545, serverAddress: "::1", serverPort: 47150 })).toEqual({
      status: "failed",
      reason: "socket-not-found",
      detail: "socket inode 88817 has no owner (closed, or its process exited)",
    });
  });

  it("answers error for a tuple that is not an address", async () => {
    expect(await finder.find(v4("localhost", 1, "169.254.169.254", 80))).toMatchObject({ status: "failed", reason: "error" });
    expect(await finder.find(v4("127.0.0.1", 70_000, "169.254.169.254", 80))).toMatchObject({ status: "failed", reason: "error" });
    expect(await finder.find({ ipVersion: 6, clientAddress: "127.0.0.1", clientPort: 1, serverAddress: "::1", serverPort: 2 })).toMatchObject({ reason: "error" });
  });

  it("picks the newest pid in the socket's namespace when several share the socket (fork)", async () => {
    await fake.addProcess({ pid: 5002, comm: "python3", netns: containerNetns, fds: { 6: "socket:[91001]" } });
    await fake.addProcess({ pid: 5003, comm: "sleep", netns: containerNetns });
    await fake.addProcess({ pid: 9000, comm: "debugger", fds: { 9: "socket:[91001]" } }); // fd passed to another namespace
    expect(await finder.find(containerImdsTuple)).toEqual({ pid: 5002, inode: 91_001, netnsInode: containerNetns });
  });

  it("finds a holder outside the namespace when none inside has it", async () => {
    await fake.removeProcess(5001);
    await fake.addProcess({ pid: 20, comm: "debugger", fds: { 9: "socket:[91001]" } });
    expect(await finder.find(containerImdsTuple)).toEqual({ pid: 20, inode: 91_001, netnsInode: containerNetns });
  });

  it("tries the next representative when the first one exited after the namespace map was cached", async () => {
    expect(await finder.find(containerImdsTuple)).toMatchObject({ pid: 5001 }); // builds and caches the map
    await fake.removeProcess(5000);
    expect(await finder.find(containerImdsTuple)).toEqual({ pid: 5001, inode: 91_001, netnsInode: containerNetns });
  });

  it("sees a namespace created after the map was cached (rebuilds once on a miss)", async () => {
    const lateTuple = v4("172.18.0.5", 40000, "169.254.169.254", 80);
    expect(await finder.find(lateTuple)).toMatchObject({ reason: "socket-not-found" });
    await fake.setSocketTables(otherContainerNetns, { tcp: [tcpLine(0, "050012AC:9C40", "FEA9FEA9:0050", "01", 92_002)] });
    await fake.addProcess({ pid: 6000, comm: "aws", netns: otherContainerNetns, fds: { 5: "socket:[92002]" } });
    expect(await finder.find(lateTuple)).toEqual({ pid: 6000, inode: 92_002, netnsInode: otherContainerNetns });
  });

  it("searches its own namespace first when a tuple exists in two namespaces", async () => {
    // The same loopback tuple inside the container namespace, owned by 5001 there.
    await fake.setSocketTables(containerNetns, { tcp: [containerImdsLine, tcpLine(1, "0100007F:9430", "0100007F:8E2D", "01", 93_003)] });
    await fake.addFd(5001, 8, "socket:[93003]");
    expect(await finder.find(v4("127.0.0.1", 37936, "127.0.0.1", 36397))).toEqual({ pid: 4242, inode: 88814, netnsInode: defaultNetns });
  });

  it("reads its own namespace's tables through <proc>/net when no ns link is readable", async () => {
    const other = await FakeProcfs.create();
    try {
      await other.setSocketTables(defaultNetns, { tcp: realTcpLines });
      await other.addProcess({ pid: 77, nsLinkReadable: false, fds: { 22: "socket:[88814]" } });
      await other.setSelf(77);
      const result = await new SocketOwnerFinder({ procRoot: other.procRoot }).find(v4("127.0.0.1", 37936, "127.0.0.1", 36397));
      // The namespace cannot be named without its link: 0.
      expect(result).toEqual({ pid: 77, inode: 88814, netnsInode: 0 });
    } finally {
      await other.cleanup();
    }
  });
});

describe("SocketOwnerFinder permissions", () => {
  // As root, chmod does not stop reads (CAP_DAC_OVERRIDE): this runs only as another user.
  it.skipIf(process.getuid?.() === 0)("answers permission-denied when the owner's fds could not be read", async () => {
    const fdDir = join(fake.procRoot, "5001", "fd");
    await chmod(fdDir, 0o000);
    try {
      expect(await finder.find(containerImdsTuple)).toEqual({
        status: "failed",
        reason: "permission-denied",
        detail: "socket inode 91001: fds of 1 process(es) were not readable",
      });
    } finally {
      await chmod(fdDir, 0o755);
    }
  });
});

describe("SocketOwnerFinder bounds", () => {
  it("reads at most maxTableLines lines of a table", async () => {
    // The IPv4 client socket is on line 4 (header, then slots 0..2 before it).
    const tuple = v4("127.0.0.1", 37936, "127.0.0.1", 36397);
    expect(await new SocketOwnerFinder({ procRoot: fake.procRoot, maxTableLines: 3 }).find(tuple)).toMatchObject({ reason: "socket-not-found" });
    expect(await new SocketOwnerFinder({ procRoot: fake.procRoot, maxTableLines: 4 }).find(tuple)).toMatchObject({ pid: 4242 });
  });

  it("stops the fd scan at maxFdLinksRead and says so", async () => {
    // Newest first in the container namespace: 5005's four fds use up the three allowed links.
    // One process at a time, so the budget is spent in a known order.
    await fake.addProcess({ pid: 5005, netns: containerNetns, fds: { 0: "/dev/null", 1: "pipe:[1]", 2: "pipe:[2]", 3: "anon_inode:[eventfd]" } });
    const limited = new SocketOwnerFinder({ procRoot: fake.procRoot, maxFdLinksRead: 3, concurrency: 1 });
    expect(await limited.find(containerImdsTuple)).toEqual({ status: "failed", reason: "socket-not-found", detail: "socket inode 91001: fd scan stopped at 3 links" });
    const roomy = new SocketOwnerFinder({ procRoot: fake.procRoot, maxFdLinksRead: 6, concurrency: 1 });
    expect(await roomy.find(containerImdsTuple)).toMatchObject({ pid: 5001 });
  });

  it("scans at most maxPidsScanned pids", async () => {
    // Only pid 1 and 310 fit: the namespace map and the fd scan never see 4242.
    const limited = new SocketOwnerFinder({ procRoot: fake.procRoot, maxPidsScanned: 2 });
    expect(await limited.find(v4("127.0.0.1", 37936, "127.0.0.1", 36397))).toMatchObject({
      reason: "socket-not-found",
      detail: "socket inode 88814 has no owner (closed, or its process exited)",
    });
  });
});

describe("SocketOwnerFinder under many calls at once (an analyzer that fell behind)", () => {
  it("reads each namespace's tables once and scans the fds once for all the calls pending at that moment", async () => {
    // 40 calls pending together: 20 for a host socket, 20 for the container's. One scan per
    // call would read 2 namespaces' tables 40 times and scan /proc/*/fd 40 times.
    const tuples = Array.from({ length: 20 }, () => [v4("127.0.0.1", 37936, "127.0.0.1", 36397), containerImdsTuple]).flat();
    const owners = await Promise.all(tuples.map((tuple) => finder.find(tuple)));
    expect(owners.filter((owner) => "pid" in owner && owner.pid === 4242)).toHaveLength(20);
    expect(owners.filter((owner) => "pid" in owner && owner.pid === 5001)).toHaveLength(20);
    expect(finder.stats).toEqual({ namespaceTableReads: 2, fdScans: 1 });
  });

  it("answers each call of a shared batch on its own: found, TIME_WAIT, unknown", async () => {
    const [found, closed, unknown] = await Promise.all([
      finder.find(containerImdsTuple),
      finder.find(v4("127.0.0.1", 35434, "127.0.0.1", 38461)),
      finder.find(v4("10.9.9.9", 1, "169.254.169.254", 80)),
    ]);
    expect(found).toEqual({ pid: 5001, inode: 91_001, netnsInode: containerNetns });
    expect(closed).toMatchObject({ reason: "socket-not-found", detail: "connection already closed" });
    expect(unknown).toMatchObject({ reason: "socket-not-found" });
    expect(finder.stats.fdScans).toBe(1);
  });
});
