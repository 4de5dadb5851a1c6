/**
 * The kernel's connect records (native/ebpf/src/record.h), decoded. The addon hands over one
 * Buffer per ring-buffer wakeup holding fixed-size records (the kernel's record followed by what
 * the addon read from /proc the moment it took the record out of the ring); this module turns
 * them into `ConnectRecord`s. The layout is duplicated here on purpose: `checkRecordLayout` compares it
 * with the numbers the addon exports, so a C change that is not mirrored here stops the tracer
 * instead of producing wrong pids.
 */
import { endianness } from "node:os";
import { formatIpv4Address, formatIpv6Address } from "../decode/address-text.js";

/** Byte offsets in one record (host byte order for integers, network order for addresses). */
export const connectRecordLayout = {
  /** One delivered record: the kernel's part (kernelRecordSize bytes), then the /proc part. */
  recordSize: 1504,
  kernelRecordSize: 464,
  connectTimeNs: 0,
  pidTgid: 8,
  uidGid: 16,
  cgroupId: 24,
  endTimeNs: 32,
  comm: 40,
  commSize: 16,
  family: 56,
  sport: 58,
  dport: 60,
  outcome: 62,
  argvStatus: 63,
  saddr: 64,
  daddr: 68,
  saddrV6: 72,
  daddrV6: 88,
  argvLength: 104,
  argv: 112,
  argvSize: 256,
  startBoottimeNs: 368,
  parentTgid: 376,
  parentStatus: 380,
  parentCommStatus: 381,
  startStatus: 382,
  exeNameStatus: 383,
  parentComm: 384,
  parentCommSize: 16,
  exeName: 400,
  exeNameSize: 64,
  // Written by the addon, not the kernel:
  startTimeTicks: 464,
  procStatus: 472,
  exePathLength: 474,
  cgroupPathLength: 476,
  exePath: 480,
  cgroupPath: 992,
  pathSize: 512,
} as const;

/** Why the kernel emitted the record (record.h RECORD_OUTCOME_*). */
const outcomeCodes = { 1: "established", 2: "failed", 3: "connecting" } as const;
export type ConnectOutcome = (typeof outcomeCodes)[keyof typeof outcomeCodes];

/** What became of the argv capture (record.h ARGV_STATUS_*). */
const ArgvStatus = { disabled: 0, ok: 1, truncated: 2, failed: 3, noMm: 4 } as const;

/** What became of one kernel identity field (record.h IDENTITY_STATUS_*): only "ok" is a value. */
const identityStatusOk = 1;

/** What the addon's /proc reads found (record.h PROC_SNAPSHOT_*). */
const procSnapshotCodes = { 0: "not-read", 1: "confirmed", 2: "unverified", 3: "exited", 4: "pid-reused" } as const;
export type ProcSnapshot = (typeof procSnapshotCodes)[keyof typeof procSnapshotCodes];

const addressFamily = { inet: 2, inet6: 10 } as const;

