/**
 * Golden reports: every capture in captures/ (real clients against the fake IMDS) analysed with
 * analyzeCaptures and folded into a report. The JSON and Markdown reports are stored in
 * test/report/golden/ and compared byte for byte; `UPDATE_GOLDEN=1 npx vitest run test/report`
 * rewrites them (then review the diff by hand). The hand-written expectations below say what
 * each report must conclude, so a regenerated golden cannot silently enshrine a wrong verdict.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import type { ReportOptions } from "../../src/report/aggregate.js";
import { hostFromPath } from "../../src/report/host-identity.js";
import { renderJson } from "../../src/report/render-json.js";
import { renderMarkdown } from "../../src/report/render-markdown.js";
import { renderCsv } from "../../src/report/render-csv.js";
import { generateFleet } from "../../bench/fleet-events.mjs";
import type { CallerReport, ImdsReport } from "../../src/report/types.js";

const capturesDirectory = join(import.meta.dirname, "..", "..", "captures");
const goldenDirectory = join(import.meta.dirname, "golden");
const updateGolden = process.env["UPDATE_GOLDEN"] === "1";

const captureNames = readdirSync(capturesDirectory)
  .filter((name) => /\.(pcap|pcapng)$/.test(name) && existsSync(join(capturesDirectory, name.replace(/\.(pcap|pcapng)$/, ".expected.json"))))
  .sort();

/** The report of one capture, as `imds-analyzer analyze captures/NAME --report` would make it. */
async function reportOf(captureName: string, options: ReportOptions = {}): Promise<ImdsReport> {
  const builder = new ReportBuilder(options);
  const host = hostFromPath(captureName);
  // Events name their source as given on the command line: the repository-relative path.
  const source = `captures/${captureName}`;
  const { summary, hadErrors } = await analyzeCaptures([join(capturesDirectory, captureName)], {
    onEvent: (event) => { builder.addEvent({ ...event, source }, host); },
  });
  expect(hadErrors).toBe(false);
  builder.addSummary(summary, host);
  return builder.build();
}

function callerBy(report: ImdsReport, predicate: (caller: CallerReport) => boolean): CallerReport {
  const found = report.callers.filter(predicate);
  expect(found).toHaveLength(1);
  return found[0]!;
}

const ua = {
  awsCli1: "aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44-fc-v657 botocore/1.43.11",
  awsCli2: "aws-cli/2.9.19",
  curl: "curl/7.88.1",
  boto3: "Boto3/1.43.11 Python/3.11.7 Linux/6.18.44-fc-v657 Botocore/1.43.11",
} as const;

