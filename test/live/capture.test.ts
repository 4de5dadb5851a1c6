/**
 * Live capture end to end, as root, in test network namespaces (never the machine's own): the
 * built CLI captures with real libpcap inside the "instance" namespace while real clients call the
 * fake IMDS; every event must carry the pid, comm and command line of the client that made it.
 * Under CI=true these tests must run: a missing prerequisite fails them.
 */
import { existsSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import type { ImdsEvent } from "../../src/events.js";
import { keepAliveClientScript } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";
import type { Role, Spawned } from "../helpers/netns.js";
import { cliPath as cli } from "../helpers/cli.js";

const jsSdkClient = join(import.meta.dirname, "..", "fake-imds", "clients", "js-sdk-credentials.mjs");
const skip = shouldSkipLiveTests();

interface RunningCapture {
  readonly spawned: Spawned;
  readonly eventsPath: string;
  readonly summaryPath: string;
}

let captureCounter = 0;

async function startCapture(network: TestNetwork, extraArgs: readonly string[] = []): Promise<RunningCapture> {
  captureCounter++;
  const eventsPath = join(network.directory, `events-${captureCounter}.ndjson`);
  const summaryPath = join(network.directory, `summary-${captureCounter}.json`);
  const spawned = network.spawn("instance", [
    process.execPath, cli, "capture", "--events", eventsPath, "--summary-json", summaryPath, "--duration", "120s", ...extraArgs,
  ]);
  await waitForLine(spawned, "events go to", 20_000);
  return { spawned, eventsPath, summaryPath };
}

async function stopCapture(capture: RunningCapture): Promise<{ events: ImdsEvent[]; summary: Record<string, unknown>; stderr: string }> {
  capture.spawned.child.kill("SIGINT");
  const result = await capture.spawned.done;
  expect(result.code, result.stderr).toBe(0);
  const events = readFileSync(capture.eventsPath, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ImdsEvent);
  const summary = JSON.parse(readFileSync(capture.summaryPath, "utf8")) as Record<string, unknown>;
  return { events, summary, stderr: result.stderr };
}

/** Runs a client to completion in a namespace, with a clean environment and no AWS credentials. */
async function client(network: TestNetwork, role: Role, command: readonly string[], extraEnv: readonly string[] = []) {
  const env = [
    "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", `HOME=${network.directory}`,
    "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
    ...extraEnv,
  ];
  const result = await network.run(role, [...env, ...command], 30_000);
  return result;
}

function eventsOfPid(events: readonly ImdsEvent[], pid: number): ImdsEvent[] {
  return events.filter((event) => event.process?.pid === pid);
}

describe.skipIf(skip)("imds-analyzer capture (live, root, test namespaces)", () => {
  let network: TestNetwork;

  beforeAll(() => {
    network = TestNetwork.create();
  });
  afterAll(async () => {
    await network.close();
  });

  it("attributes one-shot curl, python and JS SDK callers, and a caller in a second namespace, to their pids", async () => {
    await network.startFakeImds("optional");
    const savedPcap = join(network.directory, "live.pcap");
    const capture = await startCapture(network, ["-i", "any", "--write-pcap", savedPcap]);
    const curlV1 = await client(network, "instance", ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/instance-id"]);
    const tokenPut = await client(network, "instance", [
      "curl", "-sS", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token",
    ]);
    const token = tokenPut.stdout.trim();
    expect(token.length).toBeGreaterThan(10);
    const curlV2 = await client(network, "instance", [
      "curl", "-sS", "-o", "/dev/null", "-H", `X-aws-ec2-metadata-token: ${token}`, "http://169.254.169.254/latest/meta-data/ami-id",
    ]);
    const python = await client(network, "instance", [
      "/usr/bin/python3", "-c", "import urllib.request; urllib.request.urlopen('http://169.254.169.254/latest/meta-data/hostname').read()",
    ]);
    const jsSdk = await client(network, "instance", [process.execPath, jsSdkClient, "--package", "smithy"]);
    const container = await client(network, "container", ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/user-data"]);
    const ipv6 = await client(network, "instance", ["curl", "-sS", "-g", "-o", "/dev/null", "http://[fd00:ec2::254]/latest/meta-data/"]);
    for (const done of [curlV1, tokenPut, curlV2, python, jsSdk, container, ipv6]) expect(done.code, done.stderr).toBe(0);

    const { events, summary, stderr } = await stopCapture(capture);
    // What it says at start: interface, filter, attribution method, where events go.
    expect(stderr).toContain("capturing on any (link type");
    expect(stderr).toContain("kernel filter: (host 169.254.169.254 or host fd00:ec2::254) and tcp port 80");
    expect(stderr).toMatch(/attribution: eBPF/);
    expect(stderr).toContain(`events go to ${capture.eventsPath}`);
    expect(events).toHaveLength(network.fakeImdsRequests().length);

    // Every call attributed in the kernel at connect time, even those of processes that exited
    // a millisecond later ("partial": /proc could not add detail, the kernel's facts stand).
    for (const event of events) {
      expect(event.attribution?.method).toBe("ebpf");
      expect(["ok", "partial"]).toContain(event.attribution?.status);
    }
    const [v1] = eventsOfPid(events, curlV1.pid);
    expect(v1).toMatchObject({ kind: "v1", path: "/latest/meta-data/instance-id", status: 200 });
    expect(v1!.process).toMatchObject({ pid: curlV1.pid, comm: "curl", cmdline: ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/instance-id"] });
    // Recorded in the kernel at connect time, so known even though curl exited long ago: its
    // start time and its parent (this test process: ip netns exec and env exec the client).
    expect(v1!.process?.startTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(v1!.process?.parents[0]?.pid).toBe(process.pid);

    expect(eventsOfPid(events, tokenPut.pid).map((event) => event.kind)).toEqual(["token-request"]);
    const [v2] = eventsOfPid(events, curlV2.pid);
    expect(v2).toMatchObject({ kind: "v2", status: 200 });
    // The token on the command line is a secret: redacted in the event.
    expect(JSON.stringify(v2!.process)).not.toContain(token);

    const [fromPython] = eventsOfPid(events, python.pid);
    expect(fromPython).toMatchObject({ kind: "v1", userAgent: expect.stringMatching(/^Python-urllib\//) as unknown });
    expect(fromPython!.process?.comm).toBe("python3");

    const sdkEvents = eventsOfPid(events, jsSdk.pid);
    expect(sdkEvents.map((event) => event.kind)).toEqual(["token-request", "v2", "v2"]);
    expect(sdkEvents[0]!.process?.comm).toBe("node");

    const [fromContainer] = eventsOfPid(events, container.pid);
    expect(fromContainer).toMatchObject({ kind: "v1", clientIp: "10.77.0.2", path: "/latest/user-data" });

    const [overIpv6] = eventsOfPid(events, ipv6.pid);
    expect(overIpv6).toMatchObject({ kind: "v1", serverIp: "fd00:ec2::254" });

    const live = summary["live"] as {
      packetsDroppedByKernel: number;
      attribution: { attributed: number; connections: number };
      bootTime: string | null;
      windowIncludesBoot: boolean | null;
      startedAt: string;
    };
    expect(live.packetsDroppedByKernel).toBe(0);
    // The first call fetched the instance id: every event carries it, and so does the summary.
    expect(events.map((event) => event.instanceId)).toEqual(events.map(() => "i-0123456789abcdef0"));
    expect(summary["instanceId"]).toBe("i-0123456789abcdef0");
    // The boot time is the kernel's (btime in /proc/stat); a test run is not a boot.
    const btimeSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))![1]);
    expect(live.bootTime).toBe(new Date(btimeSeconds * 1000).toISOString());
    expect(live.windowIncludesBoot).toBe(Date.parse(live.startedAt) - btimeSeconds * 1000 <= 600_000);
    // The saved packets (0600: they hold credentials) give the same calls when analysed offline.
    expect(statSync(savedPcap).mode & 0o777).toBe(0o600);
    const offline: ImdsEvent[] = [];
    await analyzeCaptures([savedPcap], { onEvent: (event) => offline.push(event) });
    expect(offline.map((event) => [event.kind, event.path, event.status, event.clientPort])).toEqual(
      events.map((event) => [event.kind, event.path, event.status, event.clientPort]),
    );
    // Seven connections here (the JS SDK keeps one alive); the tracer may see other tests' too.
    expect(live.attribution.connections).toBeGreaterThanOrEqual(7);
  });

  it("records the AWS CLI falling back to v1 when the token PUT fails with 403", async () => {
    await network.startFakeImds("put-403");
    const capture = await startCapture(network);
    const aws = await client(network, "instance", ["/usr/bin/aws", "configure", "list"]);
    expect(aws.code, aws.stderr).toBe(0);
    const { events } = await stopCapture(capture);
    const fromAws = eventsOfPid(events, aws.pid);
    expect(fromAws.length).toBeGreaterThanOrEqual(2);
    expect(fromAws[0]).toMatchObject({ kind: "token-request", status: 403 });
    expect(fromAws.slice(1).every((event) => event.kind === "v1" || event.kind === "token-request")).toBe(true);
    expect(fromAws.some((event) => event.kind === "v1" && event.path.startsWith("/latest/meta-data/iam/security-credentials/"))).toBe(true);
    expect(fromAws[0]!.process?.cmdline.slice(-2)).toEqual(["configure", "list"]);
  });

  it("records 401s when tokens are required", async () => {
    await network.startFakeImds("required");
    const capture = await startCapture(network);
    const curl = await client(network, "instance", ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/"]);
    const { events } = await stopCapture(capture);
    expect(eventsOfPid(events, curl.pid)).toMatchObject([{ kind: "v1", status: 401 }]);
  });

  it("rotates the events file by size and reopens it on SIGHUP, never splitting a line", async () => {
    await network.startFakeImds("optional");
    const capture = await startCapture(network, ["--rotate-size", "2k", "--rotate-keep", "50", "--attribution", "proc"]);
    for (let call = 0; call < 8; call++) {
      await client(network, "instance", ["curl", "-sS", "-o", "/dev/null", `http://169.254.169.254/latest/meta-data/call-${call}`]);
    }
    // An external rotation (logrotate): move the file away, then SIGHUP.
    await new Promise((done) => setTimeout(done, 500));
    renameSync(capture.eventsPath, `${capture.eventsPath}.moved`);
    capture.spawned.child.kill("SIGHUP");
    await new Promise((done) => setTimeout(done, 200));
    await client(network, "instance", ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/meta-data/after-hup"]);
    const { events } = await stopCapture(capture);
    expect(events.map((event) => event.path)).toEqual(["/latest/meta-data/after-hup"]);
    const earlier: string[] = [];
    for (let index = 50; index >= 1; index--) {
      const rotated = `${capture.eventsPath}.${index}`;
      if (existsSync(rotated)) earlier.push(...readFileSync(rotated, "utf8").split("\n").filter(Boolean));
    }
    earlier.push(...readFileSync(`${capture.eventsPath}.moved`, "utf8").split("\n").filter(Boolean));
    expect(existsSync(`${capture.eventsPath}.1`)).toBe(true);
    const paths = earlier.map((line) => (JSON.parse(line) as ImdsEvent).path);
    expect(paths).toEqual(Array.from({ length: 8 }, (_, call) => `/latest/meta-data/call-${call}`));
  });

  it("attributes a long-lived connection through /proc when asked to (--attribution proc)", async () => {
    await network.startFakeImds("optional");
    const capture = await startCapture(network, ["--attribution", "proc"]);
    // One keep-alive connection, requests 300 ms apart: long enough for the /proc socket lookup.
    const python = await client(network, "instance", ["/usr/bin/python3", "-c", keepAliveClientScript]);
    expect(python.code, python.stderr).toBe(0);
    const { events, stderr } = await stopCapture(capture);
    expect(stderr).toMatch(/attribution: \/proc/);
    const fromPython = eventsOfPid(events, python.pid);
    expect(fromPython).toHaveLength(3);
    expect(fromPython[0]!.attribution).toEqual({ method: "proc", status: "ok", reason: null });
    expect(fromPython[0]!.process?.comm).toBe("python3");
  });
});