export interface ConnectRecord {
  /** Process id (the kernel's tgid): the pid users know. */
  readonly pid: number;
  /** Thread that called connect(). */
  readonly tid: number;
  readonly uid: number;
  readonly gid: number;
  /** Name of the connecting thread (task comm, at most 15 bytes). */
  readonly comm: string;
  /** cgroup v2 id of the connecting task (the inode number of its cgroup directory). */
  readonly cgroupId: bigint;
  /** Version of the packets on the wire: 4 also for IPv6 sockets talking to ::ffff:169.254.169.254. */
  readonly ipVersion: 4 | 6;
  readonly clientAddress: string;
  /** 0 in "connecting" records (the port is chosen after the record was made). */
  readonly clientPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** CLOCK_MONOTONIC (bpf_ktime_get_ns) when connect() began (CLOSE -> SYN_SENT). */
  readonly connectTimeNs: bigint;
  /** CLOCK_MONOTONIC when the handshake ended (or, for "connecting", = connectTimeNs). */
  readonly endTimeNs: bigint;
  /**
   * "established": the handshake completed; "failed": SYN_SENT -> CLOSE (refused, timed out,
   * unreachable); "connecting": sent at connect() because the kernel's pending table was full,
   * so the client port is unknown (0).
   */
  readonly outcome: ConnectOutcome;
  /**
   * argv read from the process's memory in the kernel at connect time, or null when argv
   * capture is off or the read failed. NOT redacted: it may hold tokens (`curl -H
   * "X-aws-ec2-metadata-token: ..."`); redact before writing it anywhere.
   */
  readonly argv: readonly string[] | null;
  /** argv was longer than the kernel's buffer: the last element is cut short. */
  readonly argvTruncated: boolean;
  /**
   * Read in the kernel at connect time, so they survive the process (null when that capture is
   * off, see EbpfConnectTracer.identityCapture, or its read failed):
   * pid (tgid) of the parent (the group leader's real_parent) when connect() began.
   */
  readonly parentPid: number | null;
  /** Name (comm) of the parent thread that forked the process. */
  readonly parentComm: string | null;
  /**
   * Process start in /proc/PID/stat field 22 units (clock ticks since boot): with `pid` it names
   * one process for good; compare with stat's to detect pid reuse.
   */
  readonly startTimeTicks: number | null;
  /** File name of the executable (mm->exe_file, a basename; at most 63 bytes). */
  readonly exeName: string | null;
  /**
   * Read from /proc by the addon the moment the record arrived (microseconds after the handshake,
   * usually before even a one-shot curl exits), kept only when /proc/PID/stat's start time proved
   * it is the same process (see `procSnapshot`):
   * full path of the executable (readlink /proc/PID/exe, " (deleted)" suffix included).
   */
  readonly exePath: string | null;
  /** cgroup v2 path (the "0::" line of /proc/PID/cgroup). */
  readonly cgroupPath: string | null;
  /**
   * What the /proc reads found: "confirmed" (same start time as the kernel's: exePath and
   * cgroupPath are this process's), "unverified" (no kernel start time to compare with: paths
   * kept), "exited" (gone before the read: no paths), "pid-reused" (another process: no paths),
   * "not-read".
   */
  readonly procSnapshot: ProcSnapshot;
}

/** Problems found while decoding, counted (never thrown: records come from the kernel). */
export interface RecordDecodeCounters {
  /** Records with an outcome or family this version does not know. */
  unknownRecords: number;
}

const littleEndian = endianness() === "LE";
const utf8 = new TextDecoder("utf-8");

/** Throws when the addon's layout (its exported numbers) differs from ours. */
export function checkRecordLayout(native: Readonly<Record<string, unknown>>): void {
  for (const [name, value] of Object.entries(connectRecordLayout)) {
    if (native[name] !== value) {
      throw new Error(`the eBPF addon's record layout differs from ebpf-record.ts (${name}: ${String(native[name])} vs ${value}): rebuild native/ebpf`);
    }
  }
}

/** Decodes `count` records from `bytes` (the addon's batch) into `out`. */
export function decodeConnectRecords(bytes: Uint8Array, count: number, out: ConnectRecord[], counters: RecordDecodeCounters): void {
  const L = connectRecordLayout;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const available = Math.min(count, Math.floor(bytes.byteLength / L.recordSize));
  for (let index = 0; index < available; index++) {
    const record = decodeOne(bytes, view, index * L.recordSize);
    if (record === null) counters.unknownRecords++;
    else out.push(record);
  }
}

