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
import { containerdBundleSource } from "./containerd-bundle.js";
import { ContainerNamesEnricher, defaultRuntimeFilePaths, type ContainerNameSource, type RuntimeFilePaths } from "./container-names.js";
import { criOConfigSource } from "./cri-o-config.js";
import { dockerConfigSource } from "./docker-config.js";
import { kubeletLogLinkSource } from "./kubelet-log-link.js";
import { podmanStorageSource } from "./podman-storage.js";

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
  /** Counters for the live summary (lookups, what named what, problems met); absent: none. */
  stats?(): Record<string, number>;
}

/** Nothing known yet. */
export const emptyPlacement: ProcessPlacement = { cgroup: null, container: null, kubernetesPodUid: null, systemdUnit: null };

/** The enrichers live capture runs, in order: the cgroup finds the container, its runtime's files name it. */
export function defaultEnrichers(paths: Partial<RuntimeFilePaths> = {}): ProcessEnricher[] {
  return [cgroupEnricher, new ContainerNamesEnricher(defaultContainerNameSources(), { ...defaultRuntimeFilePaths, ...paths })];
}

/**
 * Where container names are read, in order (first to name the container wins): the runtimes'
 * own files first, then the kubelet's log links, which any Kubernetes runtime gets.
 */
export function defaultContainerNameSources(): ContainerNameSource[] {
  return [containerdBundleSource, criOConfigSource, podmanStorageSource, dockerConfigSource(), kubeletLogLinkSource()];
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
