/**
 * LivePcapSource against real libpcap, as root, inside a test network namespace (never the
 * machine's own: the capture is opened in the namespace through `networkNamespacePath`, and every
 * client runs under `ip netns exec`). Real curl calls the fake IMDS; a local web server on port
 * 8080 makes traffic the kernel filter must keep out.
 *
 * Needs the addon built (`node native/build.mjs`, which `npm install`/`npm ci` runs). Skipped
 * with a printed reason when not root or not built, except under CI=true, where that fails.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameDecoder } from "../../src/decode/index.js";
import { createTcpSegment } from "../../src/decode/segment.js";
import { Diagnostics } from "../../src/diagnostics.js";
import { CaptureDeviceError, UsageError } from "../../src/errors.js";
import type { ImdsEvent } from "../../src/events.js";
import { imdsCaptureFilter } from "../../src/imds/endpoints.js";
import { loadPcapAddon } from "../../src/live/pcap-addon.js";
import type { NativePcapHandle } from "../../src/live/pcap-addon.js";
import { LivePcapSource } from "../../src/live/pcap-source.js";
import type { LiveCaptureOptions } from "../../src/live/pcap-source.js";
import { CapturePipeline } from "../../src/pipeline/capture-pipeline.js";
import type { Frame } from "../../src/source/frame.js";
import type { FrameConsumer } from "../../src/source/types.js";
import { instanceIpv4, shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";

function shouldSkip(): boolean {
  if (shouldSkipLiveTests()) return true;
  const loaded = LivePcapSource.load();
  if (loaded.ok) return false;
  if (process.env["CI"] === "true") throw new Error(`live pcap tests cannot run under CI=true: ${loaded.reason}`);
  console.warn(`skipping live pcap tests: ${loaded.reason}`);
  return true;
}
const skip = shouldSkip();

const imds = "http://169.254.169.254";
const backgroundPort = 8080;
const curlMaxSeconds = "5";

/** What a test keeps of each frame (the Frame object and its bytes are reused). */
interface SeenFrame {
  readonly number: number;
  readonly linkType: number;
  readonly timePrecisionDigits: number;
  readonly timestampSeconds: number;
  readonly timestampNanos: number;
  readonly capturedLength: number;
  readonly originalLength: number;
  readonly byteOffset: number;
  readonly interfaceId: number;
  /** Decoded by the analyzer's own decoder: null when it is not IMDS traffic. */
  readonly tcp: { sourceAddress: string; sourcePort: number; destinationAddress: string; destinationPort: number } | null;
}

/** Feeds the real pipeline and records every frame. */
class Recorder implements FrameConsumer {
  readonly frames: SeenFrame[] = [];
  readonly events: ImdsEvent[] = [];
  readonly diagnostics = new Diagnostics();
  readonly pipeline: CapturePipeline;
  private readonly decoder = new FrameDecoder(new Diagnostics());
  private readonly segment = createTcpSegment();
  onEachFrame: ((frame: Frame) => void) | null = null;
  afterBatch: (() => Promise<void> | undefined) | undefined;

  constructor(source: string) {
    this.pipeline = new CapturePipeline(source, (event) => this.events.push(event), this.diagnostics);
  }

  onFrame(frame: Frame): void {
    const isImds = this.decoder.decode(frame, this.segment);
    const segment = this.segment;
    this.frames.push({
      number: frame.number,
      linkType: frame.linkType,
      timePrecisionDigits: frame.timePrecisionDigits,
      timestampSeconds: frame.timestampSeconds,
      timestampNanos: frame.timestampNanos,
      capturedLength: frame.bytes.length,
      originalLength: frame.originalLength,
      byteOffset: frame.byteOffset,
      interfaceId: frame.interfaceId,
      tcp: isImds
        ? {
            sourceAddress: segment.sourceAddress,
            sourcePort: segment.sourcePort,
            destinationAddress: segment.destinationAddress,
            destinationPort: segment.destinationPort,
          }
        : null,
    });
    this.pipeline.onFrame(frame);
    this.onEachFrame?.(frame);
  }
}

