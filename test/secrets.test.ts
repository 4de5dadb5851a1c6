/**
 * Secret-leak test (DESIGN.md: "token values, credential bodies and user-data are never written
 * anywhere"). Every golden capture (and captures/hostile/ when present) goes through every
 * command and output of the built CLI, and every byte written (stdout, stderr, each file) is
 * searched for the secrets the fake IMDS handed out: its marked credentials (AccessKeyId
 * ASIAFAKEIMDSANALYZER, SecretAccessKey and Token starting FAKESECRET), its user-data
 * (FAKEUSERDATA), and the token values themselves, read out of the capture bytes. The markers are
 * first shown to be in the captures, so the test can fail.
 *
 * The live part captures in a test network namespace while curl fetches credentials and
 * user-data with the token on its command line: the secrets must be in the --write-pcap file
 * (expected, mode 0600) and nowhere else, and the token never in an event's command line. The
 * same capture checks what the process keeps after start: only the capabilities it reports.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../src/events.js";
import { credentialsOf, eventLines, keepAliveClientScript, keptCapabilityMask } from "./helpers/live-capture.js";
import { shouldSkipLiveTests, TestNetwork, waitForLine } from "./helpers/netns.js";
import { makeTempDir } from "./helpers/temp-dir.js";
import { cliPath as cli } from "./helpers/cli.js";

const root = join(import.meta.dirname, "..");
const capturesDirectory = join(root, "captures");
const hostileDirectory = join(capturesDirectory, "hostile");

/** Markers the fake IMDS (test/fake-imds/fake-imds.mjs) puts in what it hands out. */
const markers = {
  accessKeyId: "ASIAFAKEIMDSANALYZER",
  secretPrefix: "FAKESECRET",
  userData: "FAKEUSERDATA",
} as const;
/** A leak of any run this long of a secret counts (a cut or re-wrapped secret still leaks). */
const leakWindowChars = 20;

const captureExtensions = /\.(pcap|pcapng|cap)(\.gz)?$/i;

/** A capture's bytes as the analyzer reads them (gzip undone). */
function captureBytes(path: string): Buffer {
  const raw = readFileSync(path);
  return path.endsWith(".gz") ? gunzipSync(raw) : raw;
}

function capturesIn(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => captureExtensions.test(name))
    .sort()
    .map((name) => join(directory, name));
}

/**
 * The secret values in a capture's bytes: the marked credential values (full length), the
 * user-data marker, the tokens the fake IMDS issued ("AQAEA" + 52 base64url + "=="; found in
 * token PUT responses) and every value sent in an X-aws-ec2-metadata-token header (exactly that
 * name: not the -ttl-seconds one).
 */
function secretsIn(bytes: Buffer): { values: Set<string>; kinds: Record<"accessKeyId" | "fakeSecret" | "userData" | "issuedToken" | "tokenHeader", number> } {
  const text = bytes.toString("latin1");
  const values = new Set<string>();
  const kinds = { accessKeyId: 0, fakeSecret: 0, userData: 0, issuedToken: 0, tokenHeader: 0 };
  if (text.includes(markers.accessKeyId)) {
    values.add(markers.accessKeyId);
    kinds.accessKeyId++;
  }
  for (const match of text.matchAll(/FAKESECRET[A-Za-z0-9]+/g)) {
    values.add(match[0]);
    kinds.fakeSecret++;
  }
  if (text.includes(markers.userData)) {
    values.add(markers.userData);
    kinds.userData++;
  }
  for (const match of text.matchAll(/AQAEA[A-Za-z0-9_-]{52}==/g)) {
    values.add(match[0]);
    kinds.issuedToken++;
  }
  for (const match of text.matchAll(/x-aws-ec2-metadata-token[ \t]*:[ \t]*([^\r\n]+)/gi)) {
    const value = match[1]!.trim();
    if (value.length > 0) {
      values.add(value);
      kinds.tokenHeader++;
    }
  }
  return { values, kinds };
}

