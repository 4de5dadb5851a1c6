/**
 * The SSM document's script end to end, as the agent runs it: rendered from the document with its
 * parameters (test/deploy/ssm-document.ts), written to a file and run with `sh -c FILE` as root in
 * a test network namespace whose IMDS is the fake one. The S3 it talks to is s3rver in that same
 * namespace, reached by Debian's AWS CLI (/usr/bin/aws) with dummy keys and --endpoint-url; the
 * namespace has no route out, so nothing here can reach real AWS or the real IMDS. The executable
 * is the current release's (npm run package), fetched from the local S3 by the script itself; a
 * real curl makes an IMDSv1 call while it captures. Then the bucket is read back: keys in the
 * Athena table's layout (host=INSTANCE/dt=DAY), the events (the curl's among them), the summary,
 * the report, and the documented queries run by DuckDB over the downloaded tree.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import type { AnalysisSummary } from "../../src/summary.js";
import { cliPath } from "../helpers/cli.js";
import { shouldSkipLiveTests, TestNetwork, waitForLine } from "../helpers/netns.js";
import type { Spawned } from "../helpers/netns.js";
import { repositoryRoot } from "../helpers/packed-package.js";
import { ensureRelease, executablePath, releaseDirectory } from "../helpers/release.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { loadDocument, renderScript } from "./ssm-document.js";

const skipLive = shouldSkipLiveTests();
const s3ServerScript = join(import.meta.dirname, "s3-server.mjs");
const bucket = "fleet-bucket";
const executableKey = "tools/imds-analyzer-linux-x64";
const resultsPrefix = `s3://${bucket}/imds-analyzer`;
/** What the fake IMDS answers for instance-id (test/fake-imds/fake-imds.mjs). */
const fakeInstanceId = "i-0123456789abcdef0";
const document = loadDocument();

