/**
 * The fix list (issue 12): callers of every host grouped by program and reason. Grouping tables
 * (what is one program across hosts), the generated fleet's fixes, the CSV rendering parsed
 * back, and the Markdown size bound at any fleet size.
 */
import { describe, expect, it } from "vitest";
import { fleetHostName, fleetInstanceId, fleetPrograms, generateFleet } from "../../bench/fleet-events.mjs";
import type { ImdsEvent, ProcessInfo } from "../../src/events.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { normalizedCommand, withoutNoise } from "../../src/report/command-line-noise.js";
import { workloadOfPod } from "../../src/report/container-names.js";
import { csvCell, csvColumns, renderCsv } from "../../src/report/render-csv.js";
import { markdownBudgetBytes, renderMarkdown } from "../../src/report/render-markdown.js";
import type { ImdsReport } from "../../src/report/types.js";
import { attributedOk, event, liveSummary, processInfo, timeAt } from "./event-factory.js";

/** A live event of `process` on `host`, with an instance id so each host is its own. */
function liveEvent(host: number, process: ProcessInfo, overrides: Partial<ImdsEvent> = {}): ImdsEvent {
  return event({ process, attribution: attributedOk, host: `web-${host}`, instanceId: fleetInstanceId(host), ...overrides });
}

function containerProcess(container: Record<string, unknown>, overrides: Partial<ProcessInfo> = {}): ProcessInfo {
  return processInfo({ container: container as unknown as ProcessInfo["container"], systemdUnit: null, cgroup: "/kubepods/pod", ...overrides });
}

function reportOf(events: readonly ImdsEvent[]): ImdsReport {
  const builder = new ReportBuilder();
  for (const imdsEvent of events) builder.addEvent(imdsEvent, imdsEvent.host ?? "local");
  return builder.build();
}

describe("command-line noise", () => {
  it.each([
    ["/tmp/tmp.Xa9fK2bQ7z", "/tmp/<tmp>"],
    ["--out=/var/tmp/backup-k7x2p9qz/id", "--out=/var/tmp/<tmp>/id"],
    ["/dev/shm/sem.abc", "/dev/shm/<tmp>"],
    ["http://10.1.2.3:9000", "http://<ip>"],
    ["--endpoint=[fd00:ec2::254]:80", "--endpoint=<ip>"],
    ["ip-10-0-1-23.eu-west-1.compute.internal", "<host>"],
    ["--instance=i-0123456789abcdef0", "--instance=<instance-id>"],
    ["--id=3f2a9c4e-1b2d-4e5f-8a9b-0c1d2e3f4a5b", "--id=<uuid>"],
    ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "sha256:<hex>"],
    ["/run/sync/48213.pid", "/run/sync/<n>.pid"],
    ["--worker-id=48213", "--worker-id=<n>"],
    ["48213", "<n>"],
    ["worker-x7k2p", "worker-<rand>"],
    ["job_aB3dE9fQ", "job_<rand>"],
    // Left alone: versions, words, options, paths without noise.
    ["python3.11", "python3.11"],
    ["--region=eu-west-1", "--region=eu-west-1"],
    ["/opt/app/sync.py", "/opt/app/sync.py"],
    ["s3://logs-bucket/", "s3://logs-bucket/"],
    ["1.16.100", "1.16.100"],
  ])("%s -> %s", (input, expected) => {
    expect(withoutNoise(input)).toBe(expected);
  });

  it("keeps the executable, drops a ' (deleted)' suffix and normalises every argument", () => {
    expect(normalizedCommand("/usr/bin/python3.6 (deleted)", "python3", ["/usr/bin/python3", "/opt/sync/sync.py", "--pidfile", "/run/sync/4242.pid"])).toBe(
      "/usr/bin/python3.6 /usr/bin/python3 /opt/sync/sync.py --pidfile /run/sync/<n>.pid",
    );
  });
});

describe("workloads derived from pod names", () => {
  it.each([
    ["checkout-7d9f8b6c5-x2x9z", { name: "checkout", kind: "Deployment" }],
    ["payments-api-5f6b9c8d4-k7x2p", { name: "payments-api", kind: "Deployment" }],
    ["nightly-report-28930440-k7x2p", { name: "nightly-report", kind: "CronJob" }],
    ["node-agent-x2x9z", { name: "node-agent", kind: null }],
    ["web-0", { name: "web", kind: "StatefulSet" }],
    ["web-12", { name: "web", kind: "StatefulSet" }],
  ])("%s", (pod, expected) => {
    expect(workloadOfPod(pod)).toMatchObject(expected);
  });

  it.each(["debug", "my-pod", "checkout-aeiou"])("%s: no generated suffix, no workload", (pod) => {
    expect(workloadOfPod(pod)).toBeNull();
  });
});

