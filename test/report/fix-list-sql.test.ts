/**
 * The fix list in SQL (docs/queries/fix-list.sql over the imds_callers view of
 * docs/queries/duckdb/callers-view.sql), run by DuckDB on the same events as the report: every
 * golden capture as a host of its own (offline: callers by address and User-Agent) plus
 * generated live hosts whose events name Kubernetes pods and ECS tasks. It must find the same
 * fixes with the same counts as the report's JSON, and group by namespace, workload and image
 * as the report's callers do. The Athena view must be the DuckDB view in Athena's dialect.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetInstanceId, generateFleet } from "../../bench/fleet-events.mjs";
import type { ImdsEvent } from "../../src/events.js";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { workloadOfPod } from "../../src/report/container-names.js";
import type { ImdsReport } from "../../src/report/types.js";
import { addGoldenCaptureHosts, writeHostEvents } from "../helpers/events-layout.js";

const repositoryDirectory = join(import.meta.dirname, "..", "..");
const queriesDirectory = join(repositoryDirectory, "docs", "queries");
const documentedEventsGlob = "'events/host=*/dt=*/*.ndjson*'";

function querySql(name: string): string {
  return readFileSync(join(queriesDirectory, name), "utf8");
}

/** The view without its leading comment lines (they name the dialect). */
function withoutHeader(sql: string): string {
  const lines = sql.split("\n");
  const first = lines.findIndex((line) => !line.startsWith("--"));
  return lines.slice(first).join("\n");
}

/**
 * DuckDB's dialect to Athena's (Trino), for the functions the view uses: regexp_replace
 * replaces every match in Trino (DuckDB needs 'g') and writes groups as $1 (DuckDB \1);
 * regexp_matches is regexp_like, list_transform is transform, array_to_string is array_join,
 * and ISO-8601 text becomes a timestamp with from_iso8601_timestamp.
 */
function toAthena(duckdb: string): string {
  return duckdb
    .replaceAll(", 'g')", ")")
    .replace(/'(?:[^']|'')*'/g, (literal) => literal.replace(/\\(\d)/g, "$$$1"))
    .replaceAll("regexp_matches(", "regexp_like(")
    .replaceAll("list_transform(", "transform(")
    .replaceAll("array_to_string(", "array_join(")
    .replaceAll('CAST("time" AS TIMESTAMPTZ)', 'from_iso8601_timestamp("time")');
}

type Row = Record<string, unknown>;

let scratchDirectory = "";
let report: ImdsReport | null = null;
let connection: DuckDBConnection | null = null;
let instance: DuckDBInstance | null = null;

async function rowsOf(sql: string): Promise<Row[]> {
  if (connection === null) throw new Error("DuckDB is not open");
  return (await connection.runAndReadAll(sql)).getRowObjectsJson();
}

function built(): ImdsReport {
  if (report === null) throw new Error("report not built");
  return report;
}

beforeAll(async () => {
  scratchDirectory = mkdtempSync(join(tmpdir(), "imds-fix-sql-"));
  const builder = new ReportBuilder();
  await addGoldenCaptureHosts(scratchDirectory, builder);
  // Live hosts: the report files them under their instance id, and so does the layout.
  const live = new Map<string, ImdsEvent[]>();
  generateFleet({ hosts: 40 }, {
    event: (imdsEvent, host) => {
      builder.addEvent(imdsEvent, host);
      const key = fleetInstanceId(Number(host.slice("node-".length)));
      const list = live.get(key) ?? [];
      list.push(imdsEvent);
      live.set(key, list);
    },
    summary: (summary, host) => { builder.addSummary(summary, host); },
  });
  report = builder.build();
  for (const [host, events] of live) {
    expect(report.hosts.some((candidate) => candidate.host === host)).toBe(true);
    writeHostEvents(scratchDirectory, host, events);
  }

  instance = await DuckDBInstance.create(":memory:");
  connection = await instance.connect();
  const eventsGlob = `'${join(scratchDirectory, "events", "host=*", "dt=*", "*.ndjson*").replaceAll("'", "''")}'`;
  await connection.run(querySql("duckdb/events-view.sql").replace(documentedEventsGlob, eventsGlob));
  await connection.run(querySql("duckdb/callers-view.sql"));
});

