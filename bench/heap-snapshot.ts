/**
 * V8 heap snapshots of the analyzer for the benches (`--heapsnapshot-signal=SIGUSR2
 * --diagnostic-dir=DIR` on its node): take one and say what holds the heap, by constructor.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export interface HeapSnapshotSummary {
  readonly totalMiB: number;
  readonly top: readonly { readonly name: string; readonly count: number; readonly selfMiB: number }[];
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Signals the process (SIGUSR2) and waits, at most a minute, for a new snapshot in `directory`
 * to be written whole (its size unchanged for a second); null if none came.
 */
export async function takeHeapSnapshot(signal: () => void, directory: string): Promise<HeapSnapshotSummary | null> {
  const before = new Set(readdirSync(directory));
  signal();
  for (let poll = 0; poll < 600; poll++) {
    await sleep(100);
    const written = readdirSync(directory).find((file) => file.endsWith(".heapsnapshot") && !before.has(file));
    if (written === undefined) continue;
    const path = join(directory, written);
    const size = statSync(path).size;
    await sleep(1000);
    if (statSync(path).size === size && size > 0) return summarizeHeapSnapshot(path);
  }
  return null;
}

/** Self size by constructor (node name) of a V8 heap snapshot, the largest first. */
export function summarizeHeapSnapshot(path: string): HeapSnapshotSummary {
  const snapshot = JSON.parse(readFileSync(path, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeIndex = fields.indexOf("type");
  const nameIndex = fields.indexOf("name");
  const sizeIndex = fields.indexOf("self_size");
  const types = snapshot.snapshot.meta.node_types[0];
  const byName = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let base = 0; base < snapshot.nodes.length; base += stride) {
    const type = types[snapshot.nodes[base + typeIndex]!] ?? "?";
    const rawName = type === "object" || type === "closure" || type === "native" ? snapshot.strings[snapshot.nodes[base + nameIndex]!] ?? "?" : "";
    const name = `${type}${rawName === "" ? "" : ` ${rawName.slice(0, 60)}`}`;
    const bytes = snapshot.nodes[base + sizeIndex]!;
    total += bytes;
    const entry = byName.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += bytes;
    byName.set(name, entry);
  }
  const top = [...byName].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 15).map(([name, entry]) => ({ name, count: entry.count, selfMiB: round(entry.bytes / 2 ** 20, 2) }));
  return { totalMiB: round(total / 2 ** 20, 1), top };
}
