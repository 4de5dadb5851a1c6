/**
 * Live capture says what it saw only in part, the same as offline analysis (one pipeline): as
 * root in a test network namespace, with the built CLI, real libpcap and eBPF, the fake IMDS and
 * real curl calls. The capture keeps 16 KiB of each packet (its fixed snaplen; `capture` has no
 * option to change it); with lo's MTU raised to 64 KiB, a request whose head is larger travels in
 * one packet and is cut there, after its request line and before its token header. Such a
 * request is never counted as v1 or v2; a token PUT is still known by its request line; the
 * events name the process; the summary says so on its first lines, and the report is UNKNOWN.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ImdsReport } from "../../src/report/types.js";
import { eventLines, ipInInstance, startCapture, stopCapture, waitUntil } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();

/** The live capture's snaplen (src/live/capture.ts): what a frame keeps. */
const liveSnaplenBytes = 16 * 1024;
const imds = "http://169.254.169.254";
/** A header larger than what the capture keeps, sent before the ones that classify the request. */
const padding = `X-Padding: ${"p".repeat(liveSnaplenBytes + 1000)}`;

describe.skipIf(skip)("capture: requests seen in part (live, root, test namespaces)", () => {
  it("never counts a request cut after its line as v1 or v2, keeps its token PUT, names its process, and says so", async () => {
    const network = TestNetwork.create();
    try {
      ipInInstance(network, "link", "set", "lo", "mtu", "65536");
      await network.startFakeImds();
      const eventsPath = join(network.directory, "events.ndjson");
      const reportPath = join(network.directory, "report.json");
      const capture = await startCapture(network, eventsPath, ["-i", "lo", "--report", reportPath]);
      const clients = [
        // Cut: a v1 GET, a token PUT, a GET whose token header comes after the padding.
        ["curl", "-sS", "-o", "/dev/null", "-H", padding, `${imds}/latest/meta-data/instance-id`],
        ["curl", "-sS", "-o", "/dev/null", "-X", "PUT", "-H", padding, "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", `${imds}/latest/api/token`],
        ["sh", "-c", `curl -sS -o /dev/null -H '${padding}' -H "X-aws-ec2-metadata-token: $(curl -sS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${imds}/latest/api/token)" ${imds}/latest/meta-data/ami-id`],
        // Whole: a plain v1 GET.
        ["curl", "-sS", "-o", "/dev/null", `${imds}/latest/meta-data/hostname`],
      ];
      for (const command of clients) {
        const result = await network.run("instance", command);
        expect(result.code, result.stderr).toBe(0);
      }
      await waitUntil("the events", 15_000, () => eventLines(eventsPath).length === 5);
      const { summary, stderr } = await stopCapture(capture);

      const events = eventLines(eventsPath);
      expect(events.map((event) => [event.kind, event.method, event.path, event.incomplete?.cause ?? null])).toEqual([
        ["unclassified", "GET", "/latest/meta-data/instance-id", "snaplen"],
        ["token-request", "PUT", "/latest/api/token", "snaplen"],
        ["token-request", "PUT", "/latest/api/token", null],
        ["unclassified", "GET", "/latest/meta-data/ami-id", "snaplen"],
        ["v1", "GET", "/latest/meta-data/hostname", null],
      ]);
      for (const event of events.filter((one) => one.incomplete !== null)) {
        expect(event.incomplete).toEqual({ cause: "snaplen", snaplen: liveSnaplenBytes, parseError: null, pathComplete: true });
        // What was seen is said (curl's User-Agent comes before the padding), what was cut off is
        // not made up (the TTL header came after it); no status is paired after a lost part.
        expect(event.userAgent).toMatch(/^curl\//);
        expect([event.tokenTtlSeconds, event.status]).toEqual([null, null]);
        // The operator learns who made it: attribution is per connection, not per header.
        // Complete, unless this one-shot curl exited before the tracer's /proc read (timing, not
        // the cut: CI saw it once), when the kernel's own record still names it.
        expect(event.process?.comm).toBe("curl");
        expect([{ method: "ebpf", status: "ok", reason: null }, { method: "ebpf", status: "partial", reason: "process-exited" }]).toContainEqual(event.attribution);
      }

      expect(summary.requests).toEqual({ total: 5, v1: 1, v2: 0, tokenRequests: 2, unclassified: 2 });
      expect(summary.incompleteRequests).toMatchObject({ total: 3, unclassified: 2, snaplenBytes: liveSnaplenBytes });
      expect(summary.incompleteRequests?.unclassifiedByCause.snaplen).toBe(2);
      // The summary on stderr says it before anything else it prints.
      const lines = stderr.split("\n");
      const warning = lines.findIndex((line) => line.startsWith("WARNING: 2 of 5 IMDS requests could not be classified as IMDSv1 or IMDSv2"));
      expect(warning, stderr).toBeGreaterThanOrEqual(0);
      expect(lines[warning]).toContain(`packets cut at ${liveSnaplenBytes} bytes by the capture's snaplen`);
      expect(lines[warning + 1]).toContain(`Packets were cut at ${liveSnaplenBytes} bytes, all the live capture keeps of a packet`);
      expect(lines.findIndex((line) => line.startsWith("IMDS requests: 5 "))).toBeGreaterThan(warning);

      // The v1 call makes the report NOT_READY; the unclassified requests are listed with their process.
      const report = JSON.parse(readFileSync(reportPath, "utf8")) as ImdsReport;
      expect(report.verdict).toBe("NOT_READY");
      expect(report.capture.unclassifiedRequests).toMatchObject({ total: 2, snaplenBytes: liveSnaplenBytes });
      expect(report.capture.unclassifiedRequests.examples.map((example) => [example.path, example.cause, example.process?.startsWith("curl (pid ")])).toEqual([
        ["/latest/meta-data/instance-id", "snaplen", true],
        ["/latest/meta-data/ami-id", "snaplen", true],
      ]);
    } finally {
      await network.close();
    }
  });
});
