/**
 * Enrichers say where a process runs: its cgroup, container, pod, systemd unit, and the names
 * behind them. Each source of names is a module of its own (cgroup.ts first); the Attributor
 * runs the list in order once it knows the process, each enricher seeing what the earlier ones
 * found. A new source of names is one new module and one entry in `defaultEnrichers`.
 *
 * Enrichers read outside files (the kernel's, the container runtimes'): what they cannot read
 * stays null. They must not throw; if one does anyway, its contribution is dropped and counted,
 * and the event is still written.
 */
import type { ParentProcess, ProcessPlacement } from "../events.js";
import { cgroupEnricher } from "./cgroup.js";

/** What an enricher knows of the process. */
export interface EnrichmentInput {
  readonly pid: number;
  /**
   * /proc/PID/cgroup as read with the process's identity; for a process that exited before it
   * could be read, the kernel-recorded v2 path as a "0::PATH" line. Null when neither is known.
   */
  readonly cgroupFile: string | null;
  /** Ancestors, nearest first (a container's runtime shim is one of them). */
  readonly parents: readonly ParentProcess[];
}

export interface ProcessEnricher {
  /** Names the enricher in counters ("cgroup", ...). */
  readonly name: string;
  /** `placement` with what this source adds (the same object when it adds nothing). */
  enrich(input: EnrichmentInput, placement: ProcessPlacement): ProcessPlacement | Promise<ProcessPlacement>;
}

/** Nothing known yet. */
export const emptyPlacement: ProcessPlacement = { cgroup: null, container: null, kubernetesPodUid: null, systemdUnit: null };

/** The enrichers live capture runs, in order. */
export function defaultEnrichers(): ProcessEnricher[] {
  return [cgroupEnricher];
}

/** Runs `enrichers` in order; a throw is counted under the enricher's name in `failures`. */
export async function enrichProcess(
  enrichers: readonly ProcessEnricher[],
  input: EnrichmentInput,
  failures: Map<string, number>,
): Promise<ProcessPlacement> {
  let placement = emptyPlacement;
  for (const enricher of enrichers) {
    try {
      placement = await enricher.enrich(input, placement);
    } catch {
      failures.set(enricher.name, (failures.get(enricher.name) ?? 0) + 1);
    }
  }
  return placement;
}
