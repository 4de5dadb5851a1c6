/**
 * Fallback attribution when eBPF is unavailable or a connection predates the capture:
 * socket 4-tuple -> socket inode (in the right network namespace) -> pid.
 *
 * /proc/net/tcp{,6} only lists the reading process's network namespace, so the finder groups
 * pids by namespace (readlink /proc/PID/ns/net -> "net:[INODE]"), reads /proc/REP/net/tcp{,6}
 * of one representative pid per namespace, and then looks for the pid holding an fd that links
 * to "socket:[INODE]", scanning that namespace's pids first (newest first). It is slow by nature (a table read
 * costs ~3 ms even when nearly empty, an fd scan ~4 ms per 75 processes), which is fine for a
 * fallback; the work is bounded by `maxPidsScanned`, `maxTableLines` and `maxFdLinksRead`.
 */
import { readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { findSocketInTable, encodeProcNetAddress, ipv4MappedBytes, parseIpv4Text, parseIpv6Text } from "./procfs-net-tcp.js";
import { parseProcStat } from "./procfs-process-files.js";
import {
  errnoCode,
  failureFromProcessError,
  findFirstInOrder,
  maxSmallProcFileBytes,
  forEachWithConcurrency,
  parseBracketInode,
  pidsFromDirectoryNames,
  readBoundedText,
  readlinkOrNull,
} from "./procfs-read.js";
import { attributionFailure, type AttributionFailure, type SocketOwner, type SocketTuple } from "./types.js";

export type { SocketOwner, SocketTuple } from "./types.js";

export interface SocketOwnerFinderOptions {
  /** Where procfs is mounted; tests point this at a fake tree. Default "/proc". */
  readonly procRoot?: string;
  /** How long the pid -> network namespace map is reused. Default 1000 ms. */
  readonly namespaceCacheMs?: number;
  /** Most pids looked at (namespace map and fd scan each). Default 65536. */
  readonly maxPidsScanned?: number;
  /** Most lines read from one tcp/tcp6 table. Default 200,000. */
  readonly maxTableLines?: number;
  /** Most fd links read by one fd scan. Default 1,000,000. */
  readonly maxFdLinksRead?: number;
  /** Processes looked at concurrently (ns links, fd directories). Default 16. */
  readonly concurrency?: number;
}

/** ~150 bytes per line: bounds a table read to maxTableLines lines' worth. */
const bytesPerTableLine = 160;
/** Network namespaces whose tables are read at the same time. */
const namespacesSearchedAtOnce = 4;
/** fd links of one process read at once. */
const fdBatchSize = 64;
/** Representatives tried per namespace before giving up on it (each may exit under us). */
const maxRepresentativesTried = 3;

interface NamespaceMap {
  readonly builtAtMs: number;
  /** netns inode -> pids in it, ascending. */
  readonly pidsByNamespace: ReadonlyMap<number, readonly number[]>;
  readonly pidsWithUnknownNamespace: readonly number[];
  /** The namespace /proc/self/net shows; searched first (where the host's own callers live). */
  readonly ownNamespace: number | null;
}

interface TableHit {
  readonly inode: number;
  readonly netnsInode: number;
}

export class SocketOwnerFinder {
  private readonly procRoot: string;
  private readonly namespaceCacheMs: number;
  private readonly maxPidsScanned: number;
  private readonly maxTableLines: number;
  private readonly maxFdLinksRead: number;
  private readonly concurrency: number;
  private namespaceMap: NamespaceMap | null = null;

  constructor(options: SocketOwnerFinderOptions = {}) {
    this.procRoot = options.procRoot ?? "/proc";
    this.namespaceCacheMs = options.namespaceCacheMs ?? 1000;
    this.maxPidsScanned = options.maxPidsScanned ?? 65_536;
    this.maxTableLines = options.maxTableLines ?? 200_000;
    this.maxFdLinksRead = options.maxFdLinksRead ?? 1_000_000;
    this.concurrency = options.concurrency ?? 16;
  }

  async find(tuple: SocketTuple): Promise<SocketOwner | AttributionFailure> {
    const keys = tableKeys(tuple);
    if (keys === null) {
      return attributionFailure("error", `not an IPv${tuple.ipVersion} tuple: ${tuple.clientAddress}:${tuple.clientPort} -> ${tuple.serverAddress}:${tuple.serverPort}`);
    }
    try {
      const cached = this.freshCachedNamespaceMap();
      let map = cached ?? (await this.rebuildNamespaceMap());
      let hit = await this.searchTables(map, keys);
      if (hit === null && cached !== null) {
        // A namespace created since the map was built (a container that just started) is not
        // in it: rebuild once before giving up.
        map = await this.rebuildNamespaceMap();
        hit = await this.searchTables(map, keys);
      }
      if (hit === null) {
        return attributionFailure("socket-not-found", `no TCP socket ${describeTuple(tuple)} in ${Math.max(1, map.pidsByNamespace.size)} network namespace(s)`);
      }
      if (hit.inode === 0) return attributionFailure("socket-not-found", "connection already closed");
      return await this.findInodeOwner(map, hit);
    } catch (error) {
      return attributionFailure("error", error instanceof Error ? error.message : String(error));
    }
  }

  private freshCachedNamespaceMap(): NamespaceMap | null {
    const map = this.namespaceMap;
    return map !== null && Date.now() - map.builtAtMs <= this.namespaceCacheMs ? map : null;
  }

  private async rebuildNamespaceMap(): Promise<NamespaceMap> {
    const pids = await this.listPids();
    const namespaces = new Array<number | null>(pids.length).fill(null);
    await forEachWithConcurrency(pids, this.concurrency, async (pid, index) => {
      const target = await readlinkOrNull(join(this.procRoot, String(pid), "ns", "net"));
      namespaces[index] = target === null ? null : parseBracketInode(target, "net");
    });
    const pidsByNamespace = new Map<number, number[]>();
    const pidsWithUnknownNamespace: number[] = [];
    pids.forEach((pid, index) => {
      const namespace = namespaces[index] ?? null;
      if (namespace === null) {
        pidsWithUnknownNamespace.push(pid);
        return;
      }
      const group = pidsByNamespace.get(namespace);
      if (group === undefined) pidsByNamespace.set(namespace, [pid]);
      else group.push(pid);
    });
    const ownTarget = await readlinkOrNull(join(this.procRoot, "self", "ns", "net"));
    const map: NamespaceMap = {
      builtAtMs: Date.now(),
      pidsByNamespace,
      pidsWithUnknownNamespace,
      ownNamespace: ownTarget === null ? null : parseBracketInode(ownTarget, "net"),
    };
    this.namespaceMap = map;
    return map;
  }

  private async listPids(): Promise<number[]> {
    return pidsFromDirectoryNames(await readdir(this.procRoot), this.maxPidsScanned);
  }

  /**
   * Reads each namespace's tables through a representative pid, own namespace first, a few
   * namespaces at a time (each table read costs milliseconds). A live socket anywhere wins over
   * a TIME_WAIT entry (inode 0) with the same tuple.
   */
  private async searchTables(map: NamespaceMap, keys: readonly TableKey[]): Promise<TableHit | null> {
    const namespaces = [...map.pidsByNamespace.keys()].sort((a, b) => (a === map.ownNamespace ? -1 : b === map.ownNamespace ? 1 : a - b));
    const closedHits: TableHit[] = [];
    const live = await findFirstInOrder(namespaces, namespacesSearchedAtOnce, async (netnsInode) => {
      const pids = map.pidsByNamespace.get(netnsInode)!;
      for (const representative of pids.slice(0, maxRepresentativesTried)) {
        const inode = await this.searchNamespace(join(this.procRoot, String(representative), "net"), keys);
        if (inode === undefined) continue; // representative gone: try the next one
        if (inode === 0) closedHits.push({ inode, netnsInode });
        return inode === null || inode === 0 ? undefined : { inode, netnsInode };
      }
      return undefined;
    });
    if (live !== undefined) return live;
    const closed = closedHits.sort((a, b) => namespaces.indexOf(a.netnsInode) - namespaces.indexOf(b.netnsInode))[0] ?? null;
    if (closed === null && map.pidsByNamespace.size === 0) {
      // No ns link was readable (not root: ns links need ptrace access): our own namespace only.
      const inode = await this.searchNamespace(join(this.procRoot, "net"), keys);
      if (inode !== undefined && inode !== null) return { inode, netnsInode: map.ownNamespace ?? 0 };
    }
    return closed;
  }

  /** Inode of the matching socket in one namespace's tables; null if absent; undefined if unreadable. */
  private async searchNamespace(netDir: string, keys: readonly TableKey[]): Promise<number | null | undefined> {
    // Each table read costs ~3-5 ms of kernel hash walking even when nearly empty: in parallel.
    const texts = await Promise.all(
      keys.map((key) =>
        readBoundedText(join(netDir, key.table), this.maxTableLines * bytesPerTableLine, "latin1").catch((error: unknown) =>
          key.table === "tcp6" && errnoCode(error) === "ENOENT" ? "" : null, // no tcp6: IPv6 disabled
        ),
      ),
    );
    let found: number | null = null;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      const text = texts[index];
      if (text === null || text === undefined) return undefined; // the representative is gone
      const { entry } = findSocketInTable(text, key.localHex, key.remoteHex, this.maxTableLines);
      if (entry !== null) {
        if (entry.inode !== 0) return entry.inode;
        found = 0;
      }
    }
    return found;
  }

  /**
   * The pid with an fd linking to "socket:[INODE]": pids of the socket's namespace first, and
   * newest (highest) pids first within each group: a fallback lookup is most often for a
   * short-lived caller (curl in a script), and a long-lived daemon costs the same either way.
   * When several processes share the socket (inherited across fork), the highest pid wins.
   */
  private async findInodeOwner(map: NamespaceMap, hit: TableHit): Promise<SocketOwner | AttributionFailure> {
    const livePids = (await this.listPids()).reverse();
    const inNamespace = new Set(map.pidsByNamespace.get(hit.netnsInode) ?? []);
    const ordered = [...livePids.filter((pid) => inNamespace.has(pid)), ...livePids.filter((pid) => !inNamespace.has(pid))];
    const wanted = `socket:[${hit.inode}]`;
    let linksRead = 0;
    let deniedPids = 0;
    const owner = await findFirstInOrder(ordered, this.concurrency, async (pid) => {
      const fdDir = join(this.procRoot, String(pid), "fd");
      let fds: string[];
      try {
        fds = await readdir(fdDir);
      } catch (error) {
        const code = errnoCode(error);
        if (code === "EACCES" || code === "EPERM") deniedPids++;
        return undefined;
      }
      // An async readlink costs a thread-pool round trip (~0.1 ms) against ~5 µs of kernel work,
      // so one process's fds are read in parallel batches rather than one after another.
      for (let start = 0; start < fds.length; start += fdBatchSize) {
        const batch = fds.slice(start, start + Math.min(fdBatchSize, this.maxFdLinksRead - linksRead));
        if (batch.length === 0) return undefined;
        linksRead += batch.length;
        const targets = await Promise.all(batch.map((fd) => readlinkOrNull(join(fdDir, fd))));
        if (targets.includes(wanted)) return pid;
      }
      return undefined;
    });
    if (owner !== undefined) return { pid: owner, inode: hit.inode, netnsInode: hit.netnsInode };
    if (deniedPids > 0) {
      return attributionFailure("permission-denied", `socket inode ${hit.inode}: fds of ${deniedPids} process(es) were not readable`);
    }
    if (linksRead >= this.maxFdLinksRead) {
      return attributionFailure("socket-not-found", `socket inode ${hit.inode}: fd scan stopped at ${this.maxFdLinksRead} links`);
    }
    return attributionFailure("socket-not-found", `socket inode ${hit.inode} has no owner (closed, or its process exited)`);
  }
}