function decodeOne(bytes: Uint8Array, view: DataView, base: number): ConnectRecord | null {
  const L = connectRecordLayout;
  const outcomeCode = bytes[base + L.outcome]!;
  const outcome = outcomeCode === 1 || outcomeCode === 2 || outcomeCode === 3 ? outcomeCodes[outcomeCode] : null;
  const family = view.getUint16(base + L.family, littleEndian);
  if (outcome === null || (family !== addressFamily.inet && family !== addressFamily.inet6)) return null;

  // An IPv6 socket talking to a v4-mapped address sends IPv4 packets: report what the wire shows.
  const mapped = family === addressFamily.inet6 && isV4Mapped(bytes, base + L.daddrV6);
  const ipVersion = family === addressFamily.inet || mapped ? 4 : 6;
  let clientAddress: string;
  let serverAddress: string;
  if (family === addressFamily.inet) {
    clientAddress = formatIpv4Address(bytes, base + L.saddr);
    serverAddress = formatIpv4Address(bytes, base + L.daddr);
  } else if (mapped) {
    clientAddress = formatIpv4Address(bytes, base + L.saddrV6 + 12);
    serverAddress = formatIpv4Address(bytes, base + L.daddrV6 + 12);
  } else {
    clientAddress = formatIpv6Address(bytes, base + L.saddrV6);
    serverAddress = formatIpv6Address(bytes, base + L.daddrV6);
  }

  const argvStatus = bytes[base + L.argvStatus]!;
  const argvUsable = argvStatus === ArgvStatus.ok || argvStatus === ArgvStatus.truncated;
  return {
    pid: readHigh32(view, base + L.pidTgid),
    tid: readLow32(view, base + L.pidTgid),
    uid: readLow32(view, base + L.uidGid),
    gid: readHigh32(view, base + L.uidGid),
    comm: readCString(bytes, base + L.comm, L.commSize),
    cgroupId: view.getBigUint64(base + L.cgroupId, littleEndian),
    ipVersion,
    clientAddress,
    clientPort: view.getUint16(base + L.sport, littleEndian),
    serverAddress,
    serverPort: view.getUint16(base + L.dport, littleEndian),
    connectTimeNs: view.getBigUint64(base + L.connectTimeNs, littleEndian),
    endTimeNs: view.getBigUint64(base + L.endTimeNs, littleEndian),
    outcome,
    argv: argvUsable ? splitArgv(bytes, base + L.argv, Math.min(view.getUint32(base + L.argvLength, littleEndian), L.argvSize)) : null,
    argvTruncated: argvStatus === ArgvStatus.truncated,
    parentPid: bytes[base + L.parentStatus] === identityStatusOk ? view.getUint32(base + L.parentTgid, littleEndian) : null,
    parentComm: bytes[base + L.parentCommStatus] === identityStatusOk ? readCString(bytes, base + L.parentComm, L.parentCommSize) : null,
    // Ticks since boot stay far below 2^53 (28 million years at 100 Hz).
    startTimeTicks: bytes[base + L.startStatus] === identityStatusOk ? Number(view.getBigUint64(base + L.startTimeTicks, littleEndian)) : null,
    exeName: bytes[base + L.exeNameStatus] === identityStatusOk ? readCString(bytes, base + L.exeName, L.exeNameSize) : null,
    exePath: readPath(bytes, view, base + L.exePath, base + L.exePathLength),
    cgroupPath: readPath(bytes, view, base + L.cgroupPath, base + L.cgroupPathLength),
    procSnapshot: procSnapshotOf(bytes[base + L.procStatus]!),
  };
}

function procSnapshotOf(code: number): ProcSnapshot {
  return code === 1 || code === 2 || code === 3 || code === 4 ? procSnapshotCodes[code] : procSnapshotCodes[0];
}

/** A path the addon wrote (length 0: none). */
function readPath(bytes: Uint8Array, view: DataView, offset: number, lengthOffset: number): string | null {
  const length = Math.min(view.getUint16(lengthOffset, littleEndian), connectRecordLayout.pathSize);
  return length === 0 ? null : utf8.decode(bytes.subarray(offset, offset + length));
}

function isV4Mapped(bytes: Uint8Array, offset: number): boolean {
  for (let index = 0; index < 10; index++) if (bytes[offset + index] !== 0) return false;
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
}

/** Low 32 bits of the u64 at `offset` (the kernel packs pid|tid and gid|uid this way). */
function readLow32(view: DataView, offset: number): number {
  return view.getUint32(littleEndian ? offset : offset + 4, littleEndian);
}

function readHigh32(view: DataView, offset: number): number {
  return view.getUint32(littleEndian ? offset + 4 : offset, littleEndian);
}

function readCString(bytes: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end < offset + size && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(offset, end));
}

/** argv as the kernel keeps it: arguments each followed by a NUL. */
function splitArgv(bytes: Uint8Array, offset: number, length: number): string[] {
  const argv: string[] = [];
  let start = offset;
  const end = offset + length;
  for (let position = offset; position < end; position++) {
    if (bytes[position] === 0) {
      argv.push(utf8.decode(bytes.subarray(start, position)));
      start = position + 1;
    }
  }
  // Cut short by the buffer (no final NUL): keep the partial argument.
  if (start < end) argv.push(utf8.decode(bytes.subarray(start, end)));
  return argv;
}
