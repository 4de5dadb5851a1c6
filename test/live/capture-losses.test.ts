/**
 * Every loss a live capture knows of reaches its summary and the report's capture health, end to
 * end as root in a test network namespace (the built CLI, real libpcap and eBPF, curl): frames
 * cut by the live snaplen (16 KiB; lo's MTU is raised so that one frame carries a 100 KB answer),
 * the addon's own drops, and the kernel records the eBPF ring buffer lost. A cut answer body is
 * skipped exactly, so its call still gets its status.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ImdsReport } from "../../src/report/types.js";
import { eventLines, ipInInstance, startCapture, stopCapture, waitUntil } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();

/** An IMDS stand-in that answers every GET with a 100 KB body (bounded: 60 s). */
const bigAnswerServer = `
import http.server, threading, os
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"x" * 100000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("169.254.169.254", 80), Handler)
threading.Timer(60, lambda: os._exit(0)).start()
print("ready", flush=True)
server.serve_forever()
`;

describe.skipIf(skip)("capture: losses in the summary and the report (live, root, test namespaces)", () => {
  it("counts frames cut by the snaplen and reports the addon's and the ring buffer's losses", async () => {
    const network = TestNetwork.create();
    try {
      ipInInstance(network, "link", "set", "lo", "mtu", "65536");
      const server = network.spawn("instance", ["python3", "-c", bigAnswerServer]);
      await waitForLine(server, "ready", 10_000);
      const eventsPath = join(network.directory, "events.ndjson");
      const reportPath = join(network.directory, "report.json");
      const capture = await startCapture(network, eventsPath, ["-i", "lo", "--report", reportPath]);
      const curl = await network.run("instance", ["curl", "-sS", "-o", "/dev/null", "http://169.254.169.254/latest/user-data"]);
      expect(curl.code, curl.stderr).toBe(0);
      await waitUntil("the event", 10_000, () => eventLines(eventsPath).length === 1);
      const { summary } = await stopCapture(capture);

      expect(eventLines(eventsPath)[0]).toMatchObject({ path: "/latest/user-data", status: 200 });
      expect(summary.diagnostics.counters.framesSnaplenCut ?? 0).toBeGreaterThan(0);
      expect(summary.framesRead).toBe(summary.diagnostics.counters.framesRead);
      expect(summary.live?.packetsDroppedByAddon).toBe(0);
      expect(summary.live?.attribution.kernelRecordsLost).toBe(0);
      const report = JSON.parse(readFileSync(reportPath, "utf8")) as ImdsReport;
      expect(report.capture.framesSnaplenCut).toBe(summary.diagnostics.counters.framesSnaplenCut);
      expect(report.capture.framesRead).toBe(summary.framesRead);
    } finally {
      await network.close();
    }
  });
});