describe("grouping callers into fixes", () => {
  const awsCli = "aws-cli/1.16.100 Python/2.7.18 Linux/4.14 botocore/1.12.90";

  it("the same program on two hosts, with different pids, paths, temporary files and addresses, is one fix", () => {
    const onHost = (host: number, pid: number, tmp: string, address: string): ImdsEvent =>
      liveEvent(host, processInfo({ pid, comm: "aws", exe: "/usr/bin/python2.7", cmdline: ["/usr/bin/python2", "/usr/bin/aws", "s3", "cp", `/tmp/${tmp}`, `--endpoint-url=http://${address}:9000`, `--pidfile=/run/aws/${pid}.pid`] }), { userAgent: awsCli });
    const report = reportOf([onHost(1, 4242, "tmp.Xa9fK2bQ7z", "10.0.1.5"), onHost(2, 31337, "tmp.b8Qw1LmN0p", "10.9.8.7")]);
    expect(report.callers).toHaveLength(2);
    expect(report.fixes).toHaveLength(1);
    const fix = report.fixes[0]!;
    expect(fix).toMatchObject({ hostCount: 2, callerCount: 2, v1: 2, reason: "sdk-too-old", exampleHosts: [`${fleetInstanceId(1)} (web-1)`, `${fleetInstanceId(2)} (web-2)`] });
    expect(fix.program).toEqual({
      identifiedBy: "command-line",
      name: "/usr/bin/python2.7 /usr/bin/python2 /usr/bin/aws s3 cp /tmp/<tmp> --endpoint-url=http://<ip> --pidfile=/run/aws/<n>.pid",
      from: "executable and command line, per-host noise taken out",
      derived: false,
    });
    expect(fix.title).toBe("/usr/bin/python2.7 /usr/bin/python2 /usr/bin/aws s3 cp /tmp/<tmp> --endpoint-url=http://<ip> --pidfile=/run/aws/<n>.pid (AWS CLI v1 1.16.100 (botocore 1.12.90)): too old for IMDSv2, upgrade to AWS CLI 1.16.289 (botocore 1.13.25) or later");
    expect(fix.advice).toMatch(/^AWS CLI v1 1\.16\.100 \(botocore 1\.12\.90\) predates IMDSv2 support \(minimum 1\.13\.25\): upgrade it to AWS CLI 1\.16\.289 \(botocore 1\.13\.25\) or later \(on 2 hosts, as: /);
  });

  it("the runs of a cron job on one host (new pid, temporary file and address each run) are one caller", () => {
    const run = (pid: number, tmp: string, address: string): ImdsEvent =>
      liveEvent(1, processInfo({ pid, startTime: `2025-03-01T00:00:0${pid % 10}Z`, cmdline: ["/usr/bin/python3", "/opt/app/sync.py", `/tmp/${tmp}`, `--peer=${address}`] }), { time: timeAt(pid) });
    const report = reportOf([run(101, "tmpa1b2c3d4", "10.0.0.5"), run(202, "tmpz9y8x7w6", "10.0.0.6"), run(303, "tmpq1w2e3r4", "10.0.0.7")]);
    expect(report.callers).toHaveLength(1);
    expect(report.callers[0]!.process?.pids).toEqual([101, 202, 303]);
    expect(report.fixes[0]).toMatchObject({ callerCount: 1, v1: 3 });
  });

  it("two versions of the same SDK are two fixes; two supported versions falling back the same way are one", () => {
    const old = (host: number, version: string): ImdsEvent => event({ host: `web-${host}`, instanceId: fleetInstanceId(host), userAgent: `aws-cli/1.16.100 Python/2.7 botocore/${version}` });
    const report = reportOf([old(1, "1.12.90"), old(2, "1.12.90"), old(3, "1.12.200")]);
    expect(report.fixes.map((fix) => [fix.program.identifiedBy, fix.program.name, fix.sdk?.judgedBy?.version, fix.hostCount])).toEqual([
      ["user-agent", "aws-cli-v1", "1.12.90", 2],
      ["user-agent", "aws-cli-v1", "1.12.200", 1],
    ]);
    expect(new Set(report.fixes.map((fix) => fix.id)).size).toBe(2);

    // Supported versions whose token PUT got 404: the change is the metadata proxy, not the version.
    const fallback = (host: number, version: string): ImdsEvent[] => [
      event({ host: `web-${host}`, instanceId: fleetInstanceId(host), kind: "token-request", status: 404, userAgent: `aws-cli/${version}` }),
      event({ host: `web-${host}`, instanceId: fleetInstanceId(host), time: timeAt(1), userAgent: `aws-cli/${version}` }),
    ];
    const proxied = reportOf([...fallback(1, "2.9.19"), ...fallback(2, "2.15.0")]);
    expect(proxied.fixes.map((fix) => [fix.reason, fix.fallbackCause, fix.hostCount])).toEqual([["fallback", "put-404", 2]]);
  });

  it("the same image in two namespaces is one image (one fix) but two workloads", () => {
    const pod = (host: number, namespace: string, pod: string): ImdsEvent[] => {
      const process = containerProcess({
        runtime: "containerd",
        id: `${host}`.padStart(64, "a"),
        name: null,
        image: "registry.example.com/shop/checkout:1.4.2",
        kubernetes: { namespace, pod, podUid: null, container: "checkout" },
        ecs: null,
        source: "containerd-bundle",
      });
      return [
        liveEvent(host, process, { kind: "token-request", status: null, userAgent: null }),
        liveEvent(host, process, { time: timeAt(1), userAgent: null, path: "/latest/meta-data/iam/security-credentials/role" }),
      ];
    };
    const report = reportOf([...pod(1, "shop", "checkout-7d9f8b6c5-x2x9z"), ...pod(2, "shop-staging", "checkout-5f6b9c8d4-k7x2p"), ...pod(3, "shop", "checkout-7d9f8b6c5-b2b4c")]);
    expect(report.fixes).toHaveLength(1);
    const fix = report.fixes[0]!;
    expect(fix.program).toMatchObject({ identifiedBy: "image", name: "registry.example.com/shop/checkout:1.4.2" });
    expect(fix.placement).toEqual({
      workloads: ["shop/checkout (Deployment, derived)", "shop-staging/checkout (Deployment, derived)"],
      workloadCount: 2,
      images: ["registry.example.com/shop/checkout:1.4.2"],
      imageCount: 1,
      ecsTasks: [],
      ecsTaskCount: 0,
    });
    expect([fix.reason, fix.fallbackCause, fix.inContainer, fix.hopLimitNeeded, fix.hostCount, fix.credentialHostCount]).toEqual(["fallback", "put-unanswered", true, true, 3, 3]);
    // The advice names the pod and says the fix is the hop limit, not the SDK.
    expect(fix.advice).toContain("it runs in pod shop/checkout-7d9f8b6c5-x2x9z, container checkout, image registry.example.com/shop/checkout:1.4.2");
    expect(fix.advice).toContain("the fix is the hop limit, not the SDK");
    expect(fix.title).toBe("image registry.example.com/shop/checkout:1.4.2 in 2 workloads: token PUT unanswered, then IMDSv1: raise the hop limit to 2");
  });

  it("without an image: a Kubernetes workload, an ECS task family, a container name", () => {
    const base = { runtime: "containerd", id: "b".repeat(64), name: null, image: null, kubernetes: null, ecs: null, source: "kubelet-log-link" };
    const tooOld = { userAgent: "aws-sdk-java/1.11.400 Linux/5.10 java/1.8.0" };
    const report = reportOf([
      liveEvent(1, containerProcess({ ...base, kubernetes: { namespace: "jobs", pod: "nightly-report-28930440-k7x2p", podUid: null, container: "report" } }), tooOld),
      liveEvent(2, containerProcess({ ...base, kubernetes: { namespace: "jobs", pod: "nightly-report-28930500-b2b4c", podUid: null, container: "report" } }), tooOld),
      liveEvent(3, containerProcess({ ...base, runtime: "docker", ecs: { cluster: "prod", taskArn: null, taskId: null, family: "billing", revision: "12", container: "worker" } }), tooOld),
      liveEvent(4, containerProcess({ ...base, runtime: "docker", ecs: { cluster: "prod", taskArn: null, taskId: null, family: "billing", revision: "13", container: "worker" } }), tooOld),
      liveEvent(5, containerProcess({ ...base, runtime: "podman", name: "legacy-poller" }), tooOld),
    ]);
    expect(report.fixes.map((fix) => [fix.program.identifiedBy, fix.program.name, fix.program.derived, fix.hostCount])).toEqual([
      ["ecs-task-family", "billing container worker", false, 2],
      ["kubernetes-workload", "jobs/nightly-report container report", true, 2],
      ["container-name", "legacy-poller", false, 1],
    ]);
    expect(report.fixes[0]!.placement.ecsTasks).toEqual(["prod billing:12 worker", "prod billing:13 worker"]);
    expect(report.fixes[1]!.program.from).toBe("pod name nightly-report-28930440-k7x2p: CronJob derived from its scheduled-time Job name and pod suffix");
  });

  it("old events (container with runtime and id only) and hostile container fields still group by command line", () => {
    const hostile = { runtime: "docker", id: "c".repeat(64), name: 42, image: { nested: true }, kubernetes: "shop/x", ecs: [], source: null };
    const report = reportOf([
      liveEvent(1, containerProcess({ runtime: "docker", id: "d".repeat(64) })),
      liveEvent(2, containerProcess(hostile)),
    ]);
    expect(report.callers.map((caller) => caller.process?.container)).toEqual([
      { runtime: "docker", id: "d".repeat(64), name: null, image: null, kubernetes: null, ecs: null, source: null },
      { runtime: "docker", id: "c".repeat(64), name: null, image: null, kubernetes: null, ecs: null, source: null },
    ]);
    expect(report.fixes.map((fix) => [fix.program.identifiedBy, fix.hostCount])).toEqual([["command-line", 2]]);
  });
});

describe("the generated fleet's fix list", () => {
  const hosts = 300;
  const builder = new ReportBuilder();
  generateFleet({ hosts }, { event: (imdsEvent, host) => { builder.addEvent(imdsEvent, host); }, summary: (summary, host) => { builder.addSummary(summary, host); } });
  const report = builder.build();

  it("has one fix per recurring program, most hosts first, with exact host counts", () => {
    const healthy = (host: number): boolean => host % 50 !== 49 && host % 97 !== 96;
    const hostsRunning = (name: string): number => {
      const program = fleetPrograms.find((candidate) => candidate.name === name)!;
      return Array.from({ length: hosts }, (_, host) => host).filter((host) => healthy(host) && program.runsOn(host)).length;
    };
    const byText = (a: unknown, b: unknown): number => JSON.stringify(a).localeCompare(JSON.stringify(b));
    const counts = report.fixes.map((fix) => fix.hostCount);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(report.fixes.map((fix) => [fix.program.identifiedBy, fix.reason, fix.hostCount]).sort(byText)).toEqual([
      ["command-line", "sdk-too-old", hostsRunning("aws-cli-old")],
      ["command-line", "sdk-too-old", hostsRunning("boto3-old")],
      ["command-line", "no-token-support", hostsRunning("curl-script")],
      ["image", "fallback", hostsRunning("k8s-checkout") + hostsRunning("k8s-checkout-staging")],
      ["image", "sdk-too-old", hostsRunning("ecs-billing")],
    ].sort(byText));
    const cli = report.fixes.find((fix) => fix.program.name.includes("/usr/bin/aws"))!;
    expect(cli.v1).toBe(hostsRunning("aws-cli-old") * 3 * 2);
    expect(cli.credentialPaths).toBe(true);
    expect(cli.exampleHosts).toHaveLength(5);
    expect(report.hosts.filter((host) => host.verdict === "UNKNOWN").map((host) => host.unknownCauses[0])).toContain("short-window");
    expect(report.hosts.find((host) => host.hostname === fleetHostName(96))?.unknownCauses).toEqual(["packets-dropped"]);
  });

  it("CSV: one row per fix, parsed back equal to the JSON fix list", () => {
    const rows = parseCsv(renderCsv(report));
    expect(rows[0]).toEqual(csvColumns.map((column) => column.name));
    const records = rows.slice(1).map((row) => Object.fromEntries(row.map((cell, index) => [rows[0]![index]!, cell])));
    expect(records).toHaveLength(report.fixes.length);
    report.fixes.forEach((fix, index) => {
      const record = records[index]!;
      expect(record["fix_id"]).toBe(fix.id);
      expect(record["title"]).toBe(fix.title.startsWith("-") ? `'${fix.title}` : fix.title);
      expect(Number(record["host_count"])).toBe(fix.hostCount);
      expect(Number(record["v1_calls"])).toBe(fix.v1);
      expect(record["credentials_via_v1"]).toBe(String(fix.credentialPaths));
      expect(record["example_hosts"]).toBe(fix.exampleHosts.join(" "));
      expect(record["advice"]).toBe(fix.advice);
      expect(record["images"]).toBe(fix.placement.images.join("; "));
    });
  });
});

describe("CSV cells", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["line\nbreak", "line break"],
    ["=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""],
    ["+1+1", "'+1+1"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tcmd", "' cmd"],
  ])("%j -> %s", (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it("numbers, booleans and null", () => {
    expect([csvCell(-3), csvCell(true), csvCell(null)]).toEqual(["-3", "true", ""]);
  });

  it("a hostile User-Agent reaches the CSV only as inert text", () => {
    const report = reportOf([event({ userAgent: "=cmd|' /C calc'!A0", host: "web-1" })]);
    const rows = parseCsv(renderCsv(report));
    const advice = rows[1]![csvColumns.findIndex((column) => column.name === "advice")]!;
    expect(advice).toContain("User-Agent =cmd|' /C calc'!A0");
    const program = rows[1]![csvColumns.findIndex((column) => column.name === "program")]!;
    expect(program).toBe("'=cmd|'");
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+@\t\r-]/);
  });
});

