import { readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { Attributor } from "../attribution/attributor.js";
import type { AttributionMethod } from "../attribution/attributor.js";
import { CgroupDirectoryIndex } from "../attribution/cgroup-directory-index.js";
import { EbpfConnectTracer } from "../attribution/ebpf-tracer.js";
import { describeLinkType } from "../decode/link-types.js";
import { Diagnostics } from "../diagnostics.js";
import type { WarningListener } from "../diagnostics.js";
import { AttributionUnavailableError, CaptureDeviceError, ImdsAnalyzerError } from "../errors.js";
import type { ImdsEvent } from "../events.js";
import { imdsCaptureFilter } from "../imds/endpoints.js";
import { CapturePipeline, defaultPipelineLimits } from "../pipeline/capture-pipeline.js";
import type { PipelineLimits } from "../pipeline/capture-pipeline.js";
import { directoryWritableWithoutOverride, reserveOutputFile } from "../sink/output-path.js";
import { PcapWriter } from "../sink/pcap-writer.js";
import type { Frame } from "../source/frame.js";
import { SummaryBuilder } from "../summary.js";
import type { AnalysisSummary } from "../summary.js";
import { observeBoot } from "./boot-time.js";
import { readBootTimeSeconds } from "../attribution/process-identity.js";
import { loadPcapAddon } from "./pcap-addon.js";
import { LivePcapSource } from "./pcap-source.js";
import { ReopeningPcapSource } from "./reopening-pcap-source.js";
import { afterDuration } from "./duration.js";
import { describeError, runEveryStep } from "./stop-steps.js";

export type AttributionChoice = "auto" | AttributionMethod;

export interface LiveCaptureOptions {
  /** Interface to capture on; "any" (all interfaces) by default. */
  readonly device?: string;
  /** Stop after this long; null or absent runs until `signal` aborts. */
  readonly durationMs?: number | null;
  /** "auto": eBPF when it can be loaded, else /proc (and say why). */
  readonly attribution?: AttributionChoice;
  /** Receives every event, attributed, in capture order. */
  readonly onEvent: (event: ImdsEvent) => void;
  /** Also save the IMDS packets seen to this pcap file (mode 0600: it holds credentials). */
  readonly writePcapPath?: string | null;
  /** Where events are written, for the start-up lines ("stdout", a path). */
  readonly eventsDestination?: string;
  /** Status lines for the operator (what is captured, how, where events go). */
  readonly log: (line: string) => void;
  readonly onWarning?: WarningListener;
  /** Aborting stops the capture cleanly (SIGINT/SIGTERM in the CLI). */
  readonly signal?: AbortSignal;
  readonly limits?: PipelineLimits;
  /** Events the caller's sink could not write (disk full), read when the summary is built. */
  readonly countEventsNotWritten?: () => number;
  /**
   * Files created after start (the events file on rotation or SIGHUP, --summary-json, --report):
   * CAP_DAC_OVERRIDE is kept only when one of their directories needs it.
   */
  readonly laterOutputPaths?: readonly string[];
  /** Injectable roots for tests; the real ones by default. */
  readonly procRoot?: string;
  readonly etcRoot?: string;
}

/**
 * libpcap's ring on Linux: the binding does not use immediate mode, so libpcap uses TPACKET_V3,
 * whose blocks hold packets at their real size and are handed over when full or a set time
 * (`packetHandoverMs`) after their first packet. (Immediate mode means TPACKET_V2, one
 * snaplen-sized slot per packet: with 16 KiB snaplen, 32 MiB held ~2,000 packets, and
 * `npm run bench:live` dropped packets at 2,000-3,000 calls/s.) 16 KiB still holds any real
 * IMDS request head (response bodies are cut, which the HTTP parser skips exactly, and
 * --write-pcap then holds less secret material).
 */
const liveSnaplenBytes = 16 * 1024;
/**
 * The ring's pages are resident and pinned for the capture's whole life: 32 MiB was 32 of the
 * 83 MiB a service held idle (bench/README.md, memory). 8 MiB holds ~30,000 or more IMDS packets,
 * about half a minute of what IMDS itself accepts (1,024 packets/s per interface), and ~2,000
 * calls of backlog at the bench's 3,000 calls/s; what does not fit is counted as kernel drops.
 */
const liveBufferBytes = 8 * 1024 * 1024;

/**
 * How long a captured packet may wait in the ring before it is handed over, i.e. how many calls
 * share one wakeup of the capture when calls are few. With eBPF the caller was read when the
 * kernel's connect record arrived, which is not delayed: packets can wait 200 ms, and at 50
 * one-shot calls a second the analyzer spends ~30 % less CPU per call (bench/README.md); an
 * event is written up to 0.2 s later. Attributed by /proc, a call is looked up only once its
 * packets arrive, and a one-shot caller must still be there: 20 ms.
 */
function packetHandoverMs(attribution: AttributionMethod): number {
  return attribution === "ebpf" ? 200 : 20;
}

/** How often (wall clock) idle flows are ended, waiting events released and the pcap flushed. */
const housekeepingIntervalMs = 1000;

/**
 * Live capture: libpcap with a kernel filter that passes only IMDS traffic, the same pipeline as
 * offline analysis, and process attribution (eBPF at connect time, /proc as fallback). Stops
 * when the duration is over or the signal aborts; then drains libpcap, ends every flow, waits for
 * pending attributions and returns the summary: nothing captured is lost on a clean stop.
 */
export async function runLiveCapture(options: LiveCaptureOptions): Promise<AnalysisSummary> {
  checkPrivileges();
  // First: without the addon or libpcap the user gets one line saying what to install, before
  // anything is started.
  const loaded = LivePcapSource.load();
  if (!loaded.ok) throw new CaptureDeviceError(options.device ?? "any", loaded.reason, { reason: loaded.code });
  const device = options.device ?? "any";
  const diagnostics = new Diagnostics();
  if (options.onWarning) diagnostics.onWarning(options.onWarning);
  const summary = new SummaryBuilder();

  // Opened first: a refused or unwritable path must fail before anything is started. Its
  // contents are only replaced once the capture runs; a later start step that fails closes it
  // and removes the file if this made it.
  const pcapFile = options.writePcapPath ? reserveOutputFile(options.writePcapPath, { what: "the capture file" }) : null;
  let started: { attributor: Attributor; tracer: EbpfConnectTracer | null; fallbackReason: string | null };
  try {
    started = startAttribution(options);
  } catch (error) {
    pcapFile?.abandon();
    throw error;
  }
  const { attributor, tracer, fallbackReason } = started;
  // An error in the capture's own code (the pipeline, the event sink) is a bug: it stops the
  // capture, which still flushes what it has, and is said in one line (summary live.errors;
  // the CLI prints it and exits 1, so systemd's Restart=on-failure brings the service back).
  const errors: string[] = [];
  const stopOnError = new AbortController();
  const failInternally = (where: string, error: unknown): void => {
    errors.push(`internal error in ${where}: ${describeError(error)}; the capture stopped`);
    // Stopped from a later turn of the loop: the error may surface inside libpcap's batch
    // callback (or a microtask of it), where the native layer refuses to close the capture.
    setImmediate(() => { stopOnError.abort(); });
  };
  // An interface that goes down (or away) interrupts the capture, it does not end it: the
  // device is reopened when it is back, and the gap is warned about and counted.
  let source: ReopeningPcapSource;
  try {
    source = ReopeningPcapSource.open(
      { device, filter: imdsCaptureFilter, snaplenBytes: liveSnaplenBytes, bufferSizeBytes: liveBufferBytes, blockTimeoutMs: packetHandoverMs(attributor.method) },
      {
        onInterrupted: (error) => {
          diagnostics.warn(`capture-interrupted:${device}`, `capture on ${device} interrupted (${error.message}); reopening it until it is back, calls meanwhile are not seen`);
        },
        onResumed: (downMs) => {
          options.log(`capture on ${device} resumed after ${(downMs / 1000).toFixed(1)} s`);
        },
        onFailed: (error) => { failInternally("packet processing", error); },
      },
    );
  } catch (error) {
    // The tracer keeps the event loop alive: left open, the process would hang after the error.
    tracer?.close();
    attributor.close();
    pcapFile?.abandon();
    throw explainOpenFailure(device, error);
  }
  const pcapWriter = options.writePcapPath && pcapFile !== null ? new PcapWriter(options.writePcapPath, source.linkType, liveSnaplenBytes, pcapFile.commit()) : null;
  const startedAt = new Date();
  const hostName = hostname();
  // Whether this window includes the boot: boot-time callers are seen only then.
  const boot = observeBoot(startedAt.getTime(), await readBootTimeSeconds(options.procRoot ?? "/proc"));
  // Everything privileged is open now (pcap handle, eBPF program and ring buffer, output files).
  const capabilities = keepOnlyNeededCapabilities(device, options.laterOutputPaths ?? [], options.log);

  options.log(`capturing on ${device} (link type ${describeLinkType(source.linkType)}), kernel filter: ${imdsCaptureFilter}`);
  options.log(
    attributor.method === "ebpf"
      ? `attribution: eBPF (tracepoint sock:inet_sock_set_state, process recorded at connect time${tracer?.argvCapture ? ", command line read in the kernel" : ""}), /proc to enrich`
      : `attribution: /proc socket tables and file descriptors (fallback: ${fallbackReason ?? "requested"}); short-lived clients may not be attributed`,
  );
  if (pcapWriter) options.log(`saving IMDS packets to ${pcapWriter.path} (mode 0600)`);
  options.log(
    `events go to ${options.eventsDestination ?? "the caller"}; ` +
      (options.durationMs ? `stopping after ${Math.round(options.durationMs / 1000)} s or on SIGINT/SIGTERM` : "stop with Ctrl-C (SIGINT) or SIGTERM"),
  );

  // Events leave the pipeline in capture order; attribution is asynchronous, so a promise chain
  // keeps that order on the way out.
  let outputChain: Promise<void> = Promise.resolve();
  // After the sink threw, later events are not handed to it (counted with its own losses).
  let sinkFailed = false;
  let eventsNotHandedOver = 0;
  const onPipelineEvent = (event: ImdsEvent): void => {
    const attribution = attributor.attribute(event);
    outputChain = outputChain.then(async () => {
      const found = await attribution;
      const attributed: ImdsEvent = { ...event, process: found.process, attribution: found.attribution, host: hostName };
      summary.addEvent(attributed);
      if (sinkFailed) {
        eventsNotHandedOver++;
        return;
      }
      try {
        options.onEvent(attributed);
      } catch (error) {
        sinkFailed = true;
        eventsNotHandedOver++;
        failInternally("event output", error);
      }
    });
  };
  const pipeline = new CapturePipeline(`live:${device}`, onPipelineEvent, diagnostics, options.limits ?? defaultPipelineLimits, {
    onFlowStart: (endpoints) => { attributor.onConnectionSeen(endpoints); },
    onFlowEnd: (endpoints, events, reason) => { attributor.onConnectionEnded(endpoints, events, reason); },
  });

  source.start({
    onFrame(frame: Frame): void {
      pcapWriter?.write(frame);
      pipeline.onFrame(frame);
    },
  });
  const housekeeping = setInterval(() => {
    const nowMs = Date.now();
    pipeline.flushIdle(nowMs);
    attributor.forgetStale(nowMs);
    pcapWriter?.flush();
  }, housekeepingIntervalMs);

  let kernelRecordsLost = 0;
  try {
    await waitForStop(options.durationMs ?? null, [options.signal, stopOnError.signal]);
  } finally {
    clearInterval(housekeeping);
    // Each step runs even when an earlier one failed: what is held is flushed, and the tracer,
    // which keeps the process alive, is always closed.
    errors.push(...(await runEveryStep([
      { name: "stopping the capture", run: () => source.stop() },
      { name: "ending the connections", run: () => { pipeline.finish(); } },
      { name: "writing the last events", run: () => outputChain },
      { name: "reading the eBPF tracer's counters", run: () => { kernelRecordsLost = tracer?.stats().ringBufferLost ?? 0; } },
      { name: "closing the eBPF tracer", run: () => { tracer?.close(); } },
      { name: "closing attribution", run: () => { attributor.close(); } },
      { name: "closing --write-pcap", run: () => pcapWriter?.close() },
    ])));
  }
  const stoppedAt = new Date();
  const stats = source.stats();
  const interruptions = source.interruptions;
  summary.noteInstanceId(pipeline.instanceId);
  return summary.build(diagnostics, {
    device,
    linkType: source.linkType,
    filter: imdsCaptureFilter,
    startedAt: startedAt.toISOString(),
    stoppedAt: stoppedAt.toISOString(),
    durationSeconds: (stoppedAt.getTime() - startedAt.getTime()) / 1000,
    packetsReceived: stats.packetsReceived,
    packetsDroppedByKernel: stats.packetsDroppedByKernel,
    packetsDroppedByInterface: stats.packetsDroppedByInterface,
    packetsDroppedByAddon: stats.packetsDroppedByAddon,
    framesNotSaved: pcapWriter?.framesDropped ?? 0,
    bootTime: boot.bootTime,
    windowIncludesBoot: boot.windowIncludesBoot,
    eventsNotWritten: (options.countEventsNotWritten?.() ?? 0) + eventsNotHandedOver,
    interruptions: { count: interruptions.count, secondsDown: interruptions.downMs / 1000, lastError: interruptions.lastError },
    capabilities,
    attribution: {
      method: attributor.method,
      fallbackReason,
      connections: attributor.stats.connections,
      attributed: attributor.stats.attributed,
      partial: attributor.stats.partial,
      failed: attributor.stats.failed,
      ...enricherCounters(attributor),
      kernelRecordsLost,
    },
    errors,
  });
}

/** The enrichers' counters for the summary, when any enricher counted anything. */
function enricherCounters(attributor: Attributor): { enrichers?: Record<string, Record<string, number>> } {
  const enrichers = attributor.enricherStats();
  return Object.keys(enrichers).length > 0 ? { enrichers } : {};
}

/**
 * Drops every capability running does not need, on every thread, with no_new_privs (native
 * dropCapabilities). Kept: CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (attribution reads other
 * processes' /proc/PID/exe, fd and ns, which the kernel guards with ptrace checks and 0500
 * directories); CAP_NET_RAW when a named interface may have to be reopened after it went down
 * ("any" never is); CAP_DAC_OVERRIDE only when a file created later is in a directory root
 * cannot write by its mode bits. A failed drop is said and recorded, not fatal.
 */
function keepOnlyNeededCapabilities(
  device: string,
  laterOutputPaths: readonly string[],
  log: (line: string) => void,
): { kept: readonly string[] | null; threadsNotDropped: number; problem: string | null } {
  const keep = ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"];
  const why = ["attribution reads other processes' /proc entries"];
  if (device !== "any") {
    keep.push("CAP_NET_RAW");
    why.push(`${device} is reopened if it goes down`);
  }
  const needsOverride = laterOutputPaths.filter((path) => !directoryWritableWithoutOverride(dirname(resolve(path))));
  if (needsOverride.length > 0) {
    keep.push("CAP_DAC_OVERRIDE");
    why.push(`${needsOverride.join(", ")} is written later in a directory root does not own`);
  }
  const loaded = loadPcapAddon();
  let problem: string | null;
  if (loaded.ok) {
    try {
      const dropped = loaded.addon.dropCapabilities(keep);
      // Root in a container or under a systemd CapabilityBoundingSet may not hold them all.
      const kept = dropped.kept;
      const notHeld = keep.filter((name) => !kept.includes(name));
      const lacking = notHeld.length === 0 ? null : `${notHeld.join(", ")} not held at start (removed by a capability bounding set?): ${notHeldConsequence(notHeld)}`;
      problem = [dropped.problem ?? (dropped.threadsNotDropped > 0 ? `${dropped.threadsNotDropped} of ${dropped.threads} threads kept more` : null), lacking].filter((text) => text !== null).join("; ") || null;
      const keptText = kept.length === 0 ? "none" : `only ${kept.join(", ")}${lacking === null ? ` (${why.join("; ")})` : ""}`;
      log(`privileges: kept ${keptText}, no new privileges${problem === null ? "" : `; ${problem}`}`);
      return { kept, threadsNotDropped: dropped.threadsNotDropped, problem };
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
      const partly = heldAfterFailedDrop(keep, problem);
      if (partly !== null) {
        log(`privileges: kept only ${partly.kept.join(", ") || "none"}, no new privileges; ${partly.problem}`);
        return partly;
      }
    }
  } else {
    problem = loaded.reason;
  }
  log(`warning: privileges not dropped (${problem}); the capture keeps running as full root`);
  return { kept: null, threadsNotDropped: 0, problem };
}

/**
 * What a drop that threw left: without CAP_SETPCAP (a container's capability list, a systemd
 * CapabilityBoundingSet without it) the bounding set cannot be reduced, but no_new_privs and the
 * capset that empties the effective and permitted sets still run on every thread. When every
 * thread now holds nothing beyond KEEP, say that (and what is left undone) instead of "full
 * root"; null when that is not so, or cannot be read.
 */
function heldAfterFailedDrop(keep: readonly string[], failure: string): { kept: readonly string[]; threadsNotDropped: number; problem: string } | null {
  const keepMask = keep.reduce((mask, name) => (isCapabilityName(name) ? mask | (1n << BigInt(capabilityNumbers[name])) : mask), 0n);
  let threads: string[];
  try {
    threads = readdirSync("/proc/self/task");
  } catch {
    return null;
  }
  let held: bigint | null = null;
  let threadsNotDropped = 0;
  for (const thread of threads) {
    const effective = capabilitySet(`/proc/self/task/${thread}/status`, "CapEff");
    if (effective === null) continue; // ended meanwhile
    if ((effective & ~keepMask) !== 0n) threadsNotDropped++;
    held ??= effective;
  }
  if (held === null || threadsNotDropped > 0) return null;
  const kept = keep.filter((name) => isCapabilityName(name) && ((held >> BigInt(capabilityNumbers[name])) & 1n) === 1n);
  const bounding = capabilitySet("/proc/self/status", "CapBnd");
  const why = bounding !== null && (bounding & ~keepMask) !== 0n ? "the bounding set was not reduced: that needs CAP_SETPCAP, which the capture drops itself once started" : "the bounding set may not be reduced";
  return { kept, threadsNotDropped: 0, problem: `${failure} (${why})` };
}

/** One capability set of a status file (CapEff, CapBnd, ...); null when it cannot be read. */
function capabilitySet(statusPath: string, set: "CapEff" | "CapBnd"): bigint | null {
  try {
    const hex = new RegExp(`^${set}:\\s*([0-9a-f]+)$`, "m").exec(readFileSync(statusPath, "utf8"))?.[1];
    return hex === undefined ? null : BigInt(`0x${hex}`);
  } catch {
    return null;
  }
}

/** Capability numbers (linux/capability.h) of those start-up needs, to explain a failure. */
const capabilityNumbers = {
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_NET_RAW: 13,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
type CapabilityName = keyof typeof capabilityNumbers;

function isCapabilityName(name: string): name is CapabilityName {
  return Object.hasOwn(capabilityNumbers, name);
}

/**
 * Which of `names` this process lacks in its effective set (/proc/self/status CapEff): root in
 * a container, or in a systemd unit with a CapabilityBoundingSet, may lack some. Claims nothing
 * missing when the set cannot be read.
 */
function missingCapabilities(names: readonly string[]): string[] {
  const effective = capabilitySet("/proc/self/status", "CapEff");
  if (effective === null) return [];
  return names.filter((name) => isCapabilityName(name) && ((effective >> BigInt(capabilityNumbers[name])) & 1n) === 0n);
}

function notHeldConsequence(notHeld: readonly string[]): string {
  const consequences: string[] = [];
  if (notHeld.includes("CAP_SYS_PTRACE") || notHeld.includes("CAP_DAC_READ_SEARCH")) {
    consequences.push("other users' /proc entries (exe, fd) cannot be read, so their calls may be attributed without exe or not at all");
  }
  if (notHeld.includes("CAP_DAC_OVERRIDE")) consequences.push("files written later may fail");
  return consequences.join("; ");
}

/**
 * libpcap says "permission denied" and "run as root" even to root: when root lacks CAP_NET_RAW
 * (a container, a systemd CapabilityBoundingSet), say that instead.
 */
function explainOpenFailure(device: string, error: unknown): unknown {
  if (!(error instanceof CaptureDeviceError) || error.reason !== "E_PCAP_PERMISSION") return error;
  if (missingCapabilities(["CAP_NET_RAW"]).length === 0) return error;
  return new CaptureDeviceError(
    device,
    `cannot capture on ${device}: this process runs as root but without CAP_NET_RAW, which the libpcap packet socket needs (a container or a systemd CapabilityBoundingSet removed it; grant CAP_NET_RAW)`,
    { cause: error, reason: error.reason },
  );
}

/**
 * Why eBPF could not load, completed with the capabilities root lacks: the native message says
 * "run as root" even to root, and a failed tracefs mount does not say it needs CAP_SYS_ADMIN.
 */
function explainEbpfFailure(error: AttributionUnavailableError): string {
  if (error.reason !== "E_EBPF_PERMISSION" && error.reason !== "E_EBPF_TRACEFS") return error.message;
  const missing = missingCapabilities(["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"]);
  if (missing.length === 0) return error.message;
  return `${error.message}; this process runs as root without ${missing.join(", ")} (CAP_BPF and CAP_PERFMON load the program, CAP_SYS_ADMIN stands in for both and mounts tracefs)`;
}

function checkPrivileges(): void {
  if (process.getuid?.() !== 0) {
    throw new CaptureDeviceError("any", "live capture must run as root (it needs CAP_NET_RAW for libpcap and CAP_BPF for attribution): run it with sudo");
  }
}

function startAttribution(options: LiveCaptureOptions): {
  attributor: Attributor;
  tracer: EbpfConnectTracer | null;
  fallbackReason: string | null;
} {
  const choice = options.attribution ?? "auto";
  const roots = {
    ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
    ...(options.etcRoot === undefined ? {} : { etcRoot: options.etcRoot }),
  };
  if (choice === "proc") {
    return { attributor: new Attributor({ method: "proc", ...roots }), tracer: null, fallbackReason: "--attribution proc was given" };
  }
  // A wait for a kernel record that runs out first drains what the tracer already holds.
  let opened: EbpfConnectTracer | null = null;
  const attributor = new Attributor({ method: "ebpf", ...roots, drainKernelRecords: () => { opened?.drain(); }, cgroupIndex: new CgroupDirectoryIndex() });
  try {
    const tracer = EbpfConnectTracer.open((records) => { attributor.onConnectRecords(records); });
    opened = tracer;
    return { attributor, tracer, fallbackReason: null };
  } catch (error) {
    if (choice === "ebpf" || !(error instanceof ImdsAnalyzerError)) throw error;
    const fallbackReason = error instanceof AttributionUnavailableError ? explainEbpfFailure(error) : error.message;
    return { attributor: new Attributor({ method: "proc", ...roots }), tracer: null, fallbackReason };
  }
}

/** Resolves when the duration is over or any of the signals aborts. */
function waitForStop(durationMs: number | null, signals: readonly (AbortSignal | undefined)[]): Promise<void> {
  const present = signals.filter((signal) => signal !== undefined);
  return new Promise((resolve) => {
    if (present.some((signal) => signal.aborted)) {
      resolve();
      return;
    }
    const cancelTimer = durationMs === null ? null : afterDuration(durationMs, finish);
    function finish(): void {
      cancelTimer?.();
      for (const signal of present) signal.removeEventListener("abort", finish);
      resolve();
    }
    for (const signal of present) signal.addEventListener("abort", finish, { once: true });
  });
}
