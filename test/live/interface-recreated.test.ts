/**
 * A live capture on a named interface that is deleted and created again under the same name, as
 * when a container is recreated, end to end as root: the built CLI (test/helpers/cli.ts, `npm run build`
 * first) captures `-i veth-ctr0` in a test namespace while the "container" calls the fake IMDS
 * through that veth, and the test deletes the veth pair and makes it again (new ifindexes). The
 * kernel tells a packet socket bound to an interface that is going away (ENETDOWN, a poll error);
 * the capture must say so once, reopen the NAME (not stay bound to the dead ifindex), say once
 * that it resumed, number the frames on, count one interruption and exit 0.
 * Every loop is bounded in count and time; only processes started here are stopped.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { eventLines, expectedPaths, imdsPathPrefix, inTestNetwork, ipInInstance, occurrences, startCapture, stopCapture, waitUntil } from "../helpers/live-capture.js";
import type { Capture } from "../helpers/live-capture.js";
import { shouldSkipLiveTests, waitForLine } from "../helpers/netns.js";
import type { Spawned, TestNetwork } from "../helpers/netns.js";

const skip = shouldSkipLiveTests();
/** The veth end in the instance namespace, the one captured. */
const instanceVeth = "veth-ctr0";
/** Linux errno the kernel leaves on a packet socket whose interface goes down. */
const enetdown = 100;

/** A bounded client: COUNT GET requests to /latest/meta-data/PREFIX-N, one connection each, 60 s at most. */
const clientScript = `
import sys, time, http.client
prefix, count = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
for n in range(count):
    if time.time() > deadline:
        break
    connection = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
    connection.request("GET", "${imdsPathPrefix}%s-%d" % (prefix, n))
    connection.getresponse().read()
    connection.close()
`;

/** Runs the bounded client in the container namespace to its end. */
async function containerCalls(network: TestNetwork, prefix: string, count: number): Promise<void> {
  const result = await network.run("container", ["/usr/bin/python3", "-c", clientScript, prefix, String(count)], 90_000);
  expect(result.code, result.stderr).toBe(0);
}

async function waitForEvents(capture: Capture, count: number): Promise<void> {
  await waitUntil(`${count} events`, 15_000, () => eventLines(capture.eventsPath).length >= count, () => `capture stderr: ${capture.spawned.stderr()}`);
}

/**
 * waitForLine, to be awaited later: waiting for two lines at once, the second must not become an
 * unhandled rejection when the test already fails on the first.
 */
function lineToCome(spawned: Spawned, text: string): Promise<void> {
  const line = waitForLine(spawned, text, 10_000);
  line.catch(() => undefined);
  return line;
}