/** Characters of tokens and keys (base64url, base64 without "/"): secrets are searched in runs of these. */
const secretAlphabetRun = /[A-Za-z0-9+=_-]{20,}/g;
const secretAlphabetOnly = /^[A-Za-z0-9+=_-]+$/;

/**
 * Every secret found in `output`: the markers anywhere, a short secret anywhere, and any
 * leakWindowChars-long piece of a longer one (a cut or re-wrapped secret still leaks). Pieces are
 * looked up only inside runs of the secret alphabet, which keeps a 100 MB output cheap to search.
 */
function leaksIn(output: string, secrets: ReadonlySet<string>): string[] {
  const found: string[] = [];
  for (const marker of Object.values(markers)) if (output.includes(marker)) found.push(marker);
  const windows = new Set<string>();
  for (const secret of secrets) {
    if (secret.length <= leakWindowChars || !secretAlphabetOnly.test(secret)) {
      if (output.includes(secret)) found.push(secret);
      continue;
    }
    for (let start = 0; start + leakWindowChars <= secret.length; start++) windows.add(secret.slice(start, start + leakWindowChars));
  }
  if (windows.size === 0) return found;
  for (const run of output.matchAll(secretAlphabetRun)) {
    const text = run[0];
    for (let start = 0; start + leakWindowChars <= text.length; start++) {
      const window = text.slice(start, start + leakWindowChars);
      if (windows.has(window)) {
        found.push(window);
        return found;
      }
    }
  }
  return found;
}

interface Run {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: readonly string[], timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ args, code, stdout: Buffer.concat(stdout).toString("latin1"), stderr: Buffer.concat(stderr).toString("latin1") });
    });
  });
}

/** All files under `directory` (outputs only live there), as latin1 text, by name. */
function filesUnder(directory: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(directory).sort()) files.set(name, readFileSync(join(directory, name)).toString("latin1"));
  return files;
}

const topLevelCaptures = capturesIn(capturesDirectory);

function cutBySnaplen(capturePath: string): boolean {
  const expectedPath = capturePath.replace(/\.(pcap|pcapng)(\.gz)?$/, ".expected.json");
  return existsSync(expectedPath) && typeof (JSON.parse(readFileSync(expectedPath, "utf8")) as { snaplen?: unknown }).snaplen === "number";
}
const hostileCaptures = capturesIn(hostileDirectory);
const outputRoot = makeTempDir("imds-secrets-");

