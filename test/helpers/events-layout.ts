/**
 * The golden captures as a fleet in the S3 layout docs/QUERYING.md's tables read
 * (events/host=<host>/dt=<day>/events.ndjson), for the tests that run the documented SQL with
 * DuckDB and compare it with the report built from the same events.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { analyzeCaptures } from "../../src/analyze.js";
import type { ImdsEvent } from "../../src/events.js";
import type { ReportBuilder } from "../../src/report/aggregate.js";
import { hostFromPath } from "../../src/report/host-identity.js";
import { repositoryRoot } from "./packed-package.js";

const capturesDirectory = join(repositoryRoot, "captures");

/** Every golden capture's file name, sorted. */
export const goldenCaptureNames = readdirSync(capturesDirectory).filter((name) => /\.(pcap|pcapng)$/.test(name)).sort();

/** Writes one host's events where the Athena table reads them: host=<host>/dt=<day>/. */
export function writeHostEvents(root: string, host: string, events: readonly ImdsEvent[]): void {
  if (events.length === 0) return;
  const directory = join(root, "events", `host=${host}`, `dt=${events[0]!.time.slice(0, 10)}`);
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "events.ndjson"), events.map((imdsEvent) => `${JSON.stringify(imdsEvent)}\n`).join(""));
}

/**
 * Analyses every golden capture as a host of its own (named after the file), adds its events and
 * summary to `builder` and writes its events under `root`. Every golden capture was made against
 * the same fake IMDS, so all carry its instance id: it is dropped (like events written before the
 * field existed), so that each capture stays its own host, as the SQL's partitions are.
 */
export async function addGoldenCaptureHosts(root: string, builder: ReportBuilder): Promise<void> {
  for (const captureName of goldenCaptureNames) {
    const host = hostFromPath(captureName);
    const source = `captures/${captureName}`;
    const events: ImdsEvent[] = [];
    const { summary, hadErrors } = await analyzeCaptures([join(capturesDirectory, captureName)], {
      onEvent: (imdsEvent) => {
        const withSource = { ...imdsEvent, source, instanceId: null };
        events.push(withSource);
        builder.addEvent(withSource, host);
      },
    });
    expect(hadErrors).toBe(false);
    builder.addSummary({ ...summary, instanceId: null }, host);
    writeHostEvents(root, host, events);
  }
}
