import type { AttributionInfo, ImdsEvent, ProcessInfo, ProcessPlacement } from "../events.js";
import { RecencyMap } from "./recency-map.js";
import type { FlowEndpoints, FlowEndReason } from "../reassembly/types.js";
import type { CgroupDirectoryIndex } from "./cgroup-directory-index.js";
import type { ConnectRecord } from "./ebpf-tracer.js";
import type { AttributionFailure, ParentProcess, ProcessIdentity } from "./process-identity.js";
import { readBootTimeSeconds, readProcessIdentity, readUptimeTicks, redactArgv } from "./process-identity.js";
import { defaultEnrichers, enrichProcess, type ProcessEnricher } from "./enrichment.js";
import { startTimeIso } from "./procfs-process-files.js";
import { lookupUserName } from "./user-names.js";
import { confirmSocketOwner, SocketOwnerFinder } from "./socket-owner.js";

export type AttributionMethod = "ebpf" | "proc";

export interface AttributorOptions {
  /** "ebpf" when the kernel tracer runs; "proc" when only /proc socket tables can be used. */
  readonly method: AttributionMethod;
  readonly procRoot?: string;
  readonly etcRoot?: string;
  /**
   * How long an event waits for the kernel's connect record. The record is sent when the
   * handshake completes, before the client can send its request, so it normally is there
   * already; the wait covers ring-buffer wake-up latency under load.
   */
  readonly waitForKernelMs?: number;
  /**
   * Connections remembered at most (one entry per connection, not per request): a bound for
   * floods. Entries normally leave much sooner: once the capture saw the connection end and all
   * of its events were attributed, or `unseenConnectionTtlMs` after a kernel record the capture
   * never saw.
   */
  readonly maxConnections?: number;
  /**
   * How long a connection known only from its kernel record (the kernel reports connects to IMDS
   * in every network namespace; a capture sees some) is kept for the capture to see it.
   */
  readonly unseenConnectionTtlMs?: number;
  /**
   * How long a connection the capture saw is kept without being used: a safety net for entries
   * whose end the capture never told (it stopped following the connection, see
   * onConnectionEnded), so that none is held for the whole life of a service.
   */
  readonly unusedConnectionTtlMs?: number;
  /** What names where a process runs, in order; default `defaultEnrichers()`. */
  readonly enrichers?: readonly ProcessEnricher[];
  /**
   * Hands over at once (through onConnectRecords) the kernel records already written but not
   * yet delivered: `EbpfConnectTracer.drain`. Called when a wait runs out, before the /proc
   * fallback: a loop that fell behind must not pay the fallback for records that exist.
   */
  readonly drainKernelRecords?: () => void;
  /**
   * Finds the cgroup of a process that exited before /proc could be read by the kernel's cgroup
   * id (live capture passes one; without it such a process has no cgroup, container or pod).
   */
  readonly cgroupIndex?: CgroupDirectoryIndex;
}

export interface Attribution {
  readonly process: ProcessInfo | null;
  readonly attribution: AttributionInfo;
}

interface ConnectionEntry {
  /** Settles with the attribution for every request of this connection. */
  readonly result: Promise<Attribution>;
  /**
   * CLOCK_MONOTONIC (the clock of the kernel's connectTimeNs) when the entry was made: a record
   * of a connection that connected before this is the entry's own, arriving late.
   */
  readonly createdAtNs: bigint;
  /**
   * The capture saw this connection (a packet or an event). Only such connections count in
   * `stats`: the kernel reports every connect to IMDS on the host, in every network namespace,
   * and a capture on one interface or in one namespace sees only some of them.
   */
  seen: boolean;
  /** Wall clock (ms) when made: an entry the capture never sees leaves after unseenConnectionTtlMs. */
  readonly createdAtMs: number;
  /** Wall clock (ms) when last given an event: unused for unusedConnectionTtlMs, it leaves. */
  lastUsedMs: number;
  /** Events of this connection given to `attribute` so far. */
  eventsAttributed: number;
  /**
   * Set when the capture saw the connection end: how many events it made. The entry leaves when
   * that many were attributed (they leave the event queue after the end, in capture order).
   */
  eventsExpected: number | null;
}

