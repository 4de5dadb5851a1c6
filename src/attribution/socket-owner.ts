/**
 * Fallback attribution when eBPF is unavailable or a connection predates the capture:
 * socket 4-tuple -> socket inode (in the right network namespace) -> pid.
 *
 * /proc/net/tcp{,6} only lists the reading process's network namespace, so the finder groups
 * pids by namespace (readlink /proc/PID/ns/net -> "net:[INODE]"), reads /proc/REP/net/tcp{,6}
 * of one representative pid per namespace, and then looks for the pid holding an fd that links
 * to "socket:[INODE]", scanning that namespace's pids first (newest first). It is slow by nature (a table read
 * costs ~3 ms even when nearly empty, an fd scan ~4 ms per 75 processes), which is fine for a
 * fallback; the work is bounded by `maxPidsScanned`, `maxTableLines` and `maxFdLinksRead`, and
 * calls pending at the same moment share one lookup (one table read per namespace, one fd scan),
 * so its cost does not grow with the number of calls when the analyzer falls behind.
 */
import { readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { encodeProcNetAddress, indexSocketTable, ipv4MappedBytes, parseIpv4Text, parseIpv6Text, socketKey } from "./procfs-net-tcp.js";
import type { ProcNetTcpEntry } from "./procfs-net-tcp.js";
import { parseProcStat } from "./procfs-process-files.js";
import {
  errnoCode,
  failureFromProcessError,
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

/** One namespace's tables ("tcp", "tcp6"), each indexed by socketKey. */
type NamespaceTables = ReadonlyMap<string, ReadonlyMap<string, ProcNetTcpEntry>>;

/** A find() call waiting for the next lookup. */
interface PendingCall {
  readonly tuple: SocketTuple;
  readonly keys: readonly TableKey[];
  readonly resolve: (answer: SocketOwner | AttributionFailure) => void;
}

export class SocketOwnerFinder {
  private readonly procRoot: string;
  private readonly namespaceCacheMs: number;
  private readonly maxPidsScanned: number;
  private readonly maxTableLines: number;
  private readonly maxFdLinksRead: number;
  private readonly concurrency: number;
  private namespaceMap: NamespaceMap | null = null;
  private pending: PendingCall[] = [];
  private lookupRunning = false;
  /** Work done: one namespace's tables read (tcp and tcp6 together), one scan of every process's fds. */
  readonly stats = { namespaceTableReads: 0, fdScans: 0 };

  constructor(options: SocketOwnerFinderOptions = {}) {
    this.procRoot = options.procRoot ?? "/proc";
    this.namespaceCacheMs = options.namespaceCacheMs ?? 1000;
    this.maxPidsScanned = options.maxPidsScanned ?? 65_536;
    this.maxTableLines = options.maxTableLines ?? 200_000;
    this.maxFdLinksRead = options.maxFdLinksRead ?? 1_000_000;
    this.concurrency = options.concurrency ?? 16;
  }

  /**
   * The process holding the socket of this connection. Calls made while a lookup runs wait for
   * the next one and share it: one read of each namespace's tables and one fd scan answer every
   * call pending at that moment, so an analyzer that fell behind (many calls at once) pays for
   * one lookup per round, not one per call.
   */
  find(tuple: SocketTuple): Promise<SocketOwner | AttributionFailure> {
    const keys = tableKeys(tuple);
    if (keys === null) {
      return Promise.resolve(
        attributionFailure("error", `not an IPv${tuple.ipVersion} tuple: ${tuple.clientAddress}:${tuple.clientPort} -> ${tuple.serverAddress}:${tuple.serverPort}`),
      );
    }
    return new Promise((resolve) => {
      this.pending.push({ tuple, keys, resolve });
      this.startLookup();
    });
  }

  private startLookup(): void {
    if (this.lookupRunning || this.pending.length === 0) return;
    this.lookupRunning = true;
    // One turn of the loop first: the calls made in this turn join the same lookup.
    setImmediate(() => {
      const calls = this.pending;
      this.pending = [];
      this.lookUp(calls)
        .then(
          (answers) => { calls.forEach((call, index) => { call.resolve(answers[index]!); }); },
          (error: unknown) => {
            const failure = attributionFailure("error", error instanceof Error ? error.message : String(error));
            for (const call of calls) call.resolve(failure);
          },
        )
        .finally(() => {
          this.lookupRunning = false;
          this.startLookup();
        });
    });
  }

  private async lookUp(calls: readonly PendingCall[]): Promise<(SocketOwner | AttributionFailure)[]> {
    const cached = this.freshCachedNamespaceMap();
    let map = cached ?? (await this.rebuildNamespaceMap());
    const hits = await this.searchTables(map, calls.map((call) => call.keys));
    const missed = hits.flatMap((hit, index) => (hit === null ? [index] : []));
    if (missed.length > 0 && cached !== null) {
      // A namespace created since the map was built (a container that just started) is not
      // in it: rebuild once before giving up.
      map = await this.rebuildNamespaceMap();
      const again = await this.searchTables(map, missed.map((index) => calls[index]!.keys));
      missed.forEach((callIndex, index) => { hits[callIndex] = again[index]!; });
    }
    const owners = await this.findInodeOwners(map, hits.filter((hit): hit is TableHit => hit !== null && hit.inode !== 0));
    return calls.map((call, index) => {
      const hit = hits[index] ?? null;
      if (hit === null) {
        return attributionFailure("socket-not-found", `no TCP socket ${describeTuple(call.tuple)} in ${Math.max(1, map.pidsByNamespace.size)} network namespace(s)`);
      }
      if (hit.inode === 0) return attributionFailure("socket-not-found", "connection already closed");
      return owners.get(hit.inode)!;
    });
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
   * Reads each namespace's tables once, through a representative pid, a few namespaces at a
   * time (each table read costs milliseconds), and finds every call's socket in them: a live
   * socket in the first namespace in order (own namespace first) that has one, else a TIME_WAIT
   * entry (inode 0) with the same tuple, else null.
   */
  private async searchTables(map: NamespaceMap, keysOfCalls: readonly (readonly TableKey[])[]): Promise<(TableHit | null)[]> {
    const namespaces = [...map.pidsByNamespace.keys()].sort((a, b) => (a === map.ownNamespace ? -1 : b === map.ownNamespace ? 1 : a - b));
    const tableNames = new Set(keysOfCalls.flatMap((keys) => keys.map((key) => key.table)));
    const tablesByNamespace = new Array<NamespaceTables | null>(namespaces.length).fill(null);
    await forEachWithConcurrency(namespaces, namespacesSearchedAtOnce, async (netnsInode, index) => {
      const pids = map.pidsByNamespace.get(netnsInode)!;
      for (const representative of pids.slice(0, maxRepresentativesTried)) {
        const tables = await this.readTables(join(this.procRoot, String(representative), "net"), tableNames);
        if (tables === null) continue; // representative gone: try the next one
        tablesByNamespace[index] = tables;
        return;
      }
    });
    if (namespaces.length === 0) {
      // No ns link was readable (not root: ns links need ptrace access): our own namespace only.
      namespaces.push(map.ownNamespace ?? 0);
      tablesByNamespace.push(await this.readTables(join(this.procRoot, "net"), tableNames));
    }
    return keysOfCalls.map((keys) => {
      let closed: TableHit | null = null;
      for (let index = 0; index < namespaces.length; index++) {
        const tables = tablesByNamespace[index];
        if (tables === null || tables === undefined) continue;
        const inode = findInTables(tables, keys);
        if (inode === 0) closed ??= { inode, netnsInode: namespaces[index]! };
        else if (inode !== null) return { inode, netnsInode: namespaces[index]! };
      }
      return closed;
    });
  }

  /** One namespace's tables by name, indexed; null if unreadable (the representative is gone). */
  private async readTables(netDir: string, tableNames: ReadonlySet<string>): Promise<NamespaceTables | null> {
    this.stats.namespaceTableReads++;
    const names = [...tableNames];
    // Each table read costs ~3-5 ms of kernel hash walking even when nearly empty: in parallel.
    const texts = await Promise.all(
      names.map((table) =>
        readBoundedText(join(netDir, table), this.maxTableLines * bytesPerTableLine, "latin1").catch((error: unknown) =>
          table === "tcp6" && errnoCode(error) === "ENOENT" ? "" : null, // no tcp6: IPv6 disabled
        ),
      ),
    );
    const tables = new Map<string, ReadonlyMap<string, ProcNetTcpEntry>>();
    for (let index = 0; index < names.length; index++) {
      const text = texts[index];
      if (text === null || text === undefined) return null;
      tables.set(names[index]!, indexSocketTable(text, this.maxTableLines).sockets);
    }
    return tables;
  }

  /**
   * The pids with an fd linking to each socket inode, in one scan of every process's fds: pids
   * of the sockets' namespaces first, newest (highest) first: a fallback lookup is most often
   * for a short-lived caller (curl in a script), and a long-lived daemon costs the same either
   * way. A socket's owner is the first holder in its own namespace, else the first elsewhere
   * (when several processes share the socket, inherited across fork, the highest pid wins).
   */
  private async findInodeOwners(map: NamespaceMap, hits: readonly TableHit[]): Promise<Map<number, SocketOwner | AttributionFailure>> {
    const answers = new Map<number, SocketOwner | AttributionFailure>();
    if (hits.length === 0) return answers;
    this.stats.fdScans++;
    const netnsOfInode = new Map(hits.map((hit) => [hit.inode, hit.netnsInode]));
    const namespaceOfPid = new Map<number, number>();
    for (const netnsInode of new Set(netnsOfInode.values())) {
      for (const pid of map.pidsByNamespace.get(netnsInode) ?? []) namespaceOfPid.set(pid, netnsInode);
    }
    const livePids = (await this.listPids()).reverse();
    const ordered = [...livePids.filter((pid) => namespaceOfPid.has(pid)), ...livePids.filter((pid) => !namespaceOfPid.has(pid))];
    const inSocketNamespacesEnd = livePids.filter((pid) => namespaceOfPid.has(pid)).length;
    const wanted = new Map([...netnsOfInode.keys()].map((inode) => [`socket:[${inode}]`, inode]));
    /** Per inode: the scan position of the best holder in its namespace, and elsewhere. */
    const holders = new Map<number, { inNamespace: number; elsewhere: number }>();
    // Counted as holders are found, so that checking whether the scan may stop, done before each
    // process, costs O(1) rather than a pass over every wanted socket.
    let inodesWithoutHolder = netnsOfInode.size;
    let inodesWithoutHolderInNamespace = netnsOfInode.size;
    const holderOf = (inode: number): { inNamespace: number; elsewhere: number } => {
      let holder = holders.get(inode);
      if (holder === undefined) {
        holder = { inNamespace: Number.POSITIVE_INFINITY, elsewhere: Number.POSITIVE_INFINITY };
        holders.set(inode, holder);
        inodesWithoutHolder--;
      }
      return holder;
    };
    let nextIndex = 0;
    /** Every socket has a holder, in its own namespace unless the scan is past those pids. */
    const settled = (): boolean => inodesWithoutHolder === 0 && (inodesWithoutHolderInNamespace === 0 || nextIndex >= inSocketNamespacesEnd);
    let linksRead = 0;
    let deniedPids = 0;
    const scanOne = async (pid: number, index: number): Promise<void> => {
      const fdDir = join(this.procRoot, String(pid), "fd");
      let fds: string[];
      try {
        fds = await readdir(fdDir);
      } catch (error) {
        const code = errnoCode(error);
        if (code === "EACCES" || code === "EPERM") deniedPids++;
        return;
      }
      // An async readlink costs a thread-pool round trip (~0.1 ms) against ~5 µs of kernel work,
      // so one process's fds are read in parallel batches rather than one after another.
      for (let start = 0; start < fds.length; start += fdBatchSize) {
        const batch = fds.slice(start, start + Math.min(fdBatchSize, this.maxFdLinksRead - linksRead));
        if (batch.length === 0) return;
        linksRead += batch.length;
        const targets = await Promise.all(batch.map((fd) => readlinkOrNull(join(fdDir, fd))));
        for (const target of targets) {
          const inode = target === null ? undefined : wanted.get(target);
          if (inode === undefined) continue;
          const holder = holderOf(inode);
          if (namespaceOfPid.get(pid) === netnsOfInode.get(inode)) {
            if (holder.inNamespace === Number.POSITIVE_INFINITY) inodesWithoutHolderInNamespace--;
            holder.inNamespace = Math.min(holder.inNamespace, index);
          } else holder.elsewhere = Math.min(holder.elsewhere, index);
        }
      }
    };
    const worker = async (): Promise<void> => {
      while (nextIndex < ordered.length && !settled()) {
        const index = nextIndex++;
        await scanOne(ordered[index]!, index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, ordered.length) }, worker));
    for (const [inode, netnsInode] of netnsOfInode) {
      const holder = holders.get(inode);
      const position = holder === undefined ? Number.POSITIVE_INFINITY : holder.inNamespace < Number.POSITIVE_INFINITY ? holder.inNamespace : holder.elsewhere;
      if (position < Number.POSITIVE_INFINITY) answers.set(inode, { pid: ordered[position]!, inode, netnsInode });
      else if (deniedPids > 0) answers.set(inode, attributionFailure("permission-denied", `socket inode ${inode}: fds of ${deniedPids} process(es) were not readable`));
      else if (linksRead >= this.maxFdLinksRead) answers.set(inode, attributionFailure("socket-not-found", `socket inode ${inode}: fd scan stopped at ${this.maxFdLinksRead} links`));
      else answers.set(inode, attributionFailure("socket-not-found", `socket inode ${inode} has no owner (closed, or its process exited)`));
    }
    return answers;
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

/** A call's socket in one namespace's tables: its inode, 0 for TIME_WAIT only, null if absent. */
function findInTables(tables: NamespaceTables, keys: readonly TableKey[]): number | null {
  let found: number | null = null;
  for (const key of keys) {
    const entry = tables.get(key.table)?.get(socketKey(key.localHex, key.remoteHex));
    if (entry !== undefined) {
      if (entry.inode !== 0) return entry.inode;
      found = 0;
    }
  }
  return found;
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