function frameTimeNs(frame: SeenFrame): bigint {
  return BigInt(frame.timestampSeconds) * 1_000_000_000n + BigInt(frame.timestampNanos);
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe.skipIf(skip)("LivePcapSource (real libpcap in a test namespace)", () => {
  let network: TestNetwork;
  let namespacePath: string;

  /** curl inside the instance namespace (the only place these addresses exist). */
  async function curl(...args: string[]): Promise<string> {
    const result = await network.run("instance", ["curl", "-sS", "--max-time", curlMaxSeconds, ...args], 15_000);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  }

  /** v1 GET, token PUT, v2 GET: three IMDS calls on three connections. */
  async function imdsCalls(): Promise<void> {
    await curl("-o", "/dev/null", `${imds}/latest/meta-data/instance-id`);
    const token = await curl("-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", `${imds}/latest/api/token`);
    expect(token.length).toBeGreaterThan(0);
    await curl("-o", "/dev/null", "-H", `X-aws-ec2-metadata-token: ${token}`, `${imds}/latest/meta-data/placement/region`);
  }

  /** Web traffic the filter must keep out: another port on the IMDS address, and 127.0.0.1. */
  async function backgroundCalls(): Promise<void> {
    const page = await curl(`http://127.0.0.1:${backgroundPort}/latest/meta-data/instance-id`);
    expect(page).toBe("not-imds\n");
    await curl("-o", "/dev/null", "-H", "X-aws-ec2-metadata-token: background", `${imds}:${backgroundPort}/latest/meta-data/instance-id`);
  }

  function open(options: Partial<LiveCaptureOptions> = {}): LivePcapSource {
    return LivePcapSource.open({ device: "lo", filter: imdsCaptureFilter, networkNamespacePath: namespacePath, ...options });
  }

  function expectImdsEvents(events: readonly ImdsEvent[], source: string, frameCount: number): void {
    expect(
      events.map((event) => [event.kind, event.method, event.path, event.status, event.clientIp, event.serverIp, event.serverPort, event.source]),
    ).toEqual([
      ["v1", "GET", "/latest/meta-data/instance-id", 200, instanceIpv4, "169.254.169.254", 80, source],
      ["token-request", "PUT", "/latest/api/token", 200, instanceIpv4, "169.254.169.254", 80, source],
      ["v2", "GET", "/latest/meta-data/placement/region", 200, instanceIpv4, "169.254.169.254", 80, source],
    ]);
    for (const event of events) {
      expect(event.userAgent).toMatch(/^curl\/\d/);
      expect(event.frame).toBeGreaterThanOrEqual(1);
      expect(event.frame).toBeLessThanOrEqual(frameCount);
    }
  }

  beforeAll(async () => {
    network = TestNetwork.create();
    namespacePath = `/run/netns/${network.instance}`;
    await network.startFakeImds("optional");
    const www = join(network.directory, "www");
    mkdirSync(join(www, "latest", "meta-data"), { recursive: true });
    writeFileSync(join(www, "latest", "meta-data", "instance-id"), "not-imds\n");
    const server = network.spawn("instance", ["python3", "-u", "-m", "http.server", "--bind", "0.0.0.0", "--directory", www, String(backgroundPort)]);
    await waitForLine(server, "Serving HTTP", 10_000);
  });

  afterAll(async () => {
    await network.close();
  });

  it("lo: delivers IMDS frames live with nanosecond capture times, keeps other traffic out, and feeds the pipeline", async () => {
    const startedNs = nowNs();
    const source = open();
    expect([source.device, source.linkType, source.linkTypeName, source.timePrecisionDigits, source.warning]).toEqual(["lo", 1, "EN10MB", 9, null]);
    const recorder = new Recorder("live:lo");
    source.start(recorder);

    await backgroundCalls();
    await imdsCalls();
    await backgroundCalls();
    // Delivered while running, not only at stop(): each curl handshake is already in.
    await waitUntil(() => recorder.frames.length >= 30, 3000);
    const deliveredLive = recorder.frames.length;
    await source.stop();
    const stoppedNs = nowNs();
    recorder.pipeline.finish();

    const frames = recorder.frames;
    expect(deliveredLive).toBeGreaterThanOrEqual(30);
    expect(frames.map((frame) => frame.number)).toEqual(frames.map((_frame, index) => index + 1));
    for (const frame of frames) {
      expect([frame.linkType, frame.timePrecisionDigits, frame.byteOffset, frame.interfaceId]).toEqual([1, 9, 0, 0]);
      // lo in the namespace has MTU 1500 and nothing is cut at snaplen 65535.
      expect(frame.capturedLength).toBe(frame.originalLength);
      expect(frame.capturedLength).toBeGreaterThanOrEqual(54);
      expect(frame.capturedLength).toBeLessThanOrEqual(1514);
      // The kernel's capture time, inside the test's wall-clock window (1 ms of clock slack).
      expect(frameTimeNs(frame)).toBeGreaterThanOrEqual(startedNs - 1_000_000n);
      expect(frameTimeNs(frame)).toBeLessThanOrEqual(stoppedNs + 1_000_000n);
      expect(frame.timestampNanos).toBeLessThan(1_000_000_000);
    }
    for (let index = 1; index < frames.length; index++) expect(frameTimeNs(frames[index]!)).toBeGreaterThanOrEqual(frameTimeNs(frames[index - 1]!));
    // Nanosecond precision is real, not microseconds times 1000.
    expect(frames.some((frame) => frame.timestampNanos % 1000 !== 0)).toBe(true);
    // The kernel filter let through only IMDS traffic: every frame decodes as such (port 80,
    // 169.254.169.254), none is the web server's on 8080.
    expect(frames.filter((frame) => frame.tcp === null)).toEqual([]);
    for (const frame of frames) {
      const ports = [frame.tcp!.sourcePort, frame.tcp!.destinationPort];
      expect(ports).toContain(80);
      expect(ports).not.toContain(backgroundPort);
    }

    expectImdsEvents(recorder.events, "live:lo", frames.length);
    expect(recorder.diagnostics.counters.imdsSegments).toBe(frames.length);
    expect(recorder.diagnostics.counters.flowsOpened).toBe(3);
    // The kernel hands a packet socket on loopback each packet twice (outgoing and incoming copy)
    // and counts both; libpcap drops the outgoing copy in user space. So on lo, received = 2 x frames.
    expect(source.stats()).toEqual({ packetsReceived: 2 * frames.length, packetsDroppedByKernel: 0, packetsDroppedByInterface: 0, packetsDroppedByAddon: 0 });
  });

  it('"any": Linux cooked capture (LINUX_SLL), each lo packet once, the same calls', async () => {
    const source = open({ device: "any" });
    expect([source.device, source.linkType, source.linkTypeName, source.timePrecisionDigits]).toEqual(["any", 113, "LINUX_SLL", 9]);
    const recorder = new Recorder("live:any");
    const startedNs = nowNs();
    source.start(recorder);
    await backgroundCalls();
    await imdsCalls();
    await source.stop();
    const stoppedNs = nowNs();
    recorder.pipeline.finish();

    const frames = recorder.frames;
    expect(frames.length).toBeGreaterThanOrEqual(30);
    for (const frame of frames) {
      expect(frame.linkType).toBe(113);
      expect(frame.tcp).not.toBeNull();
      expect(frameTimeNs(frame)).toBeGreaterThanOrEqual(startedNs - 1_000_000n);
      expect(frameTimeNs(frame)).toBeLessThanOrEqual(stoppedNs + 1_000_000n);
    }
    expectImdsEvents(recorder.events, "live:any", frames.length);
    // No duplicates: every request reached the pipeline once.
    expect(recorder.diagnostics.counters.segmentsDuplicate).toBe(0);
    // Only lo carries traffic in the namespace: two kernel copies per frame, as on lo.
    expect(source.stats().packetsReceived).toBe(2 * frames.length);
  });

  it("stop() delivers the packets still waiting in the kernel buffer", async () => {
    const source = open();
    const recorder = new Recorder("live:lo");
    source.start(recorder);
    // spawnSync blocks the event loop: the capture cannot read while curl runs, so every packet
    // is still buffered when stop() is called right after.
    const result = spawnSync("ip", ["netns", "exec", network.instance, "curl", "-sS", "-o", "/dev/null", "--max-time", curlMaxSeconds, `${imds}/latest/meta-data/ami-id`], {
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(recorder.frames.length).toBe(0);
    const stopped = source.stop();
    expect(recorder.frames.length).toBeGreaterThanOrEqual(8);
    await stopped;
    recorder.pipeline.finish();
    expect(recorder.events.map((event) => [event.kind, event.path, event.status])).toEqual([["v1", "/latest/meta-data/ami-id", 200]]);
    expect(source.stats().packetsReceived).toBe(2 * recorder.frames.length);
    // Idempotent; the final counters stay readable.
    await source.stop();
    expect(source.stats().packetsReceived).toBe(2 * recorder.frames.length);
  });

  it("afterBatch backpressure pauses reading until its promise settles", async () => {
    const source = open({ maxBatchPackets: 1 });
    const recorder = new Recorder("live:lo");
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let batches = 0;
    /** Frames delivered so far, at each afterBatch: 1, 2, 3 ... when every batch is one frame. */
    const framesAtBatchEnds: number[] = [];
    recorder.afterBatch = () => {
      batches++;
      framesAtBatchEnds.push(recorder.frames.length);
      return batches === 1 ? gate : undefined;
    };
    source.start(recorder);
    await curl("-o", "/dev/null", `${imds}/latest/meta-data/instance-id`);
    await sleep(200);
    // One packet per batch, and the first batch's promise has not settled: nothing more was read.
    expect([recorder.frames.length, batches]).toEqual([1, 1]);
    release();
    await waitUntil(() => recorder.frames.length >= 8, 3000);
    await source.stop();
    recorder.pipeline.finish();
    // One frame per batch; frames still in the ring at stop() are drained without asking
    // afterBatch (on a loaded machine the last ones can still be there).
    expect(framesAtBatchEnds).toEqual(Array.from({ length: batches }, (_, index) => index + 1));
    expect(batches).toBeGreaterThanOrEqual(8);
    expect(batches).toBeLessThanOrEqual(recorder.frames.length);
    expect(recorder.events.map((event) => event.kind)).toEqual(["v1"]);
    expect(source.stats()).toEqual({ packetsReceived: 2 * recorder.frames.length, packetsDroppedByKernel: 0, packetsDroppedByInterface: 0, packetsDroppedByAddon: 0 });
  });

  it("stop() from inside onFrame finishes the batch, drains the rest in order, and closes", async () => {
    const source = open();
    const recorder = new Recorder("live:lo");
    const stopped: { promise: Promise<void> | null } = { promise: null };
    recorder.onEachFrame = (frame) => {
      if (frame.number === 3) stopped.promise = source.stop();
    };
    source.start(recorder);
    spawnSync("ip", ["netns", "exec", network.instance, "curl", "-sS", "-o", "/dev/null", "--max-time", curlMaxSeconds, `${imds}/latest/meta-data/hostname`], {
      timeout: 15_000,
    });
    await waitUntil(() => stopped.promise !== null, 3000);
    await stopped.promise;
    recorder.pipeline.finish();
    expect(recorder.frames.map((frame) => frame.number)).toEqual(recorder.frames.map((_frame, index) => index + 1));
    expect(recorder.events.map((event) => [event.kind, event.path])).toEqual([["v1", "/latest/meta-data/hostname"]]);
    expect(source.stats().packetsReceived).toBe(2 * recorder.frames.length);
  });

  it("a throwing consumer stops delivery and reaches onError, not the process", async () => {
    const source = open();
    const errors: Error[] = [];
    let calls = 0;
    source.start(
      {
        onFrame: () => {
          calls++;
          throw new Error("consumer broke");
        },
      },
      (error) => errors.push(error),
    );
    await curl("-o", "/dev/null", `${imds}/latest/meta-data/instance-id`);
    await waitUntil(() => errors.length > 0, 3000);
    await source.stop();
    expect(errors.map((error) => error.message)).toEqual(["consumer broke"]);
    expect(calls).toBe(1);
  });

  it("gives clear errors: bad filter, missing device, bad namespace, bad options, misuse", async () => {
    const failure = (options: Partial<LiveCaptureOptions>): unknown => {
      try {
        open(options).stop();
      } catch (error) {
        return error;
      }
      return null;
    };

    const badFilter = failure({ filter: "tcp port" });
    expect(badFilter).toBeInstanceOf(CaptureDeviceError);
    expect(badFilter).toMatchObject({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_FILTER", device: "lo" });
    expect((badFilter as Error).message).toBe('invalid capture filter "tcp port": can\'t parse filter expression: syntax error');

    const missing = failure({ device: "imdsnone0" });
    expect(missing).toMatchObject({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_NO_SUCH_DEVICE", device: "imdsnone0" });
    expect((missing as Error).message).toMatch(/^no such capture device imdsnone0: /);

    const noNamespace = failure({ networkNamespacePath: "/run/netns/imds-no-such-namespace" });
    expect(noNamespace).toMatchObject({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_NETNS" });
    expect((noNamespace as Error).message).toBe("cannot open network namespace /run/netns/imds-no-such-namespace: No such file or directory");
    const notANamespace = failure({ networkNamespacePath: "/etc/hostname" });
    expect(notANamespace).toMatchObject({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_NETNS" });
    expect((notANamespace as Error).message).toBe("cannot enter network namespace /etc/hostname: Invalid argument");

    for (const options of [{ snaplenBytes: 10 }, { bufferSizeBytes: 1.5 }, { maxBatchPackets: 0 }, { blockTimeoutMs: 0 }, { blockTimeoutMs: 1001 }, { device: "" }]) {
      const error = failure(options);
      expect(error).toBeInstanceOf(UsageError);
      expect(error).toMatchObject({ code: "E_USAGE" });
    }

    const source = open();
    source.start({ onFrame: () => undefined });
    expect(() => {
      source.start({ onFrame: () => undefined });
    }).toThrow(expect.objectContaining({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_STARTED" }) as Error);
    await source.stop();
    expect(() => {
      source.start({ onFrame: () => undefined });
    }).toThrow(expect.objectContaining({ code: "E_CAPTURE_DEVICE", reason: "E_PCAP_STARTED" }) as Error);
  });

  it("the native layer rejects wrong types, a closed handle and close() from inside its callback without crashing", async () => {
    const loaded = loadPcapAddon();
    if (!loaded.ok) throw new Error(loaded.reason);
    const addon = loaded.addon;
    const thrown = (action: () => unknown): unknown => {
      try {
        action();
      } catch (error) {
        return error;
      }
      return null;
    };
    const untyped = addon.open.bind(addon) as unknown as (...args: unknown[]) => NativePcapHandle;
    expect(thrown(() => untyped(42, { filter: "" }))).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE", message: "device must be a string" });
    expect(thrown(() => untyped("lo"))).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE" });
    expect(thrown(() => untyped("lo", { filter: 7 }))).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE", message: "options.filter must be a string" });
    expect(thrown(() => untyped("lo", { filter: "", snaplenBytes: "big" }))).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE" });
    expect(thrown(() => untyped("lo", { filter: "", maxBatchPackets: 5000 }))).toMatchObject({
      name: "RangeError",
      code: "E_OUT_OF_RANGE",
      message: "options.maxBatchPackets must be an integer from 1 to 4096, got 5000",
    });
    expect(thrown(() => untyped("lo", { filter: "", blockTimeoutMs: 1001 }))).toMatchObject({
      name: "RangeError",
      code: "E_OUT_OF_RANGE",
      message: "options.blockTimeoutMs must be an integer from 1 to 1000, got 1001",
    });
    // What the ring was opened with: the default, or the caller's (live capture with eBPF asks for 200 ms).
    for (const [options, expected] of [[{}, 20], [{ blockTimeoutMs: 200 }, 200]] as const) {
      const opened = addon.open("lo", { filter: imdsCaptureFilter, networkNamespacePath: namespacePath, ...options });
      expect(opened.blockTimeoutMs).toBe(expected);
      opened.close();
    }

    const handle = addon.open("lo", { filter: imdsCaptureFilter, networkNamespacePath: namespacePath });
    const detachedStats = handle.stats.bind(undefined) as () => unknown;
    expect(thrown(detachedStats)).toMatchObject({ name: "TypeError" });
    const start = handle.start.bind(handle) as (...args: unknown[]) => void;
    expect(thrown(() => {
      start("not a function", () => undefined);
    })).toMatchObject({ name: "TypeError", code: "E_INVALID_ARG_TYPE" });

    const closeErrors: unknown[] = [];
    let batches = 0;
    handle.start(
      () => {
        batches++;
        closeErrors.push(thrown(() => handle.close()));
      },
      () => undefined,
    );
    await curl("-o", "/dev/null", `${imds}/latest/meta-data/instance-id`);
    await waitUntil(() => batches > 0, 3000);
    expect(closeErrors[0]).toMatchObject({ code: "E_PCAP_BUSY" });
    const final = handle.close();
    expect(final).toMatchObject({ droppedByKernel: 0, droppedByAddon: 0 });
    expect(handle.close()).toEqual(final);
    expect(thrown(() => handle.stats())).toMatchObject({ code: "E_PCAP_CLOSED", message: "stats() on capture device lo: the capture is closed" });
    expect(thrown(() => {
      handle.start(() => undefined, () => undefined);
    })).toMatchObject({ code: "E_PCAP_CLOSED" });
    handle.pause();
    handle.resume();
  });
});