/** What a careful reviewer concluded from each capture's description and expected events. */
const expectations: Record<string, (report: ImdsReport) => void> = {
  "awscli1-put403-fallback-any.pcapng": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    expect(report.totals).toEqual({ v1: 2, v2: 0, tokenRequests: 1 });
    const cli = callerBy(report, (caller) => caller.userAgents[0] === ua.awsCli1);
    expect([cli.reason, cli.fallbackCause, cli.credentialPaths]).toEqual(["fallback", "put-403", true]);
    expect(cli.sdk).toMatchObject({ name: "aws-cli-v1", supportsImdsV2: true, judgedBy: { name: "botocore", version: "1.43.11" } });
    expect(cli.advice).toContain("NO_PROXY=169.254.169.254");
    expect(report.enforcement.hopLimitNeeded).toBe(false);
  },
  "awscli1-token-v2-lo.pcap": (report) => {
    // Only IMDSv2, but a sub-second capture cannot show boot-time or daily callers.
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.totals).toEqual({ v1: 0, v2: 4, tokenRequests: 2 });
    expect(report.callers.map((caller) => [caller.userAgents[0], caller.reason, caller.v2])).toEqual([
      [ua.awsCli1, null, 2],
      ["python-urllib3/2.7.0", null, 2],
    ]);
    expect(report.verdictReasons[0]).toMatch(/^No IMDSv1 calls seen, but the window \(0\.\d+ s\) is shorter than 1 d/);
  },
  "awscli2-put404-fallback-lo.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const cli = callerBy(report, () => true);
    expect([cli.reason, cli.fallbackCause, cli.v1, cli.tokenRequests]).toEqual(["fallback", "put-404", 3, 2]);
    expect(cli.sdk).toMatchObject({ name: "aws-cli-v2", version: "2.9.19", supportsImdsV2: true });
    expect(cli.tokenRequestStatuses).toEqual({ "404": 2 });
  },
  "container-veth-eth.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const curl = callerBy(report, (caller) => caller.userAgents[0] === ua.curl);
    expect([curl.reason, curl.v1, curl.tokenRequests, curl.clientIps]).toEqual(["no-token-support", 1, 1, ["10.77.0.2"]]);
    // The 403 for X-Forwarded-For is mentioned, but curl's v1 call is hand-written regardless.
    expect(curl.advice).toContain("403 for carrying X-Forwarded-For");
    const boto3 = callerBy(report, (caller) => caller.userAgents[0] === ua.boto3);
    expect([boto3.reason, boto3.v2, boto3.sdk?.name, boto3.sdk?.supportsImdsV2]).toEqual([null, 2, "boto3", true]);
  },
  "curl-snaplen96-lo.pcap": (report) => {
    // Cut at 96 bytes: no request is v1 or v2, the token PUTs are known by their request line.
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.totals).toEqual({ v1: 0, v2: 0, tokenRequests: 2 });
    expect(report.callers).toEqual([]);
    expect(report.capture.unclassifiedRequests).toMatchObject({ total: 6, byCause: { snaplen: 6, gap: 0, ended: 0, "parse-error": 0 }, snaplenBytes: 96 });
    expect(report.hosts[0]!.unknownCauses[0]).toBe("unclassified-requests");
    expect(report.verdictReasons[0]).toBe(
      "6 IMDS requests could not be classified as IMDSv1 or IMDSv2: 6 because packets were cut at 96 bytes by the capture's snaplen (recapture without a size limit: tcpdump -s 0). Any of them may be IMDSv1.",
    );
  },
  "curl-v1-v2-lo.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const curl = callerBy(report, () => true);
    expect([curl.reason, curl.v1, curl.v2, curl.tokenRequests]).toEqual(["no-token-support", 3, 3, 4]);
    // The query (which may hold a pasted token) is cut from reported paths.
    expect(curl.paths.map((path) => path.path)).toContain("/latest/meta-data/ami-id");
    expect(JSON.stringify(report)).not.toContain("AQAEAinthequery");
  },
  "ipv6-endpoint-lo.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    expect(report.callers.map((caller) => [caller.clientIps[0], caller.userAgents[0], caller.reason])).toEqual([
      ["2001:db8:77::10", ua.curl, "no-token-support"],
      ["2001:db8:77::10", null, null],
      ["2001:db8:77::10", ua.awsCli1, null],
    ]);
  },
  "js-sdk-put-hang-lo-veth.pcapng": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    expect(report.callers.map((caller) => [caller.clientIps[0], caller.reason, caller.fallbackCause, caller.v1, caller.credentialPaths])).toEqual([
      ["10.0.0.10", "fallback", "put-unanswered", 4, true],
      ["10.77.0.2", "fallback", "put-unanswered", 4, true],
    ]);
    expect(report.callers[0]!.sdk).toMatchObject({ name: "aws-sdk-js-v3", assumed: true });
    // Offline nobody knows which address is a container's: the hop limit is advised.
    expect(report.enforcement.hopLimitNeeded).toBe(true);
    expect(report.enforcement.commands[0]).toBe("aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-put-response-hop-limit 2");
  },
  "keepalive-pipelined-lo.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    expect(report.callers.map((caller) => [caller.userAgents[0], caller.reason, caller.v1, caller.v2])).toEqual([
      ["keepalive-test/1.0", "unknown", 4, 3],
      [ua.curl, "no-token-support", 3, 0],
      ["pipeline-test/1.0", "unknown", 2, 1],
      [null, "unknown", 1, 0],
    ]);
  },
  "python-urllib-v1-any-sll.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const script = callerBy(report, () => true);
    expect([script.reason, script.v1, script.credentialPaths, script.sdk?.name]).toEqual(["no-token-support", 7, true, "python-urllib"]);
    expect(script.paths.filter((path) => path.category !== null).map((path) => [path.path, path.category])).toEqual([
      ["/latest/dynamic/instance-identity/document", "identity"],
      ["/latest/meta-data/iam/security-credentials/", "credentials"],
      ["/latest/meta-data/iam/security-credentials/imds-analyzer-test-role", "credentials"],
      ["/latest/user-data", "user-data"],
    ]);
    expect(script.v1Statuses).toEqual({ "200": 6, "404": 1 });
  },
  "tokens-required-any.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const curl = callerBy(report, (caller) => caller.userAgents[0] === ua.curl);
    expect([curl.reason, curl.v1Statuses]).toEqual(["no-token-support", { "401": 2 }]);
    expect(curl.advice).toMatch(/^Fails today \(IMDS answers its IMDSv1 calls with 401/);
    expect(report.enforcement.tokensAlreadyRequired).toBe(true);
    expect(report.verdictReasons).toContain("Every IMDSv1 call got 401: tokens already appear to be required here, and these callers fail today.");
    const js = callerBy(report, (caller) => caller.userAgents[0] === null);
    expect([js.reason, js.v2, js.tokenRequests]).toEqual([null, 4, 2]);
  },
  "wget-v1-v2-any-nano.pcap": (report) => {
    expect(report.verdict).toBe("NOT_READY");
    const wget = callerBy(report, () => true);
    expect([wget.reason, wget.v1, wget.sdk?.name, wget.sdk?.version]).toEqual(["no-token-support", 2, "wget", "1.21.3"]);
    // Nanosecond capture: the window keeps all nine digits.
    expect(report.window.start).toMatch(/\.\d{9}Z$/);
  },
};

