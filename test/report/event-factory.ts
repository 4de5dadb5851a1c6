/** Builds events and summaries for report tests: real shapes (the schema's), chosen values. */
import type { AttributionInfo, ContainerInfo, ImdsEvent, ProcessInfo } from "../../src/events.js";
import { eventSchema } from "../../src/events.js";
import type { AnalysisSummary, LiveCaptureSummary } from "../../src/summary.js";
import { summarySchema } from "../../src/summary.js";

export const baseTimeMs = Date.parse("2025-03-01T00:00:00.000Z");

export function timeAt(secondsAfterBase: number): string {
  return new Date(baseTimeMs + secondsAfterBase * 1000).toISOString();
}

export function event(overrides: Partial<ImdsEvent> = {}): ImdsEvent {
  const kind = overrides.kind ?? "v1";
  return {
    schema: eventSchema,
    time: timeAt(0),
    kind,
    method: kind === "token-request" ? "PUT" : "GET",
    path: kind === "token-request" ? "/latest/api/token" : "/latest/meta-data/instance-id",
    httpVersion: "1.1",
    userAgent: "curl/7.88.1",
    clientIp: "10.0.0.10",
    clientPort: 40000,
    serverIp: "169.254.169.254",
    serverPort: 80,
    status: 200,
    responseMissing: null,
    frame: 1,
    source: "test.pcap",
    process: null,
    attribution: null,
    host: null,
    instanceId: null,
    tokenTtlSeconds: kind === "token-request" ? 21600 : null,
    forwardedFor: false,
    requestOnConnection: 1,
    incomplete: null,
    ...overrides,
  };
}

export function processInfo(overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    pid: 4242,
    startTime: "2025-03-01T00:00:00Z",
    comm: "python3",
    exe: "/usr/bin/python3.11",
    cmdline: ["/usr/bin/python3", "/opt/app/sync.py"],
    uid: 1000,
    user: "app",
    parents: [{ pid: 1, comm: "systemd", cmdline: ["/sbin/init"] }],
    cgroup: "/system.slice/app-sync.service",
    container: null,
    kubernetesPodUid: null,
    systemdUnit: "app-sync.service",
    ...overrides,
  };
}

/** A container as its cgroup path alone names it (runtime and id), with OVERRIDES. */
export function containerInfo(runtime: ContainerInfo["runtime"], id: string, overrides: Partial<ContainerInfo> = {}): ContainerInfo {
  return { runtime, id, name: null, image: null, kubernetes: null, ecs: null, source: "cgroup", ...overrides };
}

export const attributedOk: AttributionInfo = { method: "ebpf", status: "ok", reason: null };
export const attributionFailed: AttributionInfo = { method: "proc", status: "failed", reason: "process-exited" };

export function liveSummary(overrides: Partial<LiveCaptureSummary> = {}, requests = { v1: 0, v2: 0, tokenRequests: 0 }): AnalysisSummary {
  const live: LiveCaptureSummary = {
    device: "any",
    linkType: 276,
    filter: "(host 169.254.169.254 or host fd00:ec2::254) and tcp port 80",
    startedAt: timeAt(0),
    stoppedAt: timeAt(2 * 86_400),
    durationSeconds: 2 * 86_400,
    packetsReceived: 1000,
    packetsDroppedByKernel: 0,
    packetsDroppedByInterface: 0,
    framesNotSaved: 0,
    attribution: { method: "ebpf", fallbackReason: null, connections: 10, attributed: 10, partial: 0, failed: 0 },
    ...overrides,
  };
  return {
    schema: summarySchema,
    sources: [],
    framesRead: 1000,
    bytesRead: 100_000,
    requests: { total: requests.v1 + requests.v2 + requests.tokenRequests, ...requests },
    clients: [],
    callsFromUntrackedClients: 0,
    live,
    instanceId: null,
    diagnostics: { counters: {}, warnings: [] },
  };
}

export function offlineSummary(overrides: Partial<AnalysisSummary> = {}): AnalysisSummary {
  return {
    schema: summarySchema,
    sources: [{ path: "test.pcap", format: "pcap", compressed: false, frames: 10, bytes: 1000, linkTypes: [1], truncated: null, error: null }],
    framesRead: 10,
    bytesRead: 1000,
    requests: { total: 0, v1: 0, v2: 0, tokenRequests: 0 },
    clients: [],
    callsFromUntrackedClients: 0,
    live: null,
    instanceId: null,
    diagnostics: { counters: {}, warnings: [] },
    ...overrides,
  };
}