describe("secret-leak test: captures through every command and output format", () => {
  it("the golden captures hold the fake IMDS's secrets (so this test can fail)", () => {
    expect(topLevelCaptures.length).toBeGreaterThanOrEqual(11);
    const totals = { accessKeyId: 0, fakeSecret: 0, userData: 0, issuedToken: 0, tokenHeader: 0 };
    for (const capture of topLevelCaptures) {
      const { values, kinds } = secretsIn(captureBytes(capture));
      // Every golden capture has at least a token header value in it, but one cut by a small
      // snaplen (its expected file says so), which holds no header at all.
      if (!cutBySnaplen(capture)) expect(values.size, capture).toBeGreaterThan(0);
      for (const kind of Object.keys(totals) as (keyof typeof totals)[]) totals[kind] += kinds[kind];
    }
    expect(totals.accessKeyId).toBeGreaterThanOrEqual(8);
    expect(totals.fakeSecret).toBeGreaterThanOrEqual(16);
    expect(totals.userData).toBeGreaterThanOrEqual(1);
    expect(totals.issuedToken).toBeGreaterThanOrEqual(10);
    expect(totals.tokenHeader).toBeGreaterThanOrEqual(20);
    // The search itself finds them: a capture's own bytes leak every one of its secrets.
    const withCredentials = readFileSync(join(capturesDirectory, "awscli1-token-v2-lo.pcap"));
    const { values } = secretsIn(withCredentials);
    expect(leaksIn(withCredentials.toString("latin1"), values)).toContain(markers.accessKeyId);
    expect([...values].some((value) => value.startsWith("FAKESECRET") && value.length > 1000)).toBe(true);
  });

  const cases: [string, string][] = [...topLevelCaptures, ...hostileCaptures].map((path) => [path.slice(capturesDirectory.length + 1), path]);
  it.for<[string, string]>(cases)(
    "%s: no secret in stdout, stderr or any file written",
    // The largest hostile captures give 100+ MB of events per run.
    { timeout: 300_000 },
    async ([name, capture]) => {
      const hostile = name.startsWith("hostile/");
      const { values: secrets } = secretsIn(captureBytes(capture));
      const directory = join(outputRoot, name.replace(/[/]/g, "_"));
      mkdirSync(directory);
      const out = (file: string): string => join(directory, file);
      const analyzeRuns = await Promise.all([
        runCli(["analyze", capture, "--report", out("analyze-report.md")]),
        runCli(["analyze", capture, "--events", out("events.ndjson"), "--summary-json", out("summary.json"), "--report", out("analyze-report.json")]),
        // Events to /dev/null: a device is written as it is (not chmod-ed, not refused).
        runCli(["analyze", capture, "--quiet", "--events", "/dev/null", "--report", out("analyze-report.html")]),
      ]);
      const reportRuns = await Promise.all([
        ...(["markdown", "json", "html"] as const).map((format) => runCli(["report", "--format", format, out("events.ndjson"), out("summary.json")])),
        runCli(["report", "--format", "html", "-o", out("report.html"), out("events.ndjson")]),
        runCli(["report", "--format", "json", "-o", out("report.json"), out("events.ndjson"), out("summary.json")]),
      ]);
      const runs = [...analyzeRuns, ...reportRuns];
      if (!hostile) {
        for (const run of runs) expect(run.code, `${run.args.join(" ")}\n${run.stderr}`).toBe(0);
        // The outputs are real: events on stdout (first run) equal the --events file.
        const events = readFileSync(out("events.ndjson"), "latin1");
        expect(events.length).toBeGreaterThan(0);
        expect(analyzeRuns[0].stdout).toBe(events);
        expect(analyzeRuns[0].stderr).toContain("IMDS requests:");
      }
      const files = filesUnder(directory);
      expect([...files.keys()]).toEqual(
        hostile && runs.some((run) => run.code !== 0)
          ? [...files.keys()]
          : ["analyze-report.html", "analyze-report.json", "analyze-report.md", "events.ndjson", "report.html", "report.json", "summary.json"],
      );
      for (const [file, text] of files) {
        expect(statSync(join(directory, file)).mode & 0o777, file).toBe(0o600);
        expect(leaksIn(text, secrets), `${name}: ${file}`).toEqual([]);
      }
      for (const run of runs) {
        expect(leaksIn(run.stdout, secrets), `${name}: stdout of ${run.args.join(" ")}`).toEqual([]);
        expect(leaksIn(run.stderr, secrets), `${name}: stderr of ${run.args.join(" ")}`).toEqual([]);
      }
    },
  );
});

const roleName = "imds-analyzer-test-role";