/** Captures in which a client fetched the instance id (200): the fake IMDS's id names the host. */
const capturesWithInstanceId = new Set([
  "container-veth-eth.pcap",
  "curl-v1-v2-lo.pcap",
  "ipv6-endpoint-lo.pcap",
  "keepalive-pipelined-lo.pcap",
  "python-urllib-v1-any-sll.pcap",
  "tokens-required-any.pcap",
  "wget-v1-v2-any-nano.pcap",
]);
const fakeInstanceId = "i-0123456789abcdef0";

describe("golden reports of the captures", () => {
  it("cover every capture", () => {
    expect(captureNames.length).toBeGreaterThanOrEqual(11);
    expect(Object.keys(expectations).sort()).toEqual(captureNames);
  });

  it.each(captureNames)("%s", async (captureName) => {
    const report = await reportOf(captureName);
    expectations[captureName]?.(report);

    // Never a secret in a report.
    const json = renderJson(report);
    for (const secret of ["ASIAFAKEIMDSANALYZER", "FAKESECRET", "FAKEUSERDATA"]) expect(json).not.toContain(secret);
    // Each capture is one host: its instance id when a client fetched it, and the file's name;
    // the enforcement commands carry the id when it is known. Offline callers are known by address.
    const instanceId = capturesWithInstanceId.has(captureName) ? fakeInstanceId : null;
    expect(report.hosts.map((host) => [host.host, host.instanceId, host.hostname])).toEqual([
      [instanceId ?? hostFromPath(captureName), instanceId, hostFromPath(captureName)],
    ]);
    for (const command of report.enforcement.commands) expect(command).toContain(`--instance-id ${instanceId ?? "INSTANCE_ID"} `);
    expect(report.window.includesBoot).toBeNull();
    expect(report.callers.every((caller) => caller.caller.identifiedBy === "client-address" && caller.process === null)).toBe(true);
    expect(report.capture.framesDropped).toBeNull();
    expect(report.capture.attributionCoverage).toBeNull();

    const base = join(goldenDirectory, captureName.replace(/\.(pcap|pcapng)$/, ""));
    const markdown = renderMarkdown(report);
    if (updateGolden) {
      writeFileSync(`${base}.report.json`, json);
      writeFileSync(`${base}.report.md`, markdown);
    }
    expect(json).toBe(readFileSync(`${base}.report.json`, "utf8"));
    expect(markdown).toBe(readFileSync(`${base}.report.md`, "utf8"));
  });

  it("says UNKNOWN for a capture cut by the snaplen even when no minimum window is asked for, host and fleet", async () => {
    const report = await reportOf("curl-snaplen96-lo.pcap", { minimumWindowSeconds: 0 });
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.hosts[0]!.unknownCauses).toEqual(["unclassified-requests", "lost-traffic"]);
    expect(report.verdictReasons[0]).toMatch(/^6 IMDS requests could not be classified as IMDSv1 or IMDSv2: 6 because packets were cut at 96 bytes .*tcpdump -s 0\)\. Any of them may be IMDSv1\.$/);
    // In a fleet beside a READY host, the fleet is UNKNOWN and names the host.
    const builder = new ReportBuilder({ minimumWindowSeconds: 0 });
    for (const captureName of ["awscli1-token-v2-lo.pcap", "curl-snaplen96-lo.pcap"]) {
      const { summary } = await analyzeCaptures([join(capturesDirectory, captureName)], {
        onEvent: (event) => { builder.addEvent({ ...event, instanceId: null }, hostFromPath(captureName)); },
      });
      builder.addSummary({ ...summary, instanceId: null }, hostFromPath(captureName));
    }
    const fleet = builder.build();
    expect(fleet.hosts.map((host) => [host.host, host.verdict])).toEqual([["curl-snaplen96-lo", "UNKNOWN"], ["awscli1-token-v2-lo", "READY"]]);
    expect(fleet.verdict).toBe("UNKNOWN");
    expect(fleet.verdictReasons).toContain("1 of 2 hosts UNKNOWN: curl-snaplen96-lo.");
    expect(fleet.capture.unclassifiedRequests.total).toBe(6);
    // Summaries alone (no events) say the same.
    const fromSummary = new ReportBuilder({ minimumWindowSeconds: 0 });
    const { summary } = await analyzeCaptures([join(capturesDirectory, "curl-snaplen96-lo.pcap")]);
    fromSummary.addSummary(summary, "cut");
    expect(fromSummary.build().hosts[0]!.unknownCauses).toContain("unclassified-requests");
  });

  it("says READY for an IMDSv2-only capture when no minimum window is asked for", async () => {
    const report = await reportOf("awscli1-token-v2-lo.pcap", { minimumWindowSeconds: 0 });
    expect(report.verdict).toBe("READY");
    expect(report.verdictReasons[0]).toMatch(/^No IMDSv1 calls in 0\.\d+ s \(.+ to .+\): 4 IMDSv2 calls and 2 token requests from 2 callers\.$/);
    expect(report.verdictReasons).toContain(
      "Packet drops unknown: capture files do not record them (tcpdump prints its drop count when it stops).",
    );
    expect(report.enforcement.commands).toEqual(["aws ec2 modify-instance-metadata-options --instance-id INSTANCE_ID --http-tokens required"]);
    // A capture file cannot say whether it covered a boot.
    expect(report.verdictReasons.at(-1)).toMatch(/^Whether the window included a boot is unknown/);
  });
});

