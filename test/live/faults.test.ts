/**
 * Faults during a live capture, end to end, as root: the built CLI (test/helpers/cli.ts, `npm run build`
 * first) captures inside a test network namespace (each test makes and deletes its own) while
 * real clients call the fake IMDS there, and the test breaks something under it: the events disk
 * fills up, the events file is removed or moved away, the captured interface goes down, SIGTERM
 * arrives in the middle of a burst, a one-shot client exits at once. The capture must go on (or
 * stop cleanly), say what happened, count what it lost, and never leave half a JSON line.
 * Every loop is bounded in count and time; only processes started here are stopped.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { eventLines, expectedPaths, imdsPathPrefix, inTestNetwork, ipInInstance, occurrences, pathsOf, startCapture, stopCapture, waitUntil } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, waitForLine } from "../helpers/netns.js";
import type { Role, TestNetwork } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();
/** The veth end in the instance namespace (TestNetwork's "container" sits behind it). */
const instanceVeth = "veth-ctr0";

/**
 * A bounded client: COUNT GET requests to /latest/meta-data/PREFIX-N, one connection each
 * ("oneshot") or all on one keep-alive connection ("keepalive"), DELAY_MS apart, 60 s at most.
 */
const clientScript = `
import sys, time, http.client
mode, prefix, count, delay_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
deadline = time.time() + 60
connection = None
for n in range(count):
    if time.time() > deadline:
        break
    if connection is None or mode == "oneshot":
        if connection is not None:
            connection.close()
        connection = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
    connection.request("GET", "${imdsPathPrefix}%s-%d" % (prefix, n))
    connection.getresponse().read()
    if delay_ms > 0:
        time.sleep(delay_ms / 1000)
if connection is not None:
    connection.close()
`;

/** Runs the bounded client in a namespace to its end. */
async function calls(network: TestNetwork, role: Role, prefix: string, count: number, mode: "oneshot" | "keepalive" = "oneshot", delayMs = 0): Promise<void> {
  const result = await network.run(role, clientCommand(prefix, count, mode, delayMs), 90_000);
  expect(result.code, result.stderr).toBe(0);
}

function clientCommand(prefix: string, count: number, mode: "oneshot" | "keepalive", delayMs: number): string[] {
  return ["/usr/bin/python3", "-c", clientScript, mode, prefix, String(count), String(delayMs)];
}

/** Every item of `part` appears in `whole`, in the same order. */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let index = 0;
  for (const item of whole) if (index < part.length && part[index] === item) index++;
  return index === part.length;
}