/**
 * Makes sure the pid `find` named still is the process that held the socket. Between the fd scan
 * and this call the owner may have exited and its pid been given to a new process, which must
 * not be named as the caller. Reads the pid's start time: a process that started before the
 * lookup began (`lookupStartedAtTicks`, from /proc/uptime) cannot have taken a pid freed during
 * it; a younger one is the owner only if it holds the socket now. The start time returned pins
 * the identity read that follows (`expectedStartTimeTicks`).
 */
export async function confirmSocketOwner(
  procRoot: string,
  owner: SocketOwner,
  lookupStartedAtTicks: number | null,
  maxFdLinksRead = 65_536,
): Promise<{ readonly startTimeTicks: number } | AttributionFailure> {
  const processDir = join(procRoot, String(owner.pid));
  const statPath = join(processDir, "stat");
  let text: string;
  try {
    text = await readBoundedText(statPath, maxSmallProcFileBytes);
  } catch (error) {
    return failureFromProcessError(error, statPath);
  }
  const stat = parseProcStat(text);
  if (stat === null) return attributionFailure("error", `cannot parse ${statPath}`);
  if (lookupStartedAtTicks !== null && stat.startTimeTicks < lookupStartedAtTicks) return { startTimeTicks: stat.startTimeTicks };
  const wanted = `socket:[${owner.inode}]`;
  let fds: string[];
  try {
    fds = await readdir(join(processDir, "fd"));
  } catch (error) {
    return failureFromProcessError(error, join(processDir, "fd"));
  }
  for (let start = 0; start < Math.min(fds.length, maxFdLinksRead); start += fdBatchSize) {
    const batch = fds.slice(start, Math.min(start + fdBatchSize, maxFdLinksRead));
    const targets = await Promise.all(batch.map((fd) => readlinkOrNull(join(processDir, "fd", fd))));
    if (targets.includes(wanted)) return { startTimeTicks: stat.startTimeTicks };
  }
  return attributionFailure(
    "pid-reused",
    `pid ${owner.pid} started at tick ${stat.startTimeTicks}, during the lookup, and does not hold socket inode ${owner.inode}`,
  );
}