afterAll(() => {
  connection?.closeSync();
  instance?.closeSync();
  if (scratchDirectory !== "") rmSync(scratchDirectory, { recursive: true, force: true });
});

describe("docs/queries/fix-list.sql in DuckDB", () => {
  it("finds the report's fixes with the same hosts, callers, counts and times", async () => {
    const rows = await rowsOf(querySql("fix-list.sql"));
    const fromSql = rows.map((row) => ({
      key: [row["program_identified_by"], row["program"], row["reason"], row["fallback_cause"]],
      hostCount: Number(row["host_count"]),
      callerCount: Number(row["caller_count"]),
      v1: Number(row["v1_calls"]),
      v2: Number(row["v2_calls"]),
      tokenRequests: Number(row["token_requests"]),
      credentialHostCount: Number(row["credential_host_count"]),
      firstSeen: row["first_seen"],
      lastSeen: row["last_seen"],
    }));
    const fromReport = built().fixes.map((fix) => ({
      key: [fix.program.identifiedBy, fix.program.name, fix.reason, fix.fallbackCause],
      hostCount: fix.hostCount,
      callerCount: fix.callerCount,
      v1: fix.v1,
      v2: fix.v2,
      tokenRequests: fix.tokenRequests,
      credentialHostCount: fix.credentialHostCount,
      firstSeen: fix.firstSeen,
      lastSeen: fix.lastSeen,
    }));
    // The fixture holds what the comparison must cover.
    const kinds = new Set(fromReport.map((fix) => fix.key[0]));
    for (const kind of ["image", "command-line", "user-agent", "unidentified"]) expect(kinds).toContain(kind);
    expect(new Set(fromReport.map((fix) => fix.key[2]))).toEqual(new Set(["sdk-too-old", "no-token-support", "fallback", "unknown"]));
    expect(fromSql).toEqual(fromReport);
  });

  it("v1-calls-by-workload.sql: the report's container callers by namespace, workload and image", async () => {
    const rows = await rowsOf(querySql("v1-calls-by-workload.sql"));
    const fromSql = rows.map((row) => [row["namespace"], row["workload"], row["workload_derived"], row["image"], row["ecs_family"], Number(row["hosts"]), Number(row["v1_calls"])]);
    const groups = new Map<string, { key: unknown[]; hosts: Set<string>; v1: number }>();
    for (const caller of built().callers) {
      const container = caller.process?.container ?? null;
      if (container === null) continue;
      const pod = container.kubernetes?.pod ?? null;
      const derived = pod === null ? null : workloadOfPod(pod);
      const key = [container.kubernetes?.namespace ?? null, derived?.name ?? pod, derived !== null, container.image, container.ecs?.family ?? null];
      const text = JSON.stringify(key);
      const group = groups.get(text) ?? { key, hosts: new Set<string>(), v1: 0 };
      group.hosts.add(caller.host);
      group.v1 += caller.v1;
      groups.set(text, group);
    }
    const fromReport = [...groups.values()].map((group) => [...group.key, group.hosts.size, group.v1]);
    expect(fromReport.length).toBeGreaterThanOrEqual(3);
    const byText = (a: unknown, b: unknown): number => JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect([...fromSql].sort(byText)).toEqual([...fromReport].sort(byText));
    // The same image in two namespaces: one image, two workloads.
    const checkout = fromSql.filter((row) => row[3] === "registry.example.com/shop/checkout:1.4.2");
    expect(checkout.map((row) => [row[0], row[1], row[2]]).sort(byText)).toEqual([
      ["shop", "checkout", true],
      ["shop-staging", "checkout", true],
    ].sort(byText));
  });

  it("athena/callers-view.sql is the DuckDB view in Athena's dialect", () => {
    const duckdb = withoutHeader(querySql("duckdb/callers-view.sql"));
    const athena = withoutHeader(querySql("athena/callers-view.sql"));
    expect(athena).toBe(toAthena(duckdb));
    // What the translation must have removed: nothing DuckDB-only is left.
    expect(athena).not.toMatch(/, 'g'\)|regexp_matches\(|list_transform\(|array_to_string\(|TIMESTAMPTZ|\\\d/);
  });
});