/** The environment the AWS CLI runs with here: dummy keys, no IMDS of its own, no user config. */
function awsEnvironment(home: string): NodeJS.ProcessEnv {
  return {
    // Debian's AWS CLI (/usr/bin/aws), not another one earlier on this machine's PATH.
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: home,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: join(home, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-aws-credentials"),
    AWS_PAGER: "",
  };
}

class LocalS3 {
  private constructor(
    readonly network: TestNetwork,
    readonly server: Spawned,
    readonly endpointUrl: string,
    readonly home: string,
  ) {}

  /** s3rver in the network's instance namespace, on its loopback, with `bucket` made. */
  static async start(network: TestNetwork): Promise<LocalS3> {
    const directory = makeTempDir("imds-s3-");
    const server = network.spawn("instance", [process.execPath, s3ServerScript, "--directory", join(directory, "objects"), "--bucket", bucket]);
    let output = "";
    server.child.stdout?.on("data", (chunk: Buffer) => { output += chunk.toString("utf8"); });
    await waitForLine(server, "ready", 20_000);
    const port = /listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    if (port === undefined) throw new Error("s3rver said no port");
    return new LocalS3(network, server, `http://127.0.0.1:${port}`, directory);
  }

  /** Runs Debian's AWS CLI against this server, in the namespace; throws with its output when it fails. */
  async aws(args: readonly string[]): Promise<string> {
    const spawned = this.network.spawn("instance", ["/usr/bin/aws", "--endpoint-url", this.endpointUrl, ...args], { env: awsEnvironment(this.home) });
    const timer = setTimeout(() => spawned.child.kill("SIGKILL"), 240_000);
    const result = await spawned.done;
    clearTimeout(timer);
    if (result.code !== 0) throw new Error(`aws ${args.join(" ")} failed (${String(result.code)}): ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  /** Every key in the bucket under `prefix`. */
  async keys(prefix: string): Promise<string[]> {
    const listing = JSON.parse((await this.aws(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix])) || "{}") as { Contents?: { Key: string }[] };
    return (listing.Contents ?? []).map((object) => object.Key).sort();
  }
}

interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly workRoot: string;
}

/**
 * Runs the document's script for `parameters` the way the agent does (a file run by `sh -c`, as
 * root, in the instance namespace), with the test's endpoint and work directory. `whileCapturing`
 * runs once the capture says where its events go.
 */
async function runDocument(
  s3: LocalS3,
  parameters: Record<string, string>,
  whileCapturing?: () => Promise<void>,
  environment: Readonly<Record<string, string | undefined>> = {},
): Promise<ScriptRun> {
  const directory = makeTempDir("imds-ssm-run-");
  const scriptFile = join(directory, "_script.sh");
  writeFileSync(scriptFile, renderScript(document, parameters));
  chmodSync(scriptFile, 0o700);
  const workRoot = join(directory, "work");
  const spawned = s3.network.spawn("instance", ["sh", "-c", scriptFile], {
    cwd: directory,
    env: { ...awsEnvironment(s3.home), IMDS_ANALYZER_S3_ENDPOINT_URL: s3.endpointUrl, IMDS_ANALYZER_WORK_ROOT: workRoot, ...environment },
  });
  const timer = setTimeout(() => spawned.child.kill("SIGKILL"), 240_000);
  try {
    if (whileCapturing !== undefined) {
      await waitForLine(spawned, "events go to", 180_000);
      await whileCapturing();
    }
    const result = await spawned.done;
    return { ...result, workRoot };
  } finally {
    clearTimeout(timer);
  }
}

/** A one-shot curl in the instance namespace asking IMDS for the instance id with IMDSv1; its pid. */
async function curlInstanceIdWithV1(network: TestNetwork): Promise<number> {
  const spawned = network.spawn("instance", ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://169.254.169.254/latest/meta-data/instance-id"]);
  const done = await spawned.done;
  expect(done.code, done.stderr).toBe(0);
  return spawned.pid;
}

function releaseSha256(): string {
  const line = readFileSync(join(releaseDirectory, "SHA256SUMS"), "utf8").split("\n").find((entry) => entry.endsWith("  imds-analyzer-linux-x64"));
  if (line === undefined) throw new Error("SHA256SUMS lists no imds-analyzer-linux-x64");
  return line.slice(0, 64);
}

/** The fake IMDS's log entries made by the script itself (its curl says imds-analyzer-ssm). */
function scriptImdsRequests(network: TestNetwork): Record<string, unknown>[] {
  return network.fakeImdsRequests().filter((request) => request["userAgent"] === "imds-analyzer-ssm");
}

/** Downloads everything under the results prefix into a fresh directory, keeping the key layout. */
async function downloadResults(s3: LocalS3): Promise<string> {
  const local = makeTempDir("imds-ssm-results-");
  await s3.aws(["s3", "cp", "--recursive", "--only-show-errors", `${resultsPrefix}/`, `${local}/`]);
  return local;
}

const resultKey = (kind: "events" | "summaries" | "reports", host: string, extension: string): RegExp =>
  new RegExp(`^imds-analyzer/${kind}/host=${host}/dt=(\\d{4}-\\d{2}-\\d{2})/(\\d{8}T\\d{6}Z)\\.${extension.replaceAll(".", "\\.")}$`);

/** The tokens the fake IMDS hands out ("AQAEA" + 52 base64url + "=="; see test/secrets.test.ts). */
const fakeTokenPattern = /AQAEA[A-Za-z0-9_-]{52}==/;

/** The last line a run wrote to stderr: the script's own one-line reason when it fails. */
const lastLine = (text: string): string => text.trimEnd().split("\n").at(-1) ?? "";

/**
 * A stand-in for the executable that writes, as `capture` does, a file at each of --events,
 * --summary-json and --report, so the script's upload steps and their failures are tested in
 * seconds; the real executable's capture is the first test's.
 */
async function uploadWriter(s3: LocalS3): Promise<{ url: string; sha256: string }> {
  const scratch = makeTempDir("imds-ssm-writer-");
  const writer = join(scratch, "writer");
  writeFileSync(writer, '#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  case "$1" in --events|--summary-json|--report) printf \'{}\\n\' > "$2"; shift ;; esac\n  shift\ndone\n');
  await s3.aws(["s3", "cp", "--only-show-errors", writer, `s3://${bucket}/tools/writer`]);
  return { url: `s3://${bucket}/tools/writer`, sha256: spawnSync("sha256sum", [writer], { encoding: "utf8" }).stdout.slice(0, 64) };
}

describe.skipIf(skipLive)("the SSM document's script, end to end against local S3 and the fake IMDS", () => {
  let network: TestNetwork | null = null;
  let s3: LocalS3 | null = null;
  const started = (): { network: TestNetwork; s3: LocalS3 } => {
    if (network === null || s3 === null) throw new Error("not set up");
    return { network, s3 };
  };

  beforeAll(async () => {
    ensureRelease();
    network = TestNetwork.create();
    s3 = await LocalS3.start(network);
    // As an operator does: the release file into S3, its hash from SHA256SUMS.
    await s3.aws(["s3", "cp", "--only-show-errors", executablePath("x64"), `s3://${bucket}/${executableKey}`]);
  }, 600_000);

  afterAll(async () => {
    await network?.close();
  });

  it("fetches and checks the executable, captures a curl's IMDSv1 call, uploads events, summary and report where the Athena table reads them", async () => {
    const { network, s3 } = started();
    await network.startFakeImds("optional");
    let curlPid = 0;
    const run = await runDocument(s3, {
      ExecutableUrl: `s3://${bucket}/${executableKey}`,
      ExecutableSha256: releaseSha256().toUpperCase(),
      Duration: "6s",
      ResultsPrefix: `${resultsPrefix}/`,
    }, async () => { curlPid = await curlInstanceIdWithV1(network); });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`uploaded 3 files under ${resultsPrefix}/{events,summaries,reports}/host=${fakeInstanceId}/dt=`);
    expect(run.stdout).not.toContain("the capture's own will be used");

    const keys = await s3.keys("imds-analyzer/");
    expect(keys).toHaveLength(3);
    const [eventsKey, reportKey, summaryKey] = keys; // sorted: events, reports, summaries
    const eventsMatch = resultKey("events", fakeInstanceId, "ndjson.gz").exec(eventsKey!);
    expect(eventsMatch, eventsKey).not.toBeNull();
    const [, day, stamp] = eventsMatch!;
    expect(reportKey).toBe(`imds-analyzer/reports/host=${fakeInstanceId}/dt=${day!}/${stamp!}.md`);
    expect(summaryKey).toBe(`imds-analyzer/summaries/host=${fakeInstanceId}/dt=${day!}/${stamp!}.json`);

    const local = await downloadResults(s3);
    const events = gunzipSync(readFileSync(join(local, eventsKey!.slice("imds-analyzer/".length)))).toString("utf8")
      .trim().split("\n").map((line) => JSON.parse(line) as ImdsEvent);
    const curlEvents = events.filter((event) => event.process?.pid === curlPid);
    expect(curlEvents, JSON.stringify(events)).toHaveLength(1);
    expect(curlEvents[0]).toMatchObject({ kind: "v1", path: "/latest/meta-data/instance-id", instanceId: fakeInstanceId, process: { comm: "curl" } });
    // The script's own IMDS calls came before the capture: it saw only the curl.
    expect(events.filter((event) => event.userAgent === "imds-analyzer-ssm")).toEqual([]);
    const summary = JSON.parse(readFileSync(join(local, summaryKey!.slice("imds-analyzer/".length)), "utf8")) as AnalysisSummary;
    expect(summary.requests.v1).toBe(1);
    expect(summary.live?.startedAt.slice(0, 10)).toBe(day);
    const report = readFileSync(join(local, reportKey!.slice("imds-analyzer/".length)), "utf8");
    expect(report).toContain("NOT READY");
    expect(report).toContain("curl");

    // The script asked IMDS with a token only: one PUT, then GETs carrying it; never IMDSv1.
    const own = scriptImdsRequests(network);
    expect(own.map((request) => [request["kind"], request["method"], request["path"]])).toEqual([
      ["token-request", "PUT", "/latest/api/token"],
      ["v2", "GET", "/latest/meta-data/instance-id"],
      ["v2", "GET", "/latest/meta-data/placement/region"],
    ]);
    expect(network.fakeImdsRequests().filter((request) => request["kind"] === "v1")).toHaveLength(1); // the curl's

    // What was downloaded is the Athena table's layout: the documented DuckDB view reads it.
    const viewSql = readFileSync(join(repositoryRoot, "docs", "queries", "duckdb", "events-view.sql"), "utf8");
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      await connection.run(viewSql.replace("'events/host=*/dt=*/*.ndjson*'", `'${join(local, "events", "host=*", "dt=*", "*.ndjson*")}'`));
      const rows = (await connection.runAndReadAll(readFileSync(join(repositoryRoot, "docs", "queries", "v1-calls-by-host.sql"), "utf8"))).getRowObjectsJson();
      expect(rows.map((row) => [row["host"], Number(row["v1_calls"])])).toEqual([[fakeInstanceId, 1]]);
      const partitions = (await connection.runAndReadAll("SELECT DISTINCT host, dt FROM events")).getRowObjectsJson();
      expect(partitions).toEqual([{ host: fakeInstanceId, dt: day }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    // `imds-analyzer report` over the downloaded events and summary names the curl as the v1 caller.
    const reportRun = spawnSync(process.execPath, [cliPath, "report", "--format", "json", join(local, eventsKey!.slice("imds-analyzer/".length)), join(local, summaryKey!.slice("imds-analyzer/".length))], { encoding: "utf8" });
    expect(reportRun.status, reportRun.stderr).toBe(0);
    const fleetReport = JSON.parse(reportRun.stdout) as { verdict: string; hosts: { host: string }[]; callers: { v1: number; process: { comm: string; pids: number[] } | null }[] };
    expect(fleetReport.verdict).toBe("NOT_READY");
    expect(fleetReport.hosts.map((host) => host.host)).toEqual([fakeInstanceId]);
    expect(fleetReport.callers.filter((caller) => caller.v1 > 0).map((caller) => [caller.process?.comm, caller.process?.pids, caller.v1])).toEqual([["curl", [curlPid], 1]]);
    // No token value in what the script said or uploaded (it held one, for its own IMDSv2 calls).
    expect(run.stdout + run.stderr).not.toMatch(fakeTokenPattern);
    for (const file of [eventsKey!, summaryKey!, reportKey!]) {
      const bytes = readFileSync(join(local, file.slice("imds-analyzer/".length)));
      expect((file.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8"), file).not.toMatch(fakeTokenPattern);
    }
    // Nothing is left on the instance: the executable and the uploaded results are removed.
    expect(readdirSync(run.workRoot)).toEqual([]);
    await s3.aws(["s3", "rm", "--recursive", "--only-show-errors", `${resultsPrefix}/`]);
  }, 300_000);

  it("when IMDS refuses the token PUT, makes no IMDSv1 call and files the results under the instance id the capture saw", async () => {
    const { network, s3 } = started();
    await network.startFakeImds("put-403");
    const requestsBefore = scriptImdsRequests(network).length;
    const run = await runDocument(s3, {
      ExecutableUrl: `s3://${bucket}/${executableKey}`,
      ExecutableSha256: releaseSha256(),
      Duration: "6s",
      ResultsPrefix: resultsPrefix,
    }, async () => { await curlInstanceIdWithV1(network); });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("IMDSv2 gave no instance id; the capture's own will be used, and the AWS CLI will not ask IMDS (it could fall back to IMDSv1)");
    const keys = await s3.keys("imds-analyzer/");
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(key).toMatch(new RegExp(`^imds-analyzer/(events|summaries|reports)/host=${fakeInstanceId}/dt=\\d{4}-\\d{2}-\\d{2}/\\d{8}T\\d{6}Z\\.(ndjson\\.gz|json|md)$`));
    // Its one request: the refused PUT. No plain GET followed.
    expect(scriptImdsRequests(network).slice(requestsBefore).map((request) => [request["kind"], request["status"]])).toEqual([["token-request", 403]]);
    await s3.aws(["s3", "rm", "--recursive", "--only-show-errors", `${resultsPrefix}/`]);
  }, 300_000);

  it("a wrong SHA-256 stops it in one line before anything runs; the right one runs the file", async () => {
    const { network, s3 } = started();
    await network.startFakeImds("optional");
    // A stand-in "executable" that shows whether it was ever run: it writes a marker file.
    const scratch = makeTempDir("imds-ssm-decoy-");
    const marker = join(scratch, "decoy-ran");
    const decoy = join(scratch, "decoy");
    writeFileSync(decoy, `#!/bin/sh\ntouch ${marker}\n`);
    await s3.aws(["s3", "cp", "--only-show-errors", decoy, `s3://${bucket}/tools/decoy`]);
    const decoySha256 = spawnSync("sha256sum", [decoy], { encoding: "utf8" }).stdout.slice(0, 64);
    const wrong = releaseSha256();

    const refused = await runDocument(s3, { ExecutableUrl: `s3://${bucket}/tools/decoy`, ExecutableSha256: wrong, Duration: "5s", ResultsPrefix: resultsPrefix });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`imds-analyzer-ssm: SHA-256 mismatch: s3://${bucket}/tools/decoy is ${decoySha256}, expected ${wrong}; not running it\n`);
    expect(refused.stdout).not.toContain("capturing");
    expect(existsSync(marker)).toBe(false);
    expect(await s3.keys("imds-analyzer/")).toEqual([]);
    expect(readdirSync(refused.workRoot)).toEqual([]); // the fetched file is gone too

    // The control: with its own hash the same file is run (and, having captured nothing, uploads nothing).
    const accepted = await runDocument(s3, { ExecutableUrl: `s3://${bucket}/tools/decoy`, ExecutableSha256: decoySha256, Duration: "5s", ResultsPrefix: resultsPrefix });
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(accepted.stdout).toContain("uploaded 0 files");
  }, 300_000);

  it("fails in one line at every step (fetch, instance id, upload) and leaves nothing behind; an instance id given in the environment is used without asking IMDS", async () => {
    const { network, s3 } = started();
    await network.startFakeImds("optional");
    const writer = await uploadWriter(s3);
    const parameters = { ExecutableUrl: writer.url, ExecutableSha256: writer.sha256, Duration: "5s", ResultsPrefix: resultsPrefix };

    const missing = await runDocument(s3, { ...parameters, ExecutableUrl: `s3://${bucket}/tools/no-such-file` });
    expect(missing.code).toBe(1);
    expect(lastLine(missing.stderr)).toBe(`imds-analyzer-ssm: could not fetch s3://${bucket}/tools/no-such-file`);
    expect(readdirSync(missing.workRoot)).toEqual([]);

    const noBucket = await runDocument(s3, { ...parameters, ResultsPrefix: "s3://no-such-bucket/imds-analyzer" });
    expect(noBucket.code).toBe(1);
    expect(lastLine(noBucket.stderr)).toMatch(new RegExp(`^imds-analyzer-ssm: could not upload s3://no-such-bucket/imds-analyzer/events/host=${fakeInstanceId}/dt=\\d{4}-\\d{2}-\\d{2}/\\d{8}T\\d{6}Z\\.ndjson\\.gz \\(the results are not kept on the instance\\)$`));
    expect(readdirSync(noBucket.workRoot)).toEqual([]);

    const badId = await runDocument(s3, parameters, undefined, { IMDS_ANALYZER_INSTANCE_ID: "i-x; id" });
    expect(badId.code).toBe(1);
    expect(badId.stderr).toBe("imds-analyzer-ssm: IMDS_ANALYZER_INSTANCE_ID is not an instance id: i-x; id\n");

    // With no credentials of its own and IMDS enabled for it, the AWS CLI would ask IMDS itself
    // and, its token PUT refused, fall back to IMDSv1. The script saw its own PUT refused, so the
    // CLI is kept from IMDS: the fetch fails for want of credentials, and IMDS saw only that PUT.
    await network.startFakeImds("put-403");
    const logBefore = network.fakeImdsRequests().length;
    const noCredentials = await runDocument(s3, parameters, undefined, { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: undefined });
    expect(noCredentials.code).toBe(1);
    expect(lastLine(noCredentials.stderr)).toBe(`imds-analyzer-ssm: could not fetch ${writer.url}`);
    expect(network.fakeImdsRequests().slice(logBefore).map((request) => [request["userAgent"], request["method"], request["status"]])).toEqual([["imds-analyzer-ssm", "PUT", 403]]);
    await network.startFakeImds("optional");

    const before = scriptImdsRequests(network).length;
    const given = "i-0fedcba9876543210";
    const overridden = await runDocument(s3, parameters, undefined, { IMDS_ANALYZER_INSTANCE_ID: given });
    expect(overridden.code, overridden.stdout + overridden.stderr).toBe(0);
    expect(scriptImdsRequests(network).length).toBe(before);
    const keys = await s3.keys("imds-analyzer/");
    expect(keys.map((key) => key.replace(/\/\d{8}T\d{6}Z\./, "/STAMP.").replace(/dt=[\d-]+/, "dt=DAY"))).toEqual([
      `imds-analyzer/events/host=${given}/dt=DAY/STAMP.ndjson.gz`,
      `imds-analyzer/reports/host=${given}/dt=DAY/STAMP.md`,
      `imds-analyzer/summaries/host=${given}/dt=DAY/STAMP.json`,
    ]);
    expect(readdirSync(overridden.workRoot)).toEqual([]);
    await s3.aws(["s3", "rm", "--recursive", "--only-show-errors", `${resultsPrefix}/`]);
  }, 300_000);
});