/** The interface's current ifindex in the instance namespace (a recreated one gets a new one). */
function instanceIfindex(network: TestNetwork): number {
  const result = spawnSync("ip", ["netns", "exec", network.instance, "cat", `/sys/class/net/${instanceVeth}/ifindex`], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) throw new Error(`reading the ifindex of ${instanceVeth} failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/**
 * Reads (and so clears) the pending error of the capture's packet socket from outside, through a
 * duplicate of its descriptor (pidfd_getfd): the kernel then has nothing left to tell the
 * capture, as when libpcap itself read the error inside a read. Returns the errno it held.
 */
const takeSocketErrorScript = `
import ctypes, os, socket, sys
pid = int(sys.argv[1])
with open(f"/proc/{pid}/net/packet") as table:
    inodes = {line.split()[-1] for line in list(table)[1:]}
targets = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}") in {f"socket:[{inode}]" for inode in inodes}]
if len(targets) != 1:
    sys.exit(f"expected one packet socket in {pid}, found {targets}")
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
fd = libc.syscall(438, pidfd, targets[0], 0)  # pidfd_getfd
if fd < 0:
    sys.exit(f"pidfd_getfd failed: {os.strerror(ctypes.get_errno())}")
duplicate = socket.socket(fileno=fd)
print(duplicate.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
duplicate.close()
os.close(pidfd)
`;

function takeCaptureSocketError(capture: Capture): number {
  const result = spawnSync("/usr/bin/python3", ["-c", takeSocketErrorScript, String(capture.spawned.pid)], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) throw new Error(`reading the capture socket's error failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/** What every recreation must leave behind: the calls in order, numbered on, one interruption. */
function expectOneInterruption(events: readonly ImdsEvent[], summary: AnalysisSummary, stderr: string): void {
  expect(events.map((event) => event.path)).toEqual([...expectedPaths("before", 3), ...expectedPaths("after", 3)]);
  // The reopened capture numbers frames on from the first one: never back to 1.
  const frames = events.map((event) => event.frame);
  for (let index = 1; index < frames.length; index++) expect(frames[index]!).toBeGreaterThan(frames[index - 1]!);
  expect(occurrences(stderr, `imds-analyzer: warning: capture on ${instanceVeth} interrupted`)).toBe(1);
  expect(occurrences(stderr, `capture on ${instanceVeth} resumed after`)).toBe(1);
  expect(stderr).not.toMatch(/uncaught|TypeError|RangeError|at .*\.js:\d+/i);
  expect(summary.requests.total).toBe(6);
  expect(summary.live?.interruptions?.count).toBe(1);
  expect(summary.diagnostics.warnings).toContainEqual(expect.objectContaining({ code: `capture-interrupted:${instanceVeth}`, count: 1 }));
}

/** Captures on the instance end of the veth pair, attributing through /proc. */
function startOnVeth(network: TestNetwork): Promise<Capture> {
  return startCapture(network, join(network.directory, "events.ndjson"), ["-i", instanceVeth, "--attribution", "proc"]);
}

/**
 * Calls before; then, with the capture stopped (SIGSTOP), `whileStopped` recreates the interface;
 * on SIGCONT the capture must notice, reopen and take the calls after. Checks what every
 * recreation leaves behind; returns the interruption's error and the ifindexes before and after.
 */
async function recreatedWhileStopped(
  network: TestNetwork,
  whileStopped: (capture: Capture) => void,
): Promise<{ lastError: string | null | undefined; ifindexBefore: number; ifindexAfter: number }> {
  const capture = await startOnVeth(network);
  await containerCalls(network, "before", 3);
  await waitForEvents(capture, 3);
  const ifindexBefore = instanceIfindex(network);
  const interrupted = lineToCome(capture.spawned, `capture on ${instanceVeth} interrupted`);
  const resumed = lineToCome(capture.spawned, `capture on ${instanceVeth} resumed after`);
  capture.spawned.child.kill("SIGSTOP");
  try {
    whileStopped(capture);
  } finally {
    capture.spawned.child.kill("SIGCONT");
  }
  const ifindexAfter = instanceIfindex(network);
  expect(ifindexAfter).not.toBe(ifindexBefore);
  await interrupted;
  await resumed;
  await containerCalls(network, "after", 3);
  await waitForEvents(capture, 6);
  const { summary, stderr } = await stopCapture(capture);
  expectOneInterruption(eventLines(capture.eventsPath), summary, stderr);
  return { lastError: summary.live?.interruptions?.lastError, ifindexBefore, ifindexAfter };
}

describe.skipIf(skip)("live capture on an interface deleted and created again (root, test namespaces, built CLI)", () => {
  it("notices the deletion, waits for the name to come back, reopens the new interface and numbers on", async () => {
    await inTestNetwork(async (network) => {
      const capture = await startOnVeth(network);
      await containerCalls(network, "before", 3);
      await waitForEvents(capture, 3);
      const ifindexBefore = instanceIfindex(network);

      const interrupted = lineToCome(capture.spawned, `capture on ${instanceVeth} interrupted`);
      network.deleteContainerLink();
      await interrupted;
      await sleep(2500); // the name does not exist meanwhile: several reopen attempts fail, quietly
      const resumed = lineToCome(capture.spawned, `capture on ${instanceVeth} resumed after`);
      network.createContainerLink();
      expect(instanceIfindex(network)).not.toBe(ifindexBefore);
      await resumed;

      await containerCalls(network, "after", 3);
      await waitForEvents(capture, 6);
      const { summary, stderr } = await stopCapture(capture);

      expectOneInterruption(eventLines(capture.eventsPath), summary, stderr);
      expect(summary.live?.interruptions?.secondsDown).toBeGreaterThan(2);
      // The kernel reports ENETDOWN when the deletion takes the interface down, a moment before
      // the name is gone: a capture that wakes in between cannot tell it from "down".
      expect([`${instanceVeth} no longer exists (Network is down)`, `waiting for packets on ${instanceVeth} failed: Network is down`]).toContain(
        summary.live?.interruptions?.lastError,
      );
    });
  });

  it("delivers the calls captured just before the deletion, before it reports the interruption", async () => {
    await inTestNetwork(async (network) => {
      const capture = await startOnVeth(network);
      await containerCalls(network, "before", 3);
      await waitForEvents(capture, 3);

      // While the capture is stopped, the kernel keeps capturing into its ring; then the
      // interface goes away. On SIGCONT the socket is readable AND has an error: what is in the
      // ring must still be delivered (the last calls of a container that is being removed).
      const interrupted = lineToCome(capture.spawned, `capture on ${instanceVeth} interrupted`);
      capture.spawned.child.kill("SIGSTOP");
      try {
        await containerCalls(network, "last", 3);
        await sleep(100); // the ring hands its block over (RING_BLOCK_TIMEOUT_MS is 20 ms)
        network.deleteContainerLink();
      } finally {
        capture.spawned.child.kill("SIGCONT");
      }
      await interrupted;
      await waitForEvents(capture, 6);
      const resumed = lineToCome(capture.spawned, `capture on ${instanceVeth} resumed after`);
      network.createContainerLink();
      await resumed;
      await containerCalls(network, "after", 3);
      await waitForEvents(capture, 9);
      const { summary, stderr } = await stopCapture(capture);

      const events = eventLines(capture.eventsPath);
      expect(events.map((event) => event.path)).toEqual([...expectedPaths("before", 3), ...expectedPaths("last", 3), ...expectedPaths("after", 3)]);
      expect(occurrences(stderr, `imds-analyzer: warning: capture on ${instanceVeth} interrupted`)).toBe(1);
      expect(summary.requests.total).toBe(9);
      expect(summary.live?.interruptions?.count).toBe(1);
      expect(summary.live?.interruptions?.lastError).toBe(`${instanceVeth} no longer exists (Network is down)`);
    });
  });

  it("does not stay bound to the dead ifindex when the interface is deleted and created again before the capture could look", async () => {
    await inTestNetwork(async (network) => {
      // Stopped, the capture cannot run between the deletion and the recreation: when it runs
      // again the name already stands for another interface.
      const { lastError, ifindexBefore, ifindexAfter } = await recreatedWhileStopped(network, () => {
        network.deleteContainerLink();
        network.createContainerLink();
      });
      expect(lastError).toBe(`${instanceVeth} was replaced by another interface of that name (ifindex ${ifindexBefore}, now ${ifindexAfter}; Network is down)`);
    });
  });

  it("notices a recreated interface even when the socket has no error left to report (periodic check)", async () => {
    await inTestNetwork(async (network) => {
      // Down (the kernel leaves ENETDOWN on the socket), the error taken away, then deleted while
      // down (no second error: a down interface is not taken down again) and created again: the
      // socket is bound to an index that is gone and will never say so.
      const { lastError, ifindexBefore, ifindexAfter } = await recreatedWhileStopped(network, (capture) => {
        ipInInstance(network, "link", "set", instanceVeth, "down");
        expect(takeCaptureSocketError(capture)).toBe(enetdown);
        network.deleteContainerLink();
        network.createContainerLink();
        expect(takeCaptureSocketError(capture)).toBe(0);
      });
      expect(lastError).toBe(
        `${instanceVeth} was replaced by another interface of that name (ifindex ${ifindexBefore}, now ${ifindexAfter}; the capture socket reported no error)`,
      );
    });
  });
});