describe("Markdown size at any fleet size", () => {
  function fleetReport(hosts: number, programs?: readonly string[]): ImdsReport {
    const builder = new ReportBuilder();
    generateFleet({ hosts, allHealthy: true, ...(programs === undefined ? {} : { programs }) }, {
      event: (imdsEvent, host) => { builder.addEvent(imdsEvent, host); },
      summary: (summary, host) => { builder.addSummary(summary, host); },
    });
    return builder.build();
  }

  it("the issue's 300 hosts with three recurring problems: three fixes first, a short report", () => {
    const report = fleetReport(300, ["aws-cli-old", "boto3-old", "curl-script", "ssm-agent"]);
    expect(report.fixes.map((fix) => fix.hostCount)).toEqual([200, 200, 200]);
    const markdown = renderMarkdown(report);
    const fixes = markdown.indexOf("## Fixes (3)");
    expect(fixes).toBeGreaterThan(0);
    expect(fixes).toBeLessThan(markdown.indexOf("## Hosts"));
    expect(markdown).not.toContain("## What each IMDSv1 caller must change");
    expect(Buffer.byteLength(markdown)).toBeLessThan(120 * 1024);
  });

  it("10,000 hosts with long hostile names stay under the bound, saying what was cut", () => {
    const builder = new ReportBuilder();
    const longName = (host: number): string => `${"x".repeat(200)}<script>|\`${host}`;
    for (let host = 0; host < 10_000; host++) {
      const hostname = longName(host);
      builder.addEvent(event({ host: hostname, userAgent: `agent-${host % 500}/1.0 ${"|".repeat(300)}` }), hostname);
      builder.addSummary(liveSummary(), hostname);
    }
    const report = builder.build();
    expect(report.hosts).toHaveLength(10_000);
    const markdown = renderMarkdown(report);
    expect(Buffer.byteLength(markdown)).toBeLessThan(markdownBudgetBytes);
    expect(markdown).toMatch(/\(\d+ more fixes in the JSON report, `fixes`\.\)/);
    expect(markdown).toMatch(/\(\d+ more hosts, with every host's verdict reasons, in the JSON report, `hosts`\.\)/);
  });
});

/** RFC 4180: quoted cells may hold commas, doubled quotes and line breaks; rows end in CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        cell += '"';
        index++;
      } else if (character === '"') quoted = false;
      else cell += character;
    } else if (character === '"') quoted = true;
    else if (character === ",") {
      row.push(cell);
      cell = "";
    } else if (character === "\r" && text[index + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      index++;
    } else cell += character;
  }
  expect(quoted).toBe(false);
  expect(row).toEqual([]);
  return rows;
}