describe.skipIf(skip)("live capture under faults (root, test namespaces, built CLI)", () => {
  it("keeps capturing when the events disk is full, writes only whole lines, counts the lost events and resumes when space is back", async () => {
    await inTestNetwork(async (network) => {
      const mountPoint = mkdtempSync(join(tmpdir(), "imds-full-disk-"));
      // 1 MiB + 16 KiB: a 1 MiB filler leaves the events ~16 KiB, a handful of events (each is
      // ~3.7 KB here, the client's command line holding its script). Once the filler goes, 1 MiB
      // is free, more than all 90 events need, so however far behind the capture is when space
      // comes back (a loaded CI machine), every event still pending is written.
      const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1040k,mode=0700", "tmpfs", mountPoint], { encoding: "utf8" });
      if (mounted.status !== 0) throw new Error(`mount tmpfs failed: ${mounted.stderr}`);
      try {
        const filler = join(mountPoint, "filler");
        writeFileSync(filler, Buffer.alloc(1024 * 1024, 0x78));
        const capture = await startCapture(network, join(mountPoint, "events.ndjson"));
        const diskFull = waitForLine(capture.spawned, "events are being lost", 60_000);
        await calls(network, "instance", "fill", 80);
        await diskFull; // the capture met the full disk before space comes back
        await waitUntil("the fake IMDS to log 80 calls", 10_000, () => network.fakeImdsRequests().length >= 80);
        await sleep(2000); // the capture writes them (or fails to) within its housekeeping second
        const whileFull = eventLines(capture.eventsPath);
        expect(whileFull.length).toBeGreaterThan(0);
        expect(whileFull.length).toBeLessThan(80);

        rmSync(filler);
        await calls(network, "instance", "after", 10);
        const after = expectedPaths("after", 10);
        const afterWritten = (): string[] => pathsOf(eventLines(capture.eventsPath)).filter((path) => path.includes("/after-"));
        await waitUntil("the events after the disk had space again", 30_000, () => isSubsequence(after, afterWritten()), () => `written: ${afterWritten().join(" ")}; capture stderr: ${capture.spawned.stderr()}`);
        const { summary, stderr } = await stopCapture(capture);

        const written = eventLines(capture.eventsPath);
        const lost = summary.live?.eventsNotWritten ?? -1;
        expect(summary.requests.total).toBe(90);
        expect(lost).toBe(90 - written.length);
        expect(lost).toBeGreaterThan(0);
        // What was written is the calls in order, with a gap where the disk was full.
        expect(isSubsequence(pathsOf(written), [...expectedPaths("fill", 80), ...after])).toBe(true);
        expect(pathsOf(written).slice(-10)).toEqual(after);
        // Said once, naming the file, and once more when writing worked again.
        expect(occurrences(stderr, `${capture.eventsPath}: an event could not be written (ENOSPC); events are being lost`)).toBe(1);
        expect(occurrences(stderr, `${capture.eventsPath}: writing events again (${lost} event(s) were lost)`)).toBe(1);
      } finally {
        const unmounted = spawnSync("umount", [mountPoint]);
        if (unmounted.status !== 0) spawnSync("umount", ["-l", mountPoint]);
        rmSync(mountPoint, { recursive: true, force: true });
      }
    });
  });

  it("reopens the events file when it is removed or moved away (within a second, or at once on SIGHUP)", async () => {
    await inTestNetwork(async (network) => {
      const eventsPath = join(network.directory, "events.ndjson");
      const capture = await startCapture(network, eventsPath, ["--attribution", "proc"]);
      const batch = async (prefix: string): Promise<void> => {
        await calls(network, "instance", prefix, 3);
        await waitUntil(`3 "${prefix}" events in the file`, 10_000, () => pathsOf(eventLines(eventsPath)).filter((path) => path.includes(`/${prefix}-`)).length === 3);
      };
      await batch("first");

      rmSync(eventsPath); // removed, no signal
      await sleep(1500);
      await batch("after-removal");
      expect(pathsOf(eventLines(eventsPath))).toEqual(expectedPaths("after-removal", 3));

      renameSync(eventsPath, `${eventsPath}.moved`); // moved away, no signal
      await sleep(1500);
      await batch("after-move");
      expect(pathsOf(eventLines(eventsPath))).toEqual(expectedPaths("after-move", 3));
      expect(pathsOf(eventLines(`${eventsPath}.moved`))).toEqual(expectedPaths("after-removal", 3));

      renameSync(eventsPath, `${eventsPath}.rotated`); // logrotate: move, then SIGHUP
      capture.spawned.child.kill("SIGHUP");
      await sleep(300);
      await batch("after-hup");
      const { summary } = await stopCapture(capture);
      expect(pathsOf(eventLines(eventsPath))).toEqual(expectedPaths("after-hup", 3));
      expect(pathsOf(eventLines(`${eventsPath}.rotated`))).toEqual(expectedPaths("after-move", 3));
      expect(summary.requests.total).toBe(12);
      expect(summary.live?.eventsNotWritten).toBe(0);
    });
  });

  it("survives the captured interface going down and coming back: warns once, reopens it, counts the interruption", async () => {
    await inTestNetwork(async (network) => {
      const capture = await startCapture(network, join(network.directory, "events.ndjson"), ["-i", instanceVeth, "--attribution", "proc"]);
      await calls(network, "container", "before", 3);
      const interrupted = waitForLine(capture.spawned, `capture on ${instanceVeth} interrupted`, 10_000);
      ipInInstance(network, "link", "set", instanceVeth, "down");
      await interrupted;
      await sleep(2500); // several reopen attempts fail meanwhile: still one warning
      const resumed = waitForLine(capture.spawned, `capture on ${instanceVeth} resumed after`, 10_000);
      ipInInstance(network, "link", "set", instanceVeth, "up");
      await resumed;
      await calls(network, "container", "after", 3);
      await waitUntil("the calls after the interface came back", 10_000, () => eventLines(capture.eventsPath).length >= 6);
      const { summary, stderr } = await stopCapture(capture);

      expect(pathsOf(eventLines(capture.eventsPath))).toEqual([...expectedPaths("before", 3), ...expectedPaths("after", 3)]);
      // One warning line while it runs (the summary at the end lists it once more).
      expect(occurrences(stderr, `imds-analyzer: warning: capture on ${instanceVeth} interrupted`)).toBe(1);
      expect(summary.live?.interruptions?.count).toBe(1);
      expect(summary.live?.interruptions?.secondsDown).toBeGreaterThan(2);
      expect(summary.live?.interruptions?.lastError).toMatch(new RegExp(instanceVeth));
      expect(summary.diagnostics.warnings).toContainEqual(expect.objectContaining({ code: `capture-interrupted:${instanceVeth}`, count: 1 }));
      expect(summary.live?.packetsReceived).toBeGreaterThan(0);
    });
  });

  it("on 'any', an interface going down is no interruption at all", async () => {
    await inTestNetwork(async (network) => {
      const capture = await startCapture(network, join(network.directory, "events.ndjson"), ["-i", "any", "--attribution", "proc"]);
      await calls(network, "container", "before", 3);
      ipInInstance(network, "link", "set", instanceVeth, "down");
      await sleep(1500);
      ipInInstance(network, "link", "set", instanceVeth, "up");
      await sleep(500);
      await calls(network, "container", "after", 3);
      await waitUntil("the calls after the interface came back", 10_000, () => eventLines(capture.eventsPath).length >= 6);
      const { summary } = await stopCapture(capture);
      expect(pathsOf(eventLines(capture.eventsPath))).toEqual([...expectedPaths("before", 3), ...expectedPaths("after", 3)]);
      expect(summary.live?.interruptions?.count).toBe(0);
    });
  });

  it.each([
    ["2,000 requests on one keep-alive connection", "keepalive", 2000, 1],
    ["1,000 one-shot connections from one process", "oneshot", 1000, 1],
    ["300 curl processes", "curl", 300, 0],
  ] as const)("stops cleanly on SIGTERM in the middle of a burst (%s)", async (_, mode, count, delayMs) => {
    await inTestNetwork(async (network) => {
      const capture = await startCapture(network, join(network.directory, "events.ndjson"));
      const command =
        mode === "curl"
          ? ["/bin/bash", "-c", `for n in $(seq 0 ${count - 1}); do curl -s -o /dev/null -m 5 http://169.254.169.254${imdsPathPrefix}burst-$n || exit 1; done`]
          : clientCommand("burst", count, mode, delayMs);
      const client = network.spawn("instance", command);
      try {
        await waitUntil("the burst to be under way", 30_000, () => network.fakeImdsRequests().length >= Math.min(300, count / 3));
        const loggedBeforeSignal = network.fakeImdsRequests().length;
        expect(loggedBeforeSignal, "the burst was over before SIGTERM").toBeLessThan(count);
        const { summary, stopMs } = await stopCapture(capture, "SIGTERM", 5000);
        const clientResult = await client.done;
        expect(clientResult.code, clientResult.stderr).toBe(0);

        const events = eventLines(capture.eventsPath);
        const logged = pathsOf(network.fakeImdsRequests());
        expect(logged).toEqual(expectedPaths("burst", count));
        // Everything the server had answered before the signal was on the wire before it, and a
        // clean stop drains libpcap: all of it is there, and nothing the server did not get.
        expect(events.length).toBeGreaterThanOrEqual(loggedBeforeSignal);
        expect(events.length).toBeLessThan(count);
        expect(pathsOf(events)).toEqual(logged.slice(0, events.length));
        expect(summary.requests.total).toBe(events.length);
        expect(summary.live?.eventsNotWritten).toBe(0);
        expect(summary.live?.packetsDroppedByKernel).toBe(0);
        expect(stopMs).toBeLessThan(5000);
      } finally {
        if (client.child.exitCode === null) client.child.kill("SIGTERM");
      }
    });
  });

  it("records a one-shot client that exits at once, whether or not /proc still had it (--attribution proc)", async () => {
    await inTestNetwork(async (network) => {
      const capture = await startCapture(network, join(network.directory, "events.ndjson"), ["--attribution", "proc"]);
      // Sends its request and exits without waiting for the answer.
      const script = [
        "import socket, os",
        "s = socket.create_connection(('169.254.169.254', 80), timeout=5)",
        "s.sendall(b'GET /latest/meta-data/gone HTTP/1.1\\r\\nHost: 169.254.169.254\\r\\n\\r\\n')",
        "os._exit(0)",
      ].join("\n");
      const gone = await network.run("instance", ["/usr/bin/python3", "-c", script], 20_000);
      expect(gone.code, gone.stderr).toBe(0);
      await waitUntil("the event of the exited client", 10_000, () => eventLines(capture.eventsPath).length >= 1);
      const { summary } = await stopCapture(capture);
      const [event, ...rest] = eventLines(capture.eventsPath);
      expect(rest).toEqual([]);
      expect(event).toMatchObject({ kind: "v1", path: "/latest/meta-data/gone" });
      const attribution = event!.attribution!;
      expect(attribution.method).toBe("proc");
      if (attribution.status === "ok") {
        expect(event!.process?.pid).toBe(gone.pid);
      } else {
        expect(attribution.status).toBe("failed");
        expect(["process-exited", "socket-not-found"]).toContain(attribution.reason);
        expect(event!.process).toBeNull();
      }
      expect(summary.live?.attribution.connections).toBe(1);
    });
  });
});
