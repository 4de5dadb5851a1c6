/**
 * A live capture whose start fails after --write-pcap was opened leaves nothing behind: no open
 * descriptor (the library is used in-process too), no empty capture file, and a file that was
 * there before keeps its contents. As root; the in-process case fails at the device before any
 * privilege is dropped, the CLI case runs in a test network namespace.
 */
import { readdirSync, readlinkSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CaptureDeviceError } from "../../src/errors.js";
import { runLiveCapture } from "../../src/live/capture.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { cliPath, inTestNetwork } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, shouldSkipRootTests } from "../helpers/netns.js";

const skipRoot = shouldSkipRootTests("the --write-pcap start-failure tests");
const skipLive = shouldSkipLiveTests();

/** Paths this process holds open (its /proc/self/fd links). */
function openPaths(): string[] {
  const paths: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      paths.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  return paths;
}

async function startOnMissingDevice(pcapPath: string): Promise<unknown> {
  try {
    await runLiveCapture({ device: "imdsnodev0", attribution: "proc", writePcapPath: pcapPath, onEvent: () => undefined, log: () => undefined });
  } catch (error) {
    return error;
  }
  throw new Error("the capture started on a device that does not exist");
}

describe.skipIf(skipRoot)("live capture: --write-pcap when a later start step fails (root)", () => {
  it("closes the descriptor and removes the file it created when the device will not open", async () => {
    const pcapPath = join(makeTempDir("imds-start-failure-"), "saved.pcap");
    const error = await startOnMissingDevice(pcapPath);
    expect(error).toBeInstanceOf(CaptureDeviceError);
    expect(openPaths()).not.toContain(pcapPath);
    expect(existsSync(pcapPath)).toBe(false);
  });

  it("leaves a file that was already there as it was", async () => {
    const pcapPath = join(makeTempDir("imds-start-failure-"), "saved.pcap");
    writeFileSync(pcapPath, "an earlier capture\n", { mode: 0o600 });
    expect(await startOnMissingDevice(pcapPath)).toBeInstanceOf(CaptureDeviceError);
    expect(openPaths()).not.toContain(pcapPath);
    expect(readFileSync(pcapPath, "utf8")).toBe("an earlier capture\n");
  });
});

describe.skipIf(skipLive)("capture --write-pcap --attribution ebpf without eBPF (live, root, test namespaces)", () => {
  it("fails with one line and exit 1, and leaves no capture file", async () => {
    await inTestNetwork(async (network) => {
      const pcapPath = join(network.directory, "saved.pcap");
      // Root without the capabilities eBPF needs, as in a container or under a CapabilityBoundingSet.
      const result = await network.run("instance", [
        "setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--", process.execPath, cliPath, "capture",
        "--attribution", "ebpf", "--write-pcap", pcapPath, "--events", join(network.directory, "events.ndjson"), "--duration", "10s",
      ], 30_000);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr.trim().split("\n"), result.stderr).toHaveLength(1);
      expect(result.stderr).toMatch(/^imds-analyzer: eBPF connect tracer: /);
      expect(existsSync(pcapPath)).toBe(false);
    });
  });
});
