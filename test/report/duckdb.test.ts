/**
 * The SQL of docs/QUERYING.md, run by DuckDB over the events of every golden capture, must agree
 * with our own ReportBuilder: IMDSv1 totals per host and per caller, the callers that fell back
 * after a failed token PUT, the hosts without IMDSv1. The SQL is read from docs/queries/, the same
 * files the document points to, so the document cannot drift from what is tested.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReportBuilder } from "../../src/report/aggregate.js";
import type { FallbackCause, ImdsReport } from "../../src/report/types.js";
import type { ImdsEvent } from "../../src/events.js";
import { addGoldenCaptureHosts, writeHostEvents } from "../helpers/events-layout.js";
import { event, timeAt } from "./event-factory.js";

const repositoryDirectory = join(import.meta.dirname, "..", "..");
const queriesDirectory = join(repositoryDirectory, "docs", "queries");
/** The glob in docs/queries/duckdb/events-view.sql, replaced by the test's own directory. */
const documentedEventsGlob = "'events/host=*/dt=*/*.ndjson*'";

/** Fallbacks the SQL can see in the events alone: a token PUT that failed, then IMDSv1. */
const failedPutCauses: readonly FallbackCause[] = ["put-403", "put-404", "put-405", "put-unanswered", "put-forwarded-for"];


function querySql(name: string): string {
  return readFileSync(join(queriesDirectory, name), "utf8");
}

type Row = Record<string, unknown>;

let scratchDirectory = "";
let report: ImdsReport | null = null;
let connection: DuckDBConnection | null = null;
let instance: DuckDBInstance | null = null;

async function rowsOf(sql: string): Promise<Row[]> {
  if (connection === null) throw new Error("DuckDB is not open");
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}

function reportOrThrow(): ImdsReport {
  if (report === null) throw new Error("report not built");
  return report;
}

beforeAll(async () => {
  scratchDirectory = mkdtempSync(join(tmpdir(), "imds-duckdb-"));
  const builder = new ReportBuilder();
  await addGoldenCaptureHosts(scratchDirectory, builder);
  // Two hosts where the AWS CLI's token PUT has no status, then IMDSv1 calls: on one the
  // connection closed unanswered (a fallback from a failed PUT), on the other the answer could
  // not be observed (packets lost), which is no failed PUT, for the report and the SQL alike.
  for (const [host, responseMissing] of [["put-closed-unanswered", "no-answer"], ["put-answer-unobserved", "unobserved"]] as const) {
    const userAgent = "aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0 exe/x86_64.amzn.2023";
    const events: ImdsEvent[] = [
      event({ kind: "token-request", status: null, responseMissing, userAgent, source: `${host}.pcap`, time: timeAt(0) }),
      event({ kind: "v1", path: "/latest/meta-data/iam/security-credentials/", userAgent, source: `${host}.pcap`, time: timeAt(2) }),
    ];
    for (const imdsEvent of events) builder.addEvent(imdsEvent, host);
    writeHostEvents(scratchDirectory, host, events);
  }
  report = builder.build();

  const viewSql = querySql("duckdb/events-view.sql");
  expect(viewSql.split(documentedEventsGlob)).toHaveLength(2);
  instance = await DuckDBInstance.create(":memory:");
  connection = await instance.connect();
  const eventsGlob = `'${join(scratchDirectory, "events", "host=*", "dt=*", "*.ndjson*").replaceAll("'", "''")}'`;
  await connection.run(viewSql.replace(documentedEventsGlob, eventsGlob));
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
  if (scratchDirectory !== "") rmSync(scratchDirectory, { recursive: true, force: true });
});

