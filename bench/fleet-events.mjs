// @ts-check
// A deterministic fleet: live events (imds-analyzer/event@1, with the container names of issue
// 11) and live capture summaries for any number of hosts, from a seed. Used by the report's
// fleet tests (test/report/fleet-*.test.ts) and by `npm run bench` (bench/fleet-merge.mjs).
//
// Every host runs a mix of recurring programs, each on a fixed share of the hosts and with
// per-host noise in its command line (pids, temporary files, addresses, random suffixes), so
// the fix list must group them back into one fix each:
//   aws-cli-old   /usr/bin/aws (AWS CLI v1 1.16.100, botocore 1.12.90): sdk-too-old, credentials
//   boto3-old     python3 /opt/sync/sync.py (boto3 1.9.200, botocore 1.12.200): sdk-too-old
//   curl-script   /bin/sh /usr/local/bin/backup.sh with curl: no-token-support
//   k8s-checkout  pods of shop/checkout (Deployment), image registry.example.com/shop/checkout:1.4.2,
//                 JS SDK v3 whose token PUT goes unanswered (hop limit 1): fallback put-unanswered
//   k8s-checkout-staging  the same image in namespace shop-staging: one image, two workloads
//   ecs-billing   ECS task family billing:12 container worker, image .../billing:2.0,
//                 AWS SDK for Java 1.11.400: sdk-too-old
//   ssm-agent     amazon-ssm-agent with IMDSv2 only (no fix)
// and a few hosts are UNKNOWN (a window shorter than a day, or packets dropped) with IMDSv2 only.

/** @typedef {import("../src/events.js").ImdsEvent} ImdsEvent */
/** @typedef {import("../src/summary.js").AnalysisSummary} AnalysisSummary */