/**
 * A fleet golden report: every capture of captures/ as a host of its own (their shared fake
 * instance id dropped, as in test/report/duckdb.test.ts) plus hosts from the deterministic fleet
 * generator (bench/fleet-events.mjs), whose live events name Kubernetes pods and ECS tasks.
 * JSON, Markdown and CSV are compared byte for byte (UPDATE_GOLDEN=1 rewrites them).
 */
describe("golden fleet report: captures plus generated hosts", () => {
  it("fleet.report.{json,md,csv}", async () => {
    const builder = new ReportBuilder();
    for (const captureName of captureNames) {
      const host = hostFromPath(captureName);
      const source = `captures/${captureName}`;
      const { summary, hadErrors } = await analyzeCaptures([join(capturesDirectory, captureName)], {
        onEvent: (event) => { builder.addEvent({ ...event, source, instanceId: null }, host); },
      });
      expect(hadErrors).toBe(false);
      builder.addSummary({ ...summary, instanceId: null }, host);
    }
    generateFleet({ hosts: 10, runsPerProgram: 1 }, {
      event: (event, host) => { builder.addEvent(event, host); },
      summary: (summary, host) => { builder.addSummary(summary, host); },
    });
    const report = builder.build();

    expect(report.hosts).toHaveLength(captureNames.length + 10);
    expect(report.verdict).toBe("NOT_READY");
    // The Kubernetes caller: one image in two namespaces, named by pod, fixed by the hop limit.
    const checkout = report.fixes.find((fix) => fix.program.name === "registry.example.com/shop/checkout:1.4.2")!;
    expect(checkout.placement.workloads).toEqual(["shop/checkout (Deployment, derived)", "shop-staging/checkout (Deployment, derived)"]);
    expect([checkout.reason, checkout.fallbackCause, checkout.hopLimitNeeded]).toEqual(["fallback", "put-unanswered", true]);
    expect(checkout.advice).toMatch(/it runs in pod shop(-staging)?\/checkout-[a-z0-9]+-[a-z0-9]{5}, container checkout, image registry\.example\.com\/shop\/checkout:1\.4\.2/);
    // The ECS caller: task family and container, image to rebuild.
    const billing = report.fixes.find((fix) => fix.program.name === "123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing:2.0")!;
    expect(billing.placement.ecsTasks).toEqual(["prod billing:12 worker"]);
    expect(billing.reason).toBe("sdk-too-old");
    expect(billing.advice).toContain("then rebuild image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing:2.0 and redeploy");
    // Offline captures' callers join the fix list by User-Agent: curl from several captures is one fix.
    const curl = report.fixes.find((fix) => fix.program.identifiedBy === "user-agent" && fix.program.name === "curl")!;
    expect(curl.hostCount).toBeGreaterThanOrEqual(5);

    const base = join(goldenDirectory, "fleet");
    const outputs = { json: renderJson(report), md: renderMarkdown(report), csv: renderCsv(report) };
    for (const [extension, text] of Object.entries(outputs)) {
      if (updateGolden) writeFileSync(`${base}.report.${extension}`, text);
      expect(text).toBe(readFileSync(`${base}.report.${extension}`, "utf8"));
    }
  });
});
