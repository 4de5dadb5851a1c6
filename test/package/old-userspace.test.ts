/**
 * The x64 single executable on an old user space: a Debian 11 root (glibc 2.31, no Node, no
 * compiler, no libpcap-dev; test/helpers/debian-root.ts), chrooted in a test network namespace.
 * It analyses the bundled captures with the npm CLI's events, attributes a real one-shot curl
 * (the root's own curl) to its pid with eBPF against the fake IMDS, and without libpcap in the
 * root says which package to install in one line while `analyze` still works.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { cliPath } from "../helpers/cli.js";
import { debianRoot, inRootScript } from "../helpers/debian-root.js";
import { eventLines, inTestNetwork } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, waitForLine } from "../helpers/netns.js";
import type { TestNetwork } from "../helpers/netns.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { ensureRelease, executablePath } from "../helpers/release.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const captureDirectory = join(repositoryRoot, "captures");
const captures = readdirSync(captureDirectory).filter((name) => /\.pcap(ng)?$/.test(name)).map((name) => join(captureDirectory, name));
const skip = shouldSkipLiveTests();

describe.skipIf(skip)("the single executable in a Debian 11 root (glibc 2.31, no Node)", () => {
  let root: string;
  beforeAll(() => {
    ensureRelease();
    root = debianRoot();
  }, 900_000);

  /** Runs the executable chrooted in an overlay of the root, inside the network's instance namespace. */
  function inRoot(network: TestNetwork, args: readonly string[], options: { withoutLibpcap: boolean }) {
    const script = inRootScript(root, makeTempDir("imds-bullseye-"), [executablePath("x64"), ...captures], [executablePath("x64"), ...args], options);
    return network.spawn("instance", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]);
  }

  it("analyses every bundled capture with the npm CLI's events", async () => {
    await inTestNetwork(async (network) => {
      const inside = await inRoot(network, ["analyze", "--quiet", ...captures], { withoutLibpcap: false }).done;
      const outside = await network.run("instance", [process.execPath, cliPath, "analyze", "--quiet", ...captures], 120_000);
      expect(inside.stderr).toBe("");
      expect(inside.code).toBe(0);
      expect(inside.stdout.trim().split("\n").length).toBeGreaterThan(captures.length);
      expect(inside.stdout).toBe(outside.stdout);
    });
  });

  it("captures live and attributes the root's own one-shot curl to its pid with eBPF", async () => {
    await inTestNetwork(async (network) => {
      const eventsFile = "/events.ndjson";
      const work = makeTempDir("imds-bullseye-live-");
      const script = inRootScript(root, work, [executablePath("x64")], [executablePath("x64"), "capture", "--attribution", "ebpf", "--events", eventsFile, "--duration", "120s"], { withoutLibpcap: false });
      const capture = network.spawn("instance", ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]);
      await waitForLine(capture, "events go to", 60_000);
      // The root's curl (Debian 11's, linked against its own libraries), not the host's.
      const curl = network.spawn("instance", ["chroot", root, "curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://169.254.169.254/latest/meta-data/instance-id"]);
      expect((await curl.done).code).toBe(0);
      const eventsPath = join(work, "upper", eventsFile);
      const deadline = Date.now() + 15_000;
      let events: ImdsEvent[] = [];
      while (Date.now() < deadline) {
        events = eventLines(eventsPath).filter((event) => event.process?.pid === curl.pid);
        if (events.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      capture.child.kill("SIGINT");
      const stopped = await capture.done;
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(events, stopped.stderr).toHaveLength(1);
      expect(events[0]).toMatchObject({ kind: "v1", attribution: { method: "ebpf" }, process: { comm: "curl" } });
      // The root's own curl: its path as the kernel sees it (the capture runs in an overlay of the root).
      expect(events[0]?.process?.exe).toBe(join(root, "usr", "bin", "curl"));
    });
  });

  it("without libpcap: capture is one line naming the package, analyze still works", async () => {
    await inTestNetwork(async (network) => {
      const capture = await inRoot(network, ["capture", "--duration", "2s"], { withoutLibpcap: true }).done;
      expect(capture.code).toBe(1);
      const lines = capture.stderr.trim().split("\n");
      expect(lines, capture.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/libpcap.*apt-get install libpcap0\.8/);
      const analyze = await inRoot(network, ["analyze", "--quiet", captures[0]!], { withoutLibpcap: true }).done;
      expect(analyze.code, analyze.stderr).toBe(0);
      expect(analyze.stdout.length).toBeGreaterThan(0);
    });
  });
});