/** Small, fast, seedable PRNG (mulberry32): the same seed gives the same fleet everywhere. */
export function randomSource(/** @type {number} */ seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

/**
 * @param {() => number} random
 * @param {number} length
 * @param {string} [alphabet]
 */
function randomText(random, length, alphabet = suffixAlphabet) {
  let text = "";
  for (let index = 0; index < length; index++) text += alphabet.charAt(Math.floor(random() * alphabet.length));
  return text;
}

/** Instance id of host `index`: i- and 17 hex digits. */
export function fleetInstanceId(/** @type {number} */ index) {
  return `i-0${index.toString(16).padStart(16, "0")}`;
}

export function fleetHostName(/** @type {number} */ index) {
  return `node-${String(index).padStart(5, "0")}`;
}

/**
 * @typedef {object} ProgramCall
 * @property {"v1" | "v2" | "token-request"} kind
 * @property {string} path
 * @property {number | null} status
 */

/**
 * @typedef {object} FleetProgram
 * @property {string} name
 * @property {(host: number) => boolean} runsOn which hosts run it
 * @property {string | null} userAgent
 * @property {readonly ProgramCall[]} calls one run's calls, in order
 * @property {(random: () => number, host: number) => import("../src/events.js").ProcessInfo} process
 */

const credentialsPath = "/latest/meta-data/iam/security-credentials/app-role";

/** @type {readonly FleetProgram[]} */
export const fleetPrograms = [
  {
    name: "aws-cli-old",
    runsOn: (host) => host % 3 !== 0,
    userAgent: "aws-cli/1.16.100 Python/2.7.18 Linux/4.14.350-266.564.amzn2.x86_64 botocore/1.12.90",
    calls: [
      { kind: "v1", path: "/latest/meta-data/iam/security-credentials/", status: 200 },
      { kind: "v1", path: credentialsPath, status: 200 },
    ],
    process: (random, host) => {
      const pid = 2000 + Math.floor(random() * 60000);
      return hostProcess(pid, "aws", "/usr/bin/python2.7", ["/usr/bin/python2", "/usr/bin/aws", "s3", "cp", `/tmp/tmp.${randomText(random, 10, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")}`, "s3://logs-bucket/app/", "--endpoint-url", `http://10.${host % 250}.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}:9000`], "logship.service");
    },
  },
  {
    name: "boto3-old",
    runsOn: (host) => host % 3 !== 1,
    userAgent: "Boto3/1.9.200 Python/3.6.8 Linux/4.14.350-266.564.amzn2.x86_64 Botocore/1.12.200",
    calls: [
      { kind: "v1", path: credentialsPath, status: 200 },
      { kind: "v1", path: "/latest/dynamic/instance-identity/document", status: 200 },
    ],
    process: (random) => {
      const pid = 2000 + Math.floor(random() * 60000);
      return hostProcess(pid, "python3", "/usr/bin/python3.6", ["/usr/bin/python3", "/opt/sync/sync.py", "--pidfile", `/run/sync/${pid}.pid`, `--worker-id=${Math.floor(random() * 100000)}`], "sync.service");
    },
  },
  {
    name: "curl-script",
    runsOn: (host) => host % 3 !== 2,
    userAgent: "curl/7.61.1",
    calls: [
      { kind: "v1", path: "/latest/meta-data/instance-id", status: 200 },
      { kind: "v1", path: "/latest/meta-data/placement/availability-zone", status: 200 },
    ],
    process: (random) => {
      const pid = 2000 + Math.floor(random() * 60000);
      return hostProcess(pid, "curl", "/usr/bin/curl", ["curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id", "-o", `/var/tmp/backup-${randomText(random, 8)}/id`], null, { pid: pid - 1, comm: "backup.sh", cmdline: ["/bin/sh", "/usr/local/bin/backup.sh"] });
    },
  },
  {
    name: "k8s-checkout",
    runsOn: (host) => host % 10 === 3,
    userAgent: null,
    calls: [
      { kind: "token-request", path: "/latest/api/token", status: null },
      { kind: "v1", path: credentialsPath, status: 200 },
    ],
    process: (_random, host) => {
      const pod = randomSource(host * 31 + 1);
      return containerProcess(pod, "registry.example.com/shop/checkout:1.4.2", { namespace: "shop", pod: `checkout-7d9f8b6c5-${randomText(pod, 5)}`, container: "checkout" }, null);
    },
  },
  {
    name: "k8s-checkout-staging",
    runsOn: (host) => host % 10 === 4,
    userAgent: null,
    calls: [
      { kind: "token-request", path: "/latest/api/token", status: null },
      { kind: "v1", path: credentialsPath, status: 200 },
    ],
    process: (_random, host) => {
      const pod = randomSource(host * 31 + 2);
      return containerProcess(pod, "registry.example.com/shop/checkout:1.4.2", { namespace: "shop-staging", pod: `checkout-5f6b9c8d4-${randomText(pod, 5)}`, container: "checkout" }, null);
    },
  },
  {
    name: "ecs-billing",
    runsOn: (host) => host % 10 === 7,
    userAgent: "aws-sdk-java/1.11.400 Linux/4.14.350 OpenJDK_64-Bit_Server_VM/25.392-b08 java/1.8.0_392",
    calls: [{ kind: "v1", path: credentialsPath, status: 200 }],
    process: (_random, host) =>
      containerProcess(randomSource(host * 31 + 3), "123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing:2.0", null, {
        cluster: "prod",
        family: "billing",
        revision: "12",
        container: "worker",
      }),
  },
  {
    name: "ssm-agent",
    runsOn: () => true,
    userAgent: "aws-sdk-go/1.44.260 (go1.20.10; linux; amd64) amazon-ssm-agent/3.2.1630.0",
    calls: [
      { kind: "token-request", path: "/latest/api/token", status: 200 },
      { kind: "v2", path: "/latest/meta-data/instance-id", status: 200 },
    ],
    process: () => hostProcess(1234, "amazon-ssm-agen", "/usr/bin/amazon-ssm-agent", ["/usr/bin/amazon-ssm-agent"], "amazon-ssm-agent.service"),
  },
];

/**
 * @param {number} pid
 * @param {string} comm
 * @param {string} exe
 * @param {string[]} cmdline
 * @param {string | null} unit
 * @param {{ pid: number, comm: string, cmdline: string[] }} [parent]
 * @returns {import("../src/events.js").ProcessInfo}
 */
function hostProcess(pid, comm, exe, cmdline, unit, parent) {
  return {
    pid,
    startTime: "2026-11-01T00:00:00.000Z",
    comm,
    exe,
    cmdline,
    uid: 0,
    user: "root",
    parents: parent === undefined ? [{ pid: 1, comm: "systemd", cmdline: ["/sbin/init"] }] : [parent, { pid: 1, comm: "systemd", cmdline: ["/sbin/init"] }],
    cgroup: unit === null ? "/user.slice" : `/system.slice/${unit}`,
    container: null,
    kubernetesPodUid: null,
    systemdUnit: unit,
  };
}

/**
 * A process in a container, with the names issue 11's attribution gives (process.container):
 * long-running, so `random` is the host's own (the same container, pod and pid every run).
 * @param {() => number} random
 * @param {string} image
 * @param {{ namespace: string, pod: string, container: string } | null} kubernetes
 * @param {{ cluster: string, family: string, revision: string, container: string } | null} ecs
 * @returns {import("../src/events.js").ProcessInfo}
 */
function containerProcess(random, image, kubernetes, ecs) {
  const id = randomText(random, 64, "0123456789abcdef");
  const podUid = kubernetes === null ? null : `${randomText(random, 8, "0123456789abcdef")}-1111-2222-3333-${randomText(random, 12, "0123456789abcdef")}`;
  const taskId = randomText(random, 32, "0123456789abcdef");
  const container = {
    runtime: kubernetes === null ? "docker" : "containerd",
    id,
    name: kubernetes === null ? `ecs-${ecs?.family ?? "task"}-${ecs?.revision ?? "0"}-${ecs?.container ?? "c"}-${randomText(random, 16, "0123456789abcdef")}` : null,
    image,
    kubernetes: kubernetes === null ? null : { namespace: kubernetes.namespace, pod: kubernetes.pod, podUid, container: kubernetes.container },
    ecs: ecs === null ? null : { cluster: ecs.cluster, taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/${ecs.cluster}/${taskId}`, taskId, family: ecs.family, revision: ecs.revision, container: ecs.container },
    source: kubernetes === null ? "docker-config" : "containerd-bundle",
  };
  return /** @type {import("../src/events.js").ProcessInfo} */ (/** @type {unknown} */ ({
    pid: 30000 + Math.floor(random() * 30000),
    startTime: "2026-11-01T00:00:00.000Z",
    comm: kubernetes === null ? "java" : "node",
    exe: kubernetes === null ? "/usr/lib/jvm/java-8/bin/java" : "/usr/local/bin/node",
    cmdline: kubernetes === null ? ["java", "-jar", "/app/billing.jar"] : ["node", "/app/server.js"],
    uid: 1000,
    user: null,
    parents: [],
    cgroup: kubernetes === null ? `/ecs/${taskId}/${id}` : `/kubepods/burstable/pod${podUid ?? ""}/${id}`,
    container,
    kubernetesPodUid: podUid,
    systemdUnit: null,
  }));
}

/**
 * @typedef {object} FleetOptions
 * @property {number} hosts
 * @property {number} [seed] default 12
 * @property {number} [runsPerProgram] runs of each program per host (default 3); more runs make more events
 * @property {number} [windowSeconds] each host's capture window (default 2 days)
 * @property {boolean} [reuseEvent] hand out one event object, changed in place (benchmarks)
 * @property {readonly string[]} [programs] only these programs (names of fleetPrograms); default all
 * @property {boolean} [allHealthy] no UNKNOWN hosts (default false: every 50th has a short window, every 97th drops)
 * @property {"host" | "run"} [order] "host" (default): each host's events, then the next host's; "run": one run of every host, then the next run
 */

/**
 * @typedef {object} FleetSink
 * @property {(event: ImdsEvent, host: string) => void} event
 * @property {(summary: AnalysisSummary, host: string) => void} summary
 */

const baseTimeMs = Date.parse("2026-11-01T00:00:00.000Z");

/** Which hosts are UNKNOWN on purpose: short window (every 50th) or packets dropped (every 97th). */
function hostHealth(/** @type {number} */ host) {
  if (host % 50 === 49) return "short-window";
  if (host % 97 === 96) return "drops";
  return "ok";
}

/**
 * Writes the fleet, host by host, to `sink`: each host's events in time order, then its live
 * summary. Returns the number of events.
 * @param {FleetOptions} options
 * @param {FleetSink} sink
 */
export function generateFleet(options, sink) {
  const random = randomSource(options.seed ?? 12);
  const runs = options.runsPerProgram ?? 3;
  const windowSeconds = options.windowSeconds ?? 2 * 86_400;
  const chosen = fleetPrograms.filter((program) => options.programs === undefined || options.programs.includes(program.name));
  const hosts = Array.from({ length: options.hosts }, (_, host) => {
    const health = options.allHealthy === true ? "ok" : hostHealth(host);
    return {
      host,
      name: fleetHostName(host),
      instanceId: fleetInstanceId(host),
      health,
      window: health === "short-window" ? 3600 : windowSeconds,
      startMs: baseTimeMs + host * 1000,
      programs: health === "ok" ? chosen.filter((program) => program.runsOn(host)) : chosen.filter((program) => program.name === "ssm-agent"),
      port: 30000,
      calls: { v1: 0, v2: 0, tokenRequests: 0 },
    };
  });
  let events = 0;
  /** @type {ImdsEvent | null} */
  let reused = null;
  /** One run of every program of one host. */
  const runOnHost = (/** @type {(typeof hosts)[number]} */ state, /** @type {number} */ run) => {
    const { host, name, instanceId, programs } = state;
    for (const [programIndex, program] of programs.entries()) {
      const process = program.process(random, host);
      const timeMs = state.startMs + Math.floor(((run + programIndex / programs.length) / runs) * (state.window - 60) * 1000);
      const clientIp = process.container === null ? "10.0.0.10" : `10.244.${host % 250}.${2 + (programIndex % 200)}`;
      for (const [callIndex, call] of program.calls.entries()) {
        state.port = state.port >= 60000 ? 30000 : state.port + 1;
        /** @type {ImdsEvent} */
        const event = {
          schema: "imds-analyzer/event@1",
          time: new Date(timeMs + callIndex * 20).toISOString(),
          kind: call.kind,
          method: call.kind === "token-request" ? "PUT" : "GET",
          path: call.path,
          httpVersion: "1.1",
          userAgent: program.userAgent,
          clientIp,
          clientPort: state.port,
          serverIp: "169.254.169.254",
          serverPort: 80,
          status: call.status,
          // The generated fleet's unanswered PUTs are those of a hop limit of 1: the SDK gave up and closed.
          responseMissing: call.status === null ? "no-answer" : null,
          frame: events + 1,
          source: "/var/log/imds-analyzer/events.ndjson",
          process,
          attribution: { method: "ebpf", status: "ok", reason: null },
          host: name,
          instanceId: run === 0 && programIndex === 0 ? null : instanceId,
          tokenTtlSeconds: call.kind === "token-request" ? 21600 : null,
          forwardedFor: false,
          requestOnConnection: 1,
          incomplete: null,
        };
        if (options.reuseEvent === true) {
          reused = reused === null ? event : Object.assign(reused, event);
          sink.event(reused, name);
        } else sink.event(event, name);
        events++;
        if (call.kind === "v1") state.calls.v1++;
        else if (call.kind === "v2") state.calls.v2++;
        else state.calls.tokenRequests++;
      }
    }
  };
  const summarise = (/** @type {(typeof hosts)[number]} */ state) => {
    sink.summary(liveSummary(state.startMs, state.window, state.health === "drops" ? 7 : 0, state.calls, state.instanceId), state.name);
  };
  if (options.order === "run") {
    // Every host early, then more of the same: a fleet's files read side by side (benchmarks).
    for (let run = 0; run < runs; run++) for (const state of hosts) runOnHost(state, run);
    for (const state of hosts) summarise(state);
  } else {
    // Host by host, as `report hosts/*.ndjson` reads one file after another.
    for (const state of hosts) {
      for (let run = 0; run < runs; run++) runOnHost(state, run);
      summarise(state);
    }
  }
  return events;
}

/** Events one run of every program makes on the generated fleet, on average per host. */
export function eventsPerHostRun(/** @type {number} */ hosts) {
  let events = 0;
  for (let host = 0; host < hosts; host++) {
    const health = hostHealth(host);
    for (const program of fleetPrograms) {
      if (health === "ok" ? program.runsOn(host) : program.name === "ssm-agent") events += program.calls.length;
    }
  }
  return events / hosts;
}

/**
 * @param {number} startMs
 * @param {number} windowSeconds
 * @param {number} dropped
 * @param {{ v1: number, v2: number, tokenRequests: number }} calls
 * @param {string} instanceId
 * @returns {AnalysisSummary}
 */
function liveSummary(startMs, windowSeconds, dropped, calls, instanceId) {
  return /** @type {AnalysisSummary} */ (/** @type {unknown} */ ({
    schema: "imds-analyzer/summary@1",
    sources: [],
    framesRead: (calls.v1 + calls.v2 + calls.tokenRequests) * 8,
    bytesRead: 0,
    requests: { total: calls.v1 + calls.v2 + calls.tokenRequests, ...calls },
    clients: [],
    callsFromUntrackedClients: 0,
    live: {
      device: "any",
      linkType: 276,
      filter: "(host 169.254.169.254 or host fd00:ec2::254) and tcp port 80",
      startedAt: new Date(startMs - 1000).toISOString(),
      stoppedAt: new Date(startMs + windowSeconds * 1000).toISOString(),
      durationSeconds: windowSeconds + 1,
      packetsReceived: 1000,
      packetsDroppedByKernel: dropped,
      packetsDroppedByInterface: 0,
      framesNotSaved: 0,
      attribution: { method: "ebpf", fallbackReason: null, connections: 10, attributed: 10, partial: 0, failed: 0 },
      bootTime: new Date(startMs - 60_000).toISOString(),
      windowIncludesBoot: true,
    },
    instanceId,
    diagnostics: { counters: {}, warnings: [] },
  }));
}