interface KernelWaiter {
  readonly resolve: (record: ConnectRecord | null) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * What was read of a process (from /proc, or from the kernel's record when it exited first),
 * before the enrichers place it: the event's fields except the placement, and the cgroup file.
 */
type ProcessRead = Omit<ProcessInfo, keyof ProcessPlacement> & Pick<ProcessIdentity, "cgroupFile">;

/** A connection's endpoints, as the socket tables know them. */
type ConnectionTuple = Pick<FlowEndpoints, "clientAddress" | "clientPort" | "serverAddress" | "serverPort">;

/** How long one /proc identity read serves further connections of the same process. */
const identityReuseMs = 1000;
/** cgroups whose path is remembered by id (a host has a few thousand at most). */
const maxKnownCgroups = 4096;
/** Processes whose recent identity read is kept for reuse. */
const maxRecentIdentities = 1024;
/**
 * Ended connections remembered by when their entry was made, so that a kernel record arriving
 * after its connection's end (an analyzer behind its ring) is known as late, not taken for a
 * new connection on the same 4-tuple.
 */
const maxRecentlyEnded = 4096;

export function connectionKey(clientAddress: string, clientPort: number, serverAddress: string, serverPort: number): string {
  return `${clientAddress}|${clientPort}|${serverAddress}|${serverPort}`;
}

/**
 * Joins IMDS calls to processes. With eBPF, each kernel connect record starts a /proc read of
 * that pid at once (the process is alive: it is mid-request), long before the request's event
 * is written. With /proc only, the socket lookup starts when the connection's first packet is
 * seen. Either way the work is per connection, off the packet path, and bounded.
 */
export class Attributor {
  /**
   * Connections in use, least recently used first. Only connections whose events may still come
   * are held (see ConnectionEntry): a service making thousands of one-shot callers a minute holds
   * the few in flight, not the last maxConnections of them, and a keep-alive connection is never
   * pushed out by newer ones while it is used.
   */
  private readonly connections: RecencyMap<string, ConnectionEntry>;
  private readonly recentlyEnded = new RecencyMap<string, bigint>(maxRecentlyEnded);
  /**
   * Connections that ended with events still queued before any entry existed (their kernel
   * record not in yet, no event attributed yet): the entry made for them later takes the count,
   * or it would never leave.
   */
  private readonly endedBeforeEntry = new RecencyMap<string, { readonly events: number; readonly endedAtNs: bigint }>(maxRecentlyEnded);
  private readonly waiters = new Map<string, KernelWaiter[]>();
  private readonly recentIdentities = new RecencyMap<string, { readonly identity: Promise<ProcessIdentity | AttributionFailure>; readonly readAtMs: number }>(maxRecentIdentities);
  private readonly socketOwners: SocketOwnerFinder;
  private readonly waitForKernelMs: number;
  private readonly maxConnections: number;
  private readonly unseenConnectionTtlMs: number;
  private readonly unusedConnectionTtlMs: number;
  /** `lateKernelRecords`: records that came after the wait for them ran out (the /proc fallback answered). */
  readonly stats = { connections: 0, attributed: 0, partial: 0, failed: 0, kernelRecords: 0, lateKernelRecords: 0 };
  /** Enrichers that threw, by name, with how often (their part of the placement is left out). */
  readonly enricherFailures = new Map<string, number>();
  private readonly enrichers: readonly ProcessEnricher[];
  /**
   * cgroup v2 paths the addon read from /proc (confirmed by start time), by the kernel's cgroup
   * id: a record whose process exited before /proc could be read still carries the id, and an
   * id names one cgroup for the whole boot, so an earlier caller's path names it too.
   */
  private readonly cgroupPathsById = new RecencyMap<bigint, string>(maxKnownCgroups);

  constructor(private readonly options: AttributorOptions) {
    this.socketOwners = new SocketOwnerFinder(options.procRoot === undefined ? {} : { procRoot: options.procRoot });
    this.waitForKernelMs = options.waitForKernelMs ?? 250;
    this.maxConnections = options.maxConnections ?? 20_000;
    this.unseenConnectionTtlMs = options.unseenConnectionTtlMs ?? 60_000;
    this.unusedConnectionTtlMs = options.unusedConnectionTtlMs ?? 600_000;
    this.connections = new RecencyMap(this.maxConnections);
    this.enrichers = options.enrichers ?? defaultEnrichers({
      ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
      ...(options.etcRoot === undefined ? {} : { etcRoot: options.etcRoot }),
    });
  }

  get method(): AttributionMethod {
    return this.options.method;
  }

  /** Each enricher's counters (and `failures` when it threw), by enricher name; enrichers without any are left out. */
  enricherStats(): Record<string, Record<string, number>> {
    const stats: Record<string, Record<string, number>> = {};
    for (const enricher of this.enrichers) {
      const counters = { ...(enricher.stats?.() ?? {}) };
      const failures = this.enricherFailures.get(enricher.name);
      if (failures !== undefined) counters["failures"] = failures;
      if (Object.keys(counters).length > 0) stats[enricher.name] = counters;
    }
    return stats;
  }

  /** The kernel saw connections to IMDS: start reading those processes now, while they live. */
  onConnectRecords(records: readonly ConnectRecord[]): void {
    for (const record of records) {
      this.stats.kernelRecords++;
      if (record.cgroupPath !== null && record.procSnapshot === "confirmed") this.cgroupPathsById.set(record.cgroupId, record.cgroupPath);
      const key = connectionKey(record.clientAddress, record.clientPort, record.serverAddress, record.serverPort);
      const waiting = this.waiters.get(key);
      if (waiting) {
        // The connection's event came first (the loop read packets before this wakeup, as
        // after a stall): its entry is waiting for this very record. Starting another would
        // count the connection twice and read /proc twice.
        this.waiters.delete(key);
        for (const waiter of waiting) {
          clearTimeout(waiter.timer);
          waiter.resolve(record);
        }
        continue;
      }
      // Later still: the wait ran out and /proc answered for this connection. The record is
      // that connection's (it connected before the entry was made), not a new one on the same
      // 4-tuple: counted once, and /proc not read again.
      const known = this.connections.get(key);
      const madeAtNs = known?.createdAtNs ?? this.recentlyEnded.get(key);
      if (madeAtNs !== undefined && record.connectTimeNs < madeAtNs) {
        this.stats.lateKernelRecords++;
        continue;
      }
      // A new connection on a reused 4-tuple replaces what was known of the old one.
      this.takeEndedCount(key, this.startConnection(key, record, Promise.resolve(record)), record.connectTimeNs);
    }
  }

  /** The capture saw a connection's first packet. */
  onConnectionSeen(endpoints: FlowEndpoints): void {
    const key = connectionKey(endpoints.clientAddress, endpoints.clientPort, endpoints.serverAddress, endpoints.serverPort);
    const known = this.connections.get(key);
    if (known !== undefined) {
      this.markSeen(known);
      return;
    }
    if (this.options.method === "proc") {
      this.markSeen(this.startConnection(key, endpoints, Promise.resolve(null)));
    }
  }

  /**
   * The capture stopped following a connection after it made `events` events. Closed (FIN, RST)
   * or the capture over: its entry leaves once those events are all attributed. Idle or evicted
   * by the reassembler, the connection may well be alive (a keep-alive SDK client between credential
   * refreshes) and its next request would need the kernel's record again: the entry stays,
   * until it is unused for unusedConnectionTtlMs (or newer connections push it out).
   */
  onConnectionEnded(endpoints: FlowEndpoints, events: number, reason: FlowEndReason): void {
    if (reason === "idle" || reason === "evicted") return;
    const key = connectionKey(endpoints.clientAddress, endpoints.clientPort, endpoints.serverAddress, endpoints.serverPort);
    const known = this.connections.get(key);
    if (known === undefined) {
      if (events > 0) this.endedBeforeEntry.set(key, { events, endedAtNs: process.hrtime.bigint() });
      return;
    }
    known.eventsExpected = events;
    this.forgetIfDone(key, known);
  }

  /** The attribution of the connection an event belongs to. */
  attribute(event: ImdsEvent): Promise<Attribution> {
    const key = connectionKey(event.clientIp, event.clientPort, event.serverIp, event.serverPort);
    let entry = this.connections.get(key);
    if (entry !== undefined) {
      // Used again: the most recent now, so that newer connections do not push it out.
      this.connections.set(key, entry);
    } else {
      const record = this.options.method === "ebpf" ? this.waitForKernel(key) : Promise.resolve(null);
      const tuple: ConnectionTuple = { clientAddress: event.clientIp, clientPort: event.clientPort, serverAddress: event.serverIp, serverPort: event.serverPort };
      entry = this.takeEndedCount(key, this.startConnection(key, tuple, record));
    }
    this.markSeen(entry);
    entry.lastUsedMs = Date.now();
    entry.eventsAttributed++;
    const result = entry.result;
    this.forgetIfDone(key, entry);
    return result;
  }

  /** Connections held now (in flight, or ended with events still to attribute); for tests and benches. */
  get connectionsHeld(): number {
    return this.connections.size;
  }

  /**
   * Forgets connections known only from a kernel record that the capture has not seen within
   * unseenConnectionTtlMs (another namespace's, another interface's), and connections seen but
   * not used for unusedConnectionTtlMs. Called from housekeeping; costs one pass over the
   * connections held, which are few.
   */
  forgetStale(nowMs: number): void {
    const expired: string[] = [];
    for (const [key, entry] of this.connections.entries()) {
      const stale = entry.seen ? nowMs - entry.lastUsedMs >= this.unusedConnectionTtlMs : nowMs - entry.createdAtMs >= this.unseenConnectionTtlMs;
      if (stale) expired.push(key);
    }
    for (const key of expired) this.connections.delete(key);
  }

  /** An ended connection whose events were all attributed leaves (unless a newer one took its 4-tuple). */
  private forgetIfDone(key: string, entry: ConnectionEntry): void {
    if (entry.eventsExpected === null || entry.eventsAttributed < entry.eventsExpected) return;
    if (this.connections.get(key) !== entry) return;
    this.connections.delete(key);
    this.recentlyEnded.set(key, entry.createdAtNs);
  }

  /** Stops waiting: pending waits resolve as "not recorded". */
  close(): void {
    for (const waiting of this.waiters.values()) {
      for (const waiter of waiting) {
        clearTimeout(waiter.timer);
        waiter.resolve(null);
      }
    }
    this.waiters.clear();
  }

  /** Work starts at once for every connection (a one-shot caller is gone soon); counting waits until the capture sees it. */
  private startConnection(key: string, tuple: ConnectionTuple, recordPromise: Promise<ConnectRecord | null>): ConnectionEntry {
    const nowMs = Date.now();
    const entry: ConnectionEntry = {
      createdAtNs: process.hrtime.bigint(),
      createdAtMs: nowMs,
      lastUsedMs: nowMs,
      result: recordPromise.then((record) => (record === null ? this.fromSocketTables(tuple) : this.fromKernelRecord(record))),
      seen: false,
      eventsAttributed: 0,
      eventsExpected: null,
    };
    this.connections.set(key, entry);
    this.recentlyEnded.delete(key);
    return entry;
  }

  /**
   * A connection that ended before anything was known of it, its events still queued: the entry
   * made for those events (or from that connection's late record) takes their count, or it would
   * never leave. A record of a connection made after that end (`connectTimeNs`) is a new one's.
   */
  private takeEndedCount(key: string, entry: ConnectionEntry, connectTimeNs?: bigint): ConnectionEntry {
    const ended = this.endedBeforeEntry.get(key);
    if (ended === undefined) return entry;
    this.endedBeforeEntry.delete(key);
    if (connectTimeNs === undefined || connectTimeNs < ended.endedAtNs) entry.eventsExpected = ended.events;
    return entry;
  }

  private markSeen(entry: ConnectionEntry): void {
    if (entry.seen) return;
    entry.seen = true;
    this.stats.connections++;
    entry.result.then(
      (result) => {
        if (result.attribution.status === "ok") this.stats.attributed++;
        else if (result.attribution.status === "partial") this.stats.partial++;
        else this.stats.failed++;
      },
      // The rejection reaches whoever awaits the attribution; here it is only not counted.
      () => undefined,
    );
  }

  private async fromKernelRecord(record: ConnectRecord): Promise<Attribution> {
    // The kernel's start time makes /proc prove it is still the same process (pid reuse).
    const identity: ProcessIdentity | AttributionFailure =
      record.procSnapshot === "pid-reused" ? { status: "failed", reason: "pid-reused" } : await this.identityOfRecord(record);
    // The kernel read argv at connect time; /proc's may have changed since (exec, setproctitle).
    const kernelCmdline = record.argv === null ? null : redactArgv(record.argv);
    if (isIdentity(identity)) {
      // The addon read exe when the record arrived, with the same rights; it may still have it.
      const exe = identity.exe ?? record.exePath;
      return {
        process: await this.processInfo({ ...identity, exe, cmdline: kernelCmdline ?? identity.cmdline }),
        attribution: exe === null && identity.exeDenied ? deniedExe("ebpf") : { method: "ebpf", status: "ok", reason: null },
      };
    }
    // The process is gone (a one-shot client usually is by now): what the kernel recorded at
    // connect time, and what the addon read from /proc the moment the record arrived, still hold.
    // Its parent first: a script's shell that ran it may be about to exit too, so its read must
    // not wait behind the other lookups (seen under load: parents cut at `sh` with no cmdline).
    const parents = this.parentsOf(record);
    parents.catch(() => undefined); // awaited below; this only keeps an early failure elsewhere from leaving it unhandled
    const procRoot = this.options.procRoot ?? "/proc";
    const startTime = record.startTimeTicks === null ? null : startTimeIso(await readBootTimeSeconds(procRoot), record.startTimeTicks);
    // A process simply gone keeps the path its cgroup id was seen with; a reused pid contributes
    // nothing beyond the kernel's own record (test/live/pid-reuse.test.ts).
    const learnedCgroupPath = record.procSnapshot === "exited" || record.procSnapshot === "not-read" ? this.cgroupPathsById.get(record.cgroupId) : undefined;
    const cgroupPath = record.cgroupPath ?? learnedCgroupPath ?? (await this.cgroupPathOfGone(record));
    const complete = kernelCmdline !== null && record.exePath !== null && cgroupPath !== null && startTime !== null;
    return {
      process: await this.processInfo({
        pid: record.pid,
        startTime,
        comm: record.comm,
        exe: record.exePath,
        cmdline: kernelCmdline ?? [],
        uid: record.uid,
        user: await lookupUserName(record.uid, this.options.etcRoot ?? "/etc"),
        parents: await parents,
        cgroupFile: cgroupPath === null ? null : `0::${cgroupPath}\n`,
      }),
      attribution: { method: "ebpf", status: complete ? "ok" : "partial", reason: complete ? null : identity.reason },
    };
  }

  /**
   * The cgroup of a process gone before /proc was read, by the kernel's cgroup id: its cgroup
   * usually outlives it (a one-shot client's container still runs, or is being removed). Not for
   * a reused pid (see above), whose record is all that is known.
   */
  private async cgroupPathOfGone(record: ConnectRecord): Promise<string | null> {
    if (this.options.cgroupIndex === undefined || (record.procSnapshot !== "exited" && record.procSnapshot !== "not-read")) return null;
    return this.options.cgroupIndex.pathOf(record.cgroupId);
  }

  /**
   * /proc identity of a recorded process. Connections of one process (pid and kernel start
   * time) within `identityReuseMs` share one read: a client opening hundreds of connections a
   * second would otherwise have its whole parent chain read hundreds of times, and the events
   * (and a clean stop, which waits for them) would fall seconds behind.
   */
  private identityOfRecord(record: ConnectRecord): Promise<ProcessIdentity | AttributionFailure> {
    // Without the kernel's start time nothing proves a reused read is of the same process.
    // The kernel's argv is the event's (fromKernelRecord): /proc's cmdline is read only without it.
    const readCmdline = record.argv === null;
    if (record.startTimeTicks === null) return readProcessIdentity(record.pid, { ...this.identityOptions(), readCmdline });
    return this.recentIdentityOf(record.pid, record.startTimeTicks, readCmdline);
  }

  /**
   * The identity of a pid read within `identityReuseMs`, else a new read. With the kernel's start
   * time the read must find that very process; without it (the parent of an exited caller: many
   * one-shot callers of one script share it, and each read it again when the analyzer was behind)
   * whatever holds the pid now, as a fresh read would.
   */
  private recentIdentityOf(pid: number, startTimeTicks: number | null, readCmdline = true): Promise<ProcessIdentity | AttributionFailure> {
    const options = {
      ...this.identityOptions(),
      ...(startTimeTicks === null ? {} : { expectedStartTimeTicks: startTimeTicks }),
      readCmdline,
    };
    const key = `${pid}:${startTimeTicks ?? "any"}${readCmdline ? "" : ":no-cmdline"}`;
    const nowMs = Date.now();
    const recent = this.recentIdentities.get(key);
    if (recent !== undefined && nowMs - recent.readAtMs <= identityReuseMs) return recent.identity;
    const identity = readProcessIdentity(pid, options);
    this.recentIdentities.set(key, { identity, readAtMs: nowMs });
    return identity;
  }

  /** The parent chain of an exited process: its parent (from the kernel) usually still lives. */
  private async parentsOf(record: ConnectRecord): Promise<ParentProcess[]> {
    if (record.parentPid === null) return [];
    const parent = await this.recentIdentityOf(record.parentPid, null);
    if (!isIdentity(parent)) return [{ pid: record.parentPid, comm: record.parentComm ?? "", cmdline: [] }];
    return [{ pid: parent.pid, comm: parent.comm, cmdline: parent.cmdline }, ...parent.parents];
  }

  private async fromSocketTables(tuple: ConnectionTuple): Promise<Attribution> {
    const procRoot = this.options.procRoot ?? "/proc";
    const lookupStartedAtTicks = await readUptimeTicks(procRoot);
    const owner = await this.socketOwners.find({ ...tuple, ipVersion: tuple.clientAddress.includes(":") ? 6 : 4 });
    if (!("pid" in owner)) return { process: null, attribution: { method: "proc", status: "failed", reason: owner.reason } };
    // The owner may have exited, and its pid been reused, since its fds were read.
    const confirmed = await confirmSocketOwner(procRoot, owner, lookupStartedAtTicks);
    if ("status" in confirmed) return { process: null, attribution: { method: "proc", status: "failed", reason: confirmed.reason } };
    const identity = await readProcessIdentity(owner.pid, { ...this.identityOptions(), expectedStartTimeTicks: confirmed.startTimeTicks });
    if (!isIdentity(identity)) return { process: null, attribution: { method: "proc", status: "failed", reason: identity.reason } };
    return { process: await this.processInfo(identity), attribution: identity.exeDenied ? deniedExe("proc") : { method: "proc", status: "ok", reason: null } };
  }

  /** The event's process: what was read of it, placed by the enrichers. */
  private async processInfo(read: ProcessRead): Promise<ProcessInfo> {
    const placement = await enrichProcess(this.enrichers, { pid: read.pid, cgroupFile: read.cgroupFile, parents: read.parents }, this.enricherFailures);
    return {
      pid: read.pid,
      startTime: read.startTime,
      comm: read.comm,
      exe: read.exe,
      cmdline: read.cmdline,
      uid: read.uid,
      user: read.user,
      parents: read.parents,
      ...placement,
    };
  }

  /**
   * A connection with no entry: its record has not come yet (every record makes an entry at
   * once). A record kept apart from the entries could only be an older connection's on the same
   * 4-tuple, which is why none is.
   */
  private waitForKernel(key: string): Promise<ConnectRecord | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // Behind by more than the wait (a starved process: the addon's thread ran late too), the
        // record may still be in the kernel's ring or the addon's queue: take them all now. A
        // record for this connection settles the wait in onConnectRecords.
        if (this.options.drainKernelRecords !== undefined) {
          this.options.drainKernelRecords();
          if (!(this.waiters.get(key)?.some((waiter) => waiter.timer === timer) ?? false)) return;
        }
        // A busy event loop runs due timers before I/O callbacks, so a record handed over as
        // I/O may be queued behind this timer: give it one turn of the loop (setImmediate runs
        // after I/O) before falling back to the far costlier /proc lookup.
        setImmediate(() => {
          const waiting = this.waiters.get(key);
          if (waiting) {
            const rest = waiting.filter((waiter) => waiter.timer !== timer);
            if (rest.length > 0) this.waiters.set(key, rest);
            else this.waiters.delete(key);
          }
          resolve(null);
        });
      }, this.waitForKernelMs);
      const waiting = this.waiters.get(key) ?? [];
      waiting.push({ resolve, timer });
      this.waiters.set(key, waiting);
    });
  }

  private identityOptions(): { procRoot?: string; etcRoot?: string } {
    return {
      ...(this.options.procRoot === undefined ? {} : { procRoot: this.options.procRoot }),
      ...(this.options.etcRoot === undefined ? {} : { etcRoot: this.options.etcRoot }),
    };
  }
}

/** The process is known, but its exe could not be read: complete it is not, and why is said. */
function deniedExe(method: AttributionMethod): AttributionInfo {
  return { method, status: "partial", reason: "permission-denied" };
}

function isIdentity(value: ProcessIdentity | AttributionFailure): value is ProcessIdentity {
  return !("status" in value);
}