describe.skipIf(shouldSkipLiveTests())("live capture (root, test namespace): secrets only in --write-pcap; only the kept capabilities", () => {
  it("keeps CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH on every thread, still attributes curl, and writes no secret but to the pcap", async () => {
    const network = TestNetwork.create();
    try {
      await network.startFakeImds("optional");
      const out = (file: string): string => join(network.directory, file);
      const capture = network.spawn("instance", [
        process.execPath, cli, "capture", "-i", "any", "--events", out("events.ndjson"), "--summary-json", out("summary.json"),
        "--report", out("report.md"), "--write-pcap", out("saved.pcap"), "--duration", "120s",
      ]);
      await waitForLine(capture, "events go to", 20_000);

      // What the capture process holds now, on its main thread and on every other one.
      const expected = { CapInh: 0n, CapPrm: keptCapabilityMask, CapEff: keptCapabilityMask, CapBnd: keptCapabilityMask, CapAmb: 0n, NoNewPrivs: 1n };
      expect(credentialsOf(`/proc/${capture.pid}/status`)).toEqual(expected);
      const threads = readdirSync(`/proc/${capture.pid}/task`);
      expect(threads.length).toBeGreaterThan(4);
      for (const thread of threads) expect(credentialsOf(`/proc/${capture.pid}/task/${thread}/status`), `thread ${thread}`).toEqual(expected);

      const inInstance = (command: string[]) => network.run("instance", ["env", "-i", "PATH=/usr/bin:/bin", ...command], 30_000);
      const tokenPut = await inInstance(["curl", "-sS", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token"]);
      const token = tokenPut.stdout.trim();
      expect(token).toMatch(/^AQAEA[A-Za-z0-9_-]{52}==$/);
      const credentialsUrl = `http://169.254.169.254/latest/meta-data/iam/security-credentials/${roleName}`;
      const withToken = await inInstance(["curl", "-sS", "-H", `X-aws-ec2-metadata-token: ${token}`, credentialsUrl]);
      const userData = await inInstance(["curl", "-sS", "-H", `X-aws-ec2-metadata-token:${token}`, "http://169.254.169.254/latest/user-data"]);
      const withoutToken = await inInstance(["curl", "-sS", credentialsUrl]);
      for (const done of [tokenPut, withToken, userData, withoutToken]) expect(done.code, done.stderr).toBe(0);
      const credentials = JSON.parse(withToken.stdout) as { AccessKeyId: string; SecretAccessKey: string; Token: string };
      expect(credentials.AccessKeyId).toBe(markers.accessKeyId);
      expect(credentials.SecretAccessKey.startsWith(markers.secretPrefix)).toBe(true);
      expect(userData.stdout).toContain(markers.userData);
      const secondCredentials = JSON.parse(withoutToken.stdout) as { SecretAccessKey: string; Token: string };
      const secrets = new Set([token, credentials.AccessKeyId, credentials.SecretAccessKey, credentials.Token, secondCredentials.SecretAccessKey, secondCredentials.Token, markers.userData]);

      capture.child.kill("SIGINT");
      const result = await capture.done;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain("privileges: kept only CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE (attribution reads other processes' /proc entries), no new privileges\n");

      // The saved packets hold every secret (expected: that is what --write-pcap is), mode 0600.
      const saved = readFileSync(out("saved.pcap")).toString("latin1");
      for (const secret of secrets) expect(saved.includes(secret), secret.slice(0, 24)).toBe(true);
      // Nothing else does: not the events, summary, report, stdout or stderr.
      const files = filesUnder(network.directory);
      expect([...files.keys()].filter((name) => name !== "fake-imds.ndjson")).toEqual(["events.ndjson", "report.md", "saved.pcap", "summary.json"]);
      for (const [name, text] of files) {
        if (name === "fake-imds.ndjson") continue;
        expect(statSync(out(name)).mode & 0o777, name).toBe(0o600);
        if (name !== "saved.pcap") expect(leaksIn(text, secrets), name).toEqual([]);
      }
      expect(leaksIn(result.stdout, secrets)).toEqual([]);
      expect(leaksIn(result.stderr, secrets)).toEqual([]);

      // Attribution still works after the drop; the token on curl's command line is redacted.
      const events = files.get("events.ndjson")!.split("\n").filter(Boolean).map((line) => JSON.parse(line) as ImdsEvent);
      expect(events).toHaveLength(4);
      const ofPid = (pid: number): ImdsEvent | undefined => events.find((event) => event.process?.pid === pid);
      expect(ofPid(tokenPut.pid)).toMatchObject({ kind: "token-request", status: 200 });
      expect(ofPid(withToken.pid)).toMatchObject({ kind: "v2", status: 200, path: `/latest/meta-data/iam/security-credentials/${roleName}` });
      expect(ofPid(withToken.pid)!.process).toMatchObject({ comm: "curl", cmdline: ["curl", "-sS", "-H", "X-aws-ec2-metadata-token: <redacted>", credentialsUrl] });
      expect(ofPid(userData.pid)!.process?.cmdline).toEqual(["curl", "-sS", "-H", "X-aws-ec2-metadata-token:<redacted>", "http://169.254.169.254/latest/user-data"]);
      expect(ofPid(withoutToken.pid)).toMatchObject({ kind: "v1", status: 200 });
      for (const event of events) expect(["ok", "partial"]).toContain(event.attribution?.status);
      // /proc enrichment needs the kept CAP_SYS_PTRACE: the executable path of a root client.
      expect(events.some((event) => event.process?.exe === "/usr/bin/curl")).toBe(true);

      const summary = JSON.parse(files.get("summary.json")!) as { live: { capabilities: unknown } };
      expect(summary.live.capabilities).toEqual({ kept: ["CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"], threadsNotDropped: 0, problem: null });
    } finally {
      await network.close();
    }
  });

  it("after the drop, /proc attribution still finds a caller of another user (what CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE are kept for)", async () => {
    const network = TestNetwork.create();
    try {
      await network.startFakeImds("optional");
      const eventsPath = join(network.directory, "events.ndjson");
      const capture = network.spawn("instance", [process.execPath, cli, "capture", "-i", "any", "--attribution", "proc", "--events", eventsPath, "--duration", "120s"]);
      await waitForLine(capture, "events go to", 20_000);
      expect(credentialsOf(`/proc/${capture.pid}/status`).CapEff).toBe(keptCapabilityMask);
      // One keep-alive connection, requests 300 ms apart: long enough for the /proc socket lookup,
      // which must list the fd directory (mode 0500, owned by nobody) of a process of uid 65534.
      const python = await network.run("instance", ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c", keepAliveClientScript], 30_000);
      expect(python.code, python.stderr).toBe(0);
      capture.child.kill("SIGINT");
      const result = await capture.done;
      expect(result.code, result.stderr).toBe(0);
      const events = eventLines(eventsPath);
      const fromPython = events.filter((event) => event.process?.pid === python.pid);
      expect(fromPython).toHaveLength(3);
      expect(fromPython[0]!.attribution).toEqual({ method: "proc", status: "ok", reason: null });
      expect(fromPython[0]!.process).toMatchObject({ comm: "python3", uid: 65534, exe: "/usr/bin/python3.11" });
    } finally {
      await network.close();
    }
  });

  it("refuses --write-pcap and --events through a symbolic link in a sticky world-writable directory: one line, exit 1", async () => {
    const network = TestNetwork.create();
    try {
      const shared = join(network.directory, "shared-tmp");
      mkdirSync(shared);
      chmodSync(shared, 0o1777);
      const victim = join(network.directory, "victim");
      writeFileSync(victim, "precious\n", { mode: 0o600 });
      const trap = join(shared, "trap");
      symlinkSync(victim, trap);
      for (const args of [["--write-pcap", trap, "--events", join(network.directory, "events.ndjson")], ["--events", trap]]) {
        const result = await network.run("instance", [process.execPath, cli, "capture", "-i", "any", "--duration", "5s", ...args], 30_000);
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toBe(
          `imds-analyzer: ${trap}: refusing to write through the symbolic link ${trap} in the world-writable directory ${shared} (another user could point it at any file); give the real path\n`,
        );
        expect(readFileSync(victim, "utf8")).toBe("precious\n");
      }
    } finally {
      await network.close();
    }
  });
});