describe("docs/queries over golden capture events in DuckDB", () => {
  it("reads every event with the full schema", async () => {
    const [row] = await rowsOf("SELECT count(*) AS n, count(DISTINCT host) AS hosts, count(process) AS with_process, count(instanceId) AS with_instance_id FROM events");
    const built = reportOrThrow();
    // Every event is a request: the kinds the report totals, and the unclassified ones it counts apart.
    const callsInReport = built.totals.v1 + built.totals.v2 + built.totals.tokenRequests + built.capture.unclassifiedRequests.total;
    expect(callsInReport).toBeGreaterThan(0);
    expect(Number(row?.["n"])).toBe(callsInReport);
    expect(Number(row?.["hosts"])).toBe(built.hosts.filter((host) => host.totals.v1 + host.totals.v2 + host.totals.tokenRequests > 0).length);
    expect(Number(row?.["with_process"])).toBe(0); // offline analysis names no process
    expect(Number(row?.["with_instance_id"])).toBe(0); // dropped above: the captures share one fake id
  });

  it("v1-calls-by-host.sql: the report's totals per host", async () => {
    const rows = await rowsOf(querySql("v1-calls-by-host.sql"));
    const fromSql = rows.map((row) => [row["host"], Number(row["v1_calls"]), Number(row["v2_calls"]), Number(row["token_requests"])]);
    const fromReport = reportOrThrow().hosts
      .filter((host) => host.totals.v1 + host.totals.v2 + host.totals.tokenRequests > 0)
      .map((host) => [host.host, host.totals.v1, host.totals.v2, host.totals.tokenRequests]);
    expect(sortRows(fromSql)).toEqual(sortRows(fromReport));
    expect(fromSql.some((row) => row[1] !== 0)).toBe(true);
  });

  it("v1-calls-by-caller.sql: the report's IMDSv1 callers and counts", async () => {
    const rows = await rowsOf(querySql("v1-calls-by-caller.sql"));
    const fromSql = rows.map((row) => [row["host"], row["client_ip"], row["user_agent"], Number(row["v1_calls"])]);
    const fromReport = reportOrThrow().callers
      .filter((caller) => caller.v1 > 0)
      .map((caller) => {
        expect(caller.clientIps).toHaveLength(1);
        expect(caller.userAgents).toHaveLength(1);
        return [caller.host, caller.clientIps[0], caller.userAgents[0], caller.v1];
      });
    expect(fromReport.length).toBeGreaterThanOrEqual(5);
    expect(sortRows(fromSql)).toEqual(sortRows(fromReport));
  });

  it("fallback-callers.sql: the callers the report says fell back after a failed token PUT", async () => {
    const rows = await rowsOf(querySql("fallback-callers.sql"));
    const fromSql = rows.map((row) => [row["host"], row["caller"]]);
    const fromReport = reportOrThrow().callers
      .filter((caller) => caller.reason === "fallback" && caller.fallbackCause !== null && failedPutCauses.includes(caller.fallbackCause))
      .map((caller) => [caller.host, `client ${caller.clientIps[0] ?? ""} ${caller.userAgents[0] ?? "(no User-Agent)"}`]);
    expect(fromReport.length).toBeGreaterThanOrEqual(3);
    expect(fromReport.filter(([host]) => host === "put-closed-unanswered")).toHaveLength(1);
    expect(fromReport.filter(([host]) => host === "put-answer-unobserved")).toEqual([]);
    // The SQL sees events only: one-shot curl commands from one address (a PUT refused for its
    // X-Forwarded-For, later a plain GET) look like a fallback. The report knows curl never falls
    // back by itself ("no-token-support"); docs/QUERYING.md says the SQL is a superset.
    const expectedExtras = [["curl-v1-v2-lo", "client 10.0.0.10 curl/7.88.1"]];
    for (const [host, label] of expectedExtras) {
      const caller = reportOrThrow().callers.find((candidate) => candidate.host === host && candidate.userAgents[0] === "curl/7.88.1");
      expect([label, caller?.reason]).toEqual([label, "no-token-support"]);
    }
    expect(sortRows(fromSql)).toEqual(sortRows([...fromReport, ...expectedExtras]));
  });

  it("hosts-without-v1.sql: the hosts whose report has no IMDSv1 call and no unclassified request", async () => {
    const rows = await rowsOf(querySql("hosts-without-v1.sql"));
    const report = reportOrThrow();
    // The golden capture cut at 96 bytes has no v1 call but is no READY candidate.
    expect(report.hosts.some((host) => host.totals.v1 === 0 && host.capture.unclassifiedRequests.total > 0)).toBe(true);
    const fromReport = report.hosts
      .filter((host) => host.totals.v1 === 0 && host.capture.unclassifiedRequests.total === 0 && host.totals.v2 + host.totals.tokenRequests > 0)
      .map((host) => host.host)
      .sort();
    expect(fromReport.length).toBeGreaterThan(0);
    expect(rows.map((row) => row["host"])).toEqual(fromReport);
  });

  it("docs/QUERYING.md points to every query file", () => {
    const document = readFileSync(join(repositoryDirectory, "docs", "QUERYING.md"), "utf8");
    const files = ["athena/create-table.sql", "duckdb/events-view.sql", "athena/callers-view.sql", "duckdb/callers-view.sql", ...readdirSync(queriesDirectory).filter((name) => name.endsWith(".sql"))];
    for (const file of files) expect(document).toContain(`queries/${file}`);
  });
});

function sortRows(rows: readonly unknown[][]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}