interface TableKey {
  readonly table: "tcp" | "tcp6";
  readonly localHex: string;
  readonly remoteHex: string;
}

/**
 * What to look for in which table. An IPv4 connection may belong to an AF_INET socket (tcp) or
 * to a dual-stack AF_INET6 socket, which the kernel lists in tcp6 as ::ffff:a.b.c.d.
 */
function tableKeys(tuple: SocketTuple): TableKey[] | null {
  if (!isPort(tuple.clientPort) || !isPort(tuple.serverPort)) return null;
  if (tuple.ipVersion === 4) {
    const client = parseIpv4Text(tuple.clientAddress);
    const server = parseIpv4Text(tuple.serverAddress);
    if (client === null || server === null) return null;
    return [
      { table: "tcp", localHex: encodeProcNetAddress(client, tuple.clientPort), remoteHex: encodeProcNetAddress(server, tuple.serverPort) },
      {
        table: "tcp6",
        localHex: encodeProcNetAddress(ipv4MappedBytes(client), tuple.clientPort),
        remoteHex: encodeProcNetAddress(ipv4MappedBytes(server), tuple.serverPort),
      },
    ];
  }
  const client = parseIpv6Text(tuple.clientAddress);
  const server = parseIpv6Text(tuple.serverAddress);
  if (client === null || server === null) return null;
  return [{ table: "tcp6", localHex: encodeProcNetAddress(client, tuple.clientPort), remoteHex: encodeProcNetAddress(server, tuple.serverPort) }];
}

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 0xffff;
}

function describeTuple(tuple: SocketTuple): string {
  const wrap = (address: string): string => (tuple.ipVersion === 6 ? `[${address}]` : address);
  return `${wrap(tuple.clientAddress)}:${tuple.clientPort} -> ${wrap(tuple.serverAddress)}:${tuple.serverPort}`;
}

/** Exposed for tests and diagnostics: the network namespace inode of a pid, or null. */
export async function readNetworkNamespaceInode(procRoot: string, pid: number | "self"): Promise<number | null> {
  try {
    return parseBracketInode(await readlink(join(procRoot, String(pid), "ns", "net")), "net");
  } catch {
    return null;
  }
}
