/**
 * An internal error during a live capture, end to end, as root in a test network namespace: the
 * built CLI runs with test/helpers/inject-fault.mjs, which makes one stage throw (as a bug would)
 * on a marked request while everything else stays real. The capture must not stop silently or
 * hang: it says so in one line, ends by itself with exit code 1, and still flushes what it has:
 * the events before the fault, the summary (naming the error), the saved pcap. Under systemd,
 * Restart=on-failure then brings it back. Bounded in time; only processes started here are stopped.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { unbundledCliPath } from "../helpers/cli.js";
import { eventLines, inTestNetwork, waitUntil } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, waitForLine } from "../helpers/netns.js";
import type { TestNetwork } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();
const injector = join(import.meta.dirname, "..", "helpers", "inject-fault.mjs");
const marker = "fault-injection";

async function curl(network: TestNetwork, path: string): Promise<void> {
  const result = await network.run("instance", ["curl", "-sS", "-o", "/dev/null", `http://169.254.169.254${path}`], 20_000);
  expect(result.code, result.stderr).toBe(0);
}

describe.skipIf(skip)("capture: an internal error (live, root, test namespaces)", () => {
  it.each(["frame", "event"] as const)("a throwing %s stage ends the capture with one line and exit 1, after flushing events, summary and pcap", async (stage) => {
    await inTestNetwork(async (network) => {
      const eventsPath = join(network.directory, "events.ndjson");
      const summaryPath = join(network.directory, "summary.json");
      const pcapPath = join(network.directory, "saved.pcap");
      const capture = network.spawn("instance", [
        "env", `IMDS_FAULT_STAGE=${stage}`, `IMDS_FAULT_MARKER=${marker}`,
        process.execPath, "--import", injector, unbundledCliPath, "capture", "--events", eventsPath, "--summary-json", summaryPath,
        "--write-pcap", pcapPath, "--duration", "120s",
      ]);
      await waitForLine(capture, "events go to", 20_000);
      await curl(network, "/latest/meta-data/instance-id");
      await waitUntil("the first event", 10_000, () => eventLines(eventsPath).length === 1);
      await curl(network, `/latest/meta-data/${marker}`);

      // No signal is sent: the capture must notice by itself, stop and exit.
      const exit = { seen: false };
      void capture.done.then(() => { exit.seen = true; });
      try {
        await waitUntil("the capture to exit by itself", 15_000, () => exit.seen, () => capture.stderr());
      } finally {
        if (!exit.seen) capture.child.kill("SIGKILL");
      }
      const result = await capture.done;
      expect(result.code, result.stderr).toBe(1);
      const errorLines = result.stderr.split("\n").filter((line) => /error/i.test(line) && !line.includes("warning"));
      expect(errorLines, result.stderr).toHaveLength(1);
      expect(errorLines[0]).toMatch(/^imds-analyzer: internal error in (packet processing|event output): TypeError: injected fault .*; the capture stopped$/);
      expect(result.stderr).not.toMatch(/^\s+at /m); // one line, not a stack trace

      // Flushed: the event before the fault, the summary (naming the error), a whole pcap.
      const events = eventLines(eventsPath);
      expect(events.map((event) => event.path)).toContain("/latest/meta-data/instance-id");
      expect(existsSync(summaryPath), result.stderr).toBe(true);
      const summary = JSON.parse(readFileSync(summaryPath, "utf8")) as AnalysisSummary;
      expect(summary.live?.errors).toEqual([expect.stringContaining("injected fault")]);
      expect(summary.requests.total).toBeGreaterThanOrEqual(1);
      const saved = await analyzeCaptures([pcapPath]);
      expect(saved.hadErrors).toBe(false);
      expect(saved.summary.sources[0]!.truncated).toBeNull();
      expect(saved.summary.requests.total).toBeGreaterThanOrEqual(1);
    });
  });
});
