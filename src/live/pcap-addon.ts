/**
 * Loads the libpcap Node-API addon (native/pcap, built at install time by native/build.mjs) and
 * describes its shape. Only src/live/pcap-source.ts should use it: the shapes here are the
 * native layer's contract, not the project's API.
 */
import type { AddonLoadResult } from "../native-addon.js";
import { loadNativeAddon } from "../native-addon.js";
import type { FileSpaceReserver } from "../sink/rotating-event-file.js";

/** The addon's file: prebuilt, built from source or embedded in the executable (native-addon.ts). */
export const pcapAddonFile = "imds_pcap.node";

/**
 * Layout of one packet record in the Buffer the addon hands over per batch: little-endian u32
 * fields, then the captured bytes zero-padded to a multiple of 4.
 */
export const pcapRecordLayout = {
  secondsOffset: 0,
  nanosOffset: 4,
  capturedLengthOffset: 8,
  originalLengthOffset: 12,
  headerBytes: 16,
  dataAlignmentBytes: 4,
} as const;

export interface NativePcapStats {
  /** Packets that passed the kernel filter (ps_recv), including those then dropped. */
  readonly received: number;
  /** No room in the kernel buffer (ps_drop). */
  readonly droppedByKernel: number;
  /** Dropped by the interface or its driver (ps_ifdrop). */
  readonly droppedByInterface: number;
  /** Did not fit the addon's batch buffer (cannot happen while libpcap respects snaplen). */
  readonly droppedByAddon: number;
}

export interface NativeOpenOptions {
  readonly filter: string;
  readonly snaplenBytes?: number;
  readonly bufferSizeBytes?: number;
  readonly maxBatchPackets?: number;
  readonly blockTimeoutMs?: number;
  readonly networkNamespacePath?: string;
}

/** One call per batch: `records` holds `packetCount` records laid out as `pcapRecordLayout`. */
export type NativeBatchListener = (records: Buffer, packetCount: number) => void;

export interface NativePcapHandle {
  readonly device: string;
  readonly linkType: number;
  readonly linkTypeName: string | null;
  readonly timePrecisionDigits: number;
  /** Activation warnings and the microsecond fallback, or null. */
  readonly warning: string | null;
  readonly snaplenBytes: number;
  readonly bufferSizeBytes: number;
  /** Packets per batch actually used (lowered so a batch of snaplen-sized packets fits 16 MiB). */
  readonly maxBatchPackets: number;
  /** Longest a captured packet waits in the kernel's ring before it is handed over. */
  readonly blockTimeoutMs: number;
  start(onBatch: NativeBatchListener, onError: (error: Error) => void): void;
  pause(): void;
  resume(): void;
  stats(): NativePcapStats;
  /** Drains buffered packets into onBatch, closes; idempotent. Null: final stats unreadable. */
  close(): NativePcapStats | null;
}

/** What `dropCapabilities` did (native/pcap/src/capabilities.c). */
export interface NativeCapabilityDrop {
  /**
   * The capabilities kept, by name ("CAP_SYS_PTRACE"), in capability-number order: those asked
   * for that the calling thread really holds after the drop (root under a bounding set may lack some).
   */
  readonly kept: readonly string[];
  /** Threads in the process afterwards. */
  readonly threads: number;
  /** Threads that still hold more than `kept` (0 when the drop reached every thread). */
  readonly threadsNotDropped: number;
  /** Why the drop is partial, or null. */
  readonly problem: string | null;
}

export interface NativePcapAddon {
  /**
   * pcap_lib_version(), e.g. "libpcap version 1.10.3 (with TPACKET_V3)". libpcap is opened at
   * run time, not linked (native/pcap/src/libpcap.h): this loads it, once per process, and
   * throws (code E_PCAP_LIBRARY) the one line for the user when it is not installed or cannot
   * be used. `open` throws the same error; the other functions never need libpcap.
   */
  libpcapVersion(): string;
  open(device: string, options: NativeOpenOptions): NativePcapHandle;
  /**
   * Keeps only the named capabilities ("CAP_SYS_PTRACE", ...) in the permitted, effective and
   * bounding sets of every thread, clears the ambient and inheritable sets and sets
   * no_new_privs. Irreversible. Throws (code E_PCAP_CAPABILITIES) when the calling thread could not
   * drop; a TypeError (E_INVALID_ARG_VALUE) for an unknown name.
   */
  dropCapabilities(keep: readonly string[]): NativeCapabilityDrop;
  /**
   * fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length): gives the range its disk blocks without
   * changing the file's size. 0 when done, else the errno (ENOSPC, EOPNOTSUPP, ...).
   */
  reserveFileSpace(descriptor: number, offset: number, length: number): number;
}

export type PcapAddonLoadResult = AddonLoadResult<NativePcapAddon>;

export function isPcapAddon(value: unknown): value is NativePcapAddon {
  if (typeof value !== "object" || value === null) return false;
  return (
    "open" in value && typeof value.open === "function" && "libpcapVersion" in value && typeof value.libpcapVersion === "function" &&
    "dropCapabilities" in value && typeof value.dropCapabilities === "function" &&
    "reserveFileSpace" in value && typeof value.reserveFileSpace === "function"
  );
}

let loaded: PcapAddonLoadResult | undefined;

/**
 * Loads the addon once per process. Resolved from the package root, so it works from src/ (tests)
 * and from dist/ (the built CLI) alike.
 */
export function loadPcapAddon(): PcapAddonLoadResult {
  loaded ??= loadFromDisk();
  return loaded;
}

/**
 * The addon's reserveFileSpace for the live events file (a full disk then refuses whole lines);
 * null when the addon cannot be loaded (the file then cuts a partial line back instead).
 */
export function fileSpaceReserver(): FileSpaceReserver | null {
  const result = loadPcapAddon();
  if (!result.ok) return null;
  const addon = result.addon;
  return (descriptor, offset, length) => addon.reserveFileSpace(descriptor, offset, length);
}

function loadFromDisk(): PcapAddonLoadResult {
  return loadNativeAddon({
    fileName: pcapAddonFile,
    sourceDirectory: "native/pcap",
    title: "libpcap addon",
    buildNeeds: "libpcap-dev, a C compiler and python3",
    isAddon: isPcapAddon,
  });
}
