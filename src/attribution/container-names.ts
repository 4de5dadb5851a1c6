/**
 * The container-names enricher: after the cgroup enricher found a container id, name it from
 * what the runtimes themselves write to disk (no socket, no API, no credentials). Sources are
 * tried in order, each a module of its own (containerd-bundle.ts, cri-o-config.ts,
 * podman-storage.ts, docker-config.ts, kubelet-log-link.ts); the first that names the container
 * wins. Runtimes delete their files when a container ends, so the lookup runs as soon as the
 * process is known (for eBPF: when its connect record arrives) and its answer is cached by
 * container id: later calls, and calls from a container that is gone by then, keep the names.
 *
 * Names are claims of whoever could write those files (root, or anyone allowed to set Docker
 * labels), not proof; they are what an operator needs to find the workload.
 */
import type { ContainerInfo, ContainerRuntime, EcsNames, KubernetesNames, ParentProcess, ProcessPlacement } from "../events.js";
import type { EnrichmentInput, ProcessEnricher } from "./enrichment.js";
import { parseCmdline } from "./procfs-process-files.js";
import { readBoundedText } from "./procfs-read.js";
import { RecencyMap } from "./recency-map.js";
import { listRuntimeDirectory, nameField, readRuntimeJson, readRuntimeLink, type RuntimeFileProblem } from "./runtime-files.js";

/** What one source found. `runtime` alone (every name null) is a hint, not a hit: the lookup goes on. */
export interface ContainerNames {
  readonly runtime: ContainerRuntime | null;
  readonly name: string | null;
  readonly image: string | null;
  readonly kubernetes: KubernetesNames | null;
  readonly ecs: EcsNames | null;
}

/** Where runtimes keep their files; tests point these at fixtures. */
export interface RuntimeFilePaths {
  /** procfs (runtime shims' working directories and command lines). */
  readonly procRoot: string;
  /** Holds docker/daemon.json (Docker's data-root). */
  readonly etcRoot: string;
  /** containerd state directories: the default and k3s's. */
  readonly containerdStateDirs: readonly string[];
  /** containers/storage run and graph roots (CRI-O and podman). */
  readonly containersStorageRoots: readonly string[];
  /** Docker's data-root when neither daemon.json nor a running dockerd names another. */
  readonly dockerDataRoot: string;
  /** The kubelet's links named after pod, namespace, container and id. */
  readonly kubeletLogDir: string;
}

export const defaultRuntimeFilePaths: RuntimeFilePaths = {
  procRoot: "/proc",
  etcRoot: "/etc",
  containerdStateDirs: ["/run/containerd", "/run/k3s/containerd"],
  containersStorageRoots: ["/run/containers/storage", "/var/lib/containers/storage"],
  dockerDataRoot: "/var/lib/docker",
  kubeletLogDir: "/var/log/containers",
};

/** What a source is asked about. */
export interface ContainerLookup {
  /** The container as its cgroup path named it (id; pod uid and ECS task id when the path holds them). */
  readonly container: ContainerInfo;
  /** The calling process's ancestors, nearest first (a runtime's shim or monitor is one of them). */
  readonly parents: readonly ParentProcess[];
}

/** What a source may do: read runtime files through bounded readers that count what goes wrong. */
export interface SourceContext {
  readonly paths: RuntimeFilePaths;
  /** A JSON file's value; null when missing or unusable (counted, except missing). */
  readJson(path: string): Promise<unknown>;
  /** A symlink's target; null when it cannot be read. */
  readLink(path: string): Promise<string | null>;
  /** A directory's entries (at most `maxEntries`); null when it cannot be listed. */
  list(path: string, maxEntries: number): Promise<string[] | null>;
  /**
   * A process's argv as /proc has it now, unredacted (event command lines are redacted, and the
   * redaction takes 64-hex container ids for secrets); null when it cannot be read.
   */
  commandLine(pid: number): Promise<string[] | null>;
  /**
   * The nearest ancestors `isRuntime` accepts that run outside the container (a process inside
   * it could call itself "containerd-shim" and point us at files of its own making).
   */
  runtimeAncestors(lookup: ContainerLookup, isRuntime: (parent: ParentProcess) => boolean): Promise<ParentProcess[]>;
  /** Counts a finding of the source's own (e.g. "malformed" for a file that parsed but is not what the runtime writes). */
  note(problem: RuntimeFileProblem): void;
}

export interface ContainerNameSource {
  /** The event's `container.source` when this source names the container. */
  readonly source: string;
  /**
   * Containers this source may name, by the runtime their cgroup path shows ("unknown" when it
   * shows none); absent: any. containers/storage, say, also holds CRI-O's containers, which a
   * podman answer must not claim.
   */
  readonly runtimes?: readonly ContainerRuntime[];
  find(lookup: ContainerLookup, context: SourceContext): Promise<ContainerNames | null>;
}

/** The answer kept for a container id. */
interface CachedLookup {
  readonly answer: Promise<{ readonly names: ContainerNames | null; readonly source: string | null; readonly runtimeHint: ContainerRuntime | null }>;
  /** When a miss is tried again (a hit is kept until evicted). */
  readonly retryAtMs: number;
}

/** conmon's argv runs to ~2 KiB; the options read from it come first. */
const maxCommandLineBytes = 64 * 1024;
/** Containers whose names are remembered (a host runs a few hundred at most). */
const maxCachedContainers = 4096;
/** How long "nobody names this container" is believed before the files are read again. */
const missRetryMs = 10_000;
/** Longest one lookup may take: events leave in order, so a slow lookup holds the ones behind it. */
const defaultLookupDeadlineMs = 2000;

export class ContainerNamesEnricher implements ProcessEnricher {
  readonly name = "container-names";
  private readonly cache = new RecencyMap<string, CachedLookup>(maxCachedContainers);
  private readonly counters = new Map<string, number>();

  private readonly lookupDeadlineMs: number;

  constructor(
    private readonly sources: readonly ContainerNameSource[],
    private readonly paths: RuntimeFilePaths = defaultRuntimeFilePaths,
    options: { readonly lookupDeadlineMs?: number } = {},
  ) {
    this.lookupDeadlineMs = options.lookupDeadlineMs ?? defaultLookupDeadlineMs;
  }

  async enrich(input: EnrichmentInput, placement: ProcessPlacement): Promise<ProcessPlacement> {
    const container = placement.container;
    // LXC names its containers in the cgroup path itself: the id is the name.
    if (container === null || container.runtime === "lxc") return placement;
    const nowMs = Date.now();
    let cached = this.cache.get(container.id);
    if (cached === undefined || nowMs >= cached.retryAtMs) {
      this.count("lookups");
      const answer = this.lookUp({ container, parents: input.parents });
      cached = { answer, retryAtMs: Number.POSITIVE_INFINITY };
      this.cache.set(container.id, cached);
      const entry = cached;
      void answer.then((found) => {
        // A miss is believed for a while only when the caller's ancestry was read up to init: a
        // caller gone before /proc was read, whose parents went too, shows no runtime ancestor,
        // and the next call from the same container (or its parents, still there) may do better.
        const retryAfterMs = reachesInit(input.parents) ? missRetryMs : 0;
        if (found.names === null && this.cache.get(container.id) === entry) this.cache.set(container.id, { answer, retryAtMs: Date.now() + retryAfterMs });
      });
    } else {
      this.count("cached");
    }
    const found = await cached.answer;
    return { ...placement, container: mergeNames(container, found.names, found.source, found.runtimeHint) };
  }

  /** Counters: lookups, cached, named:<source>, unnamed, and problem:<source>:<problem>. */
  stats(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }

  private async lookUp(lookup: ContainerLookup): Promise<{ names: ContainerNames | null; source: string | null; runtimeHint: ContainerRuntime | null }> {
    let runtimeHint: ContainerRuntime | null = null;
    const search = async (): Promise<{ names: ContainerNames | null; source: string | null }> => {
      for (const source of this.sources) {
        if (source.runtimes !== undefined && !source.runtimes.includes(lookup.container.runtime)) continue;
        let names: ContainerNames | null = null;
        try {
          names = await source.find(lookup, this.contextFor(source.source));
        } catch {
          this.count(`problem:${source.source}:error`);
        }
        if (names === null) continue;
        if (names.runtime !== null) runtimeHint = names.runtime;
        if (namesSomething(names)) return { names, source: source.source };
      }
      return { names: null, source: null };
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => { resolve(null); }, this.lookupDeadlineMs);
      timer.unref();
    });
    const found = await Promise.race([search(), deadline]).finally(() => { clearTimeout(timer); });
    if (found === null) {
      this.count("problem:lookup:timeout");
      return { names: null, source: null, runtimeHint };
    }
    this.count(found.source === null ? "unnamed" : `named:${found.source}`);
    return { ...found, runtimeHint };
  }

  private contextFor(source: string): SourceContext {
    const noted = (problem: RuntimeFileProblem): void => {
      if (problem !== "missing") this.count(`problem:${source}:${problem}`);
    };
    return {
      paths: this.paths,
      note: noted,
      readJson: async (path) => {
        const read = await readRuntimeJson(path);
        if (read.ok) return read.value;
        noted(read.problem);
        return null;
      },
      readLink: async (path) => {
        const read = await readRuntimeLink(path);
        if (read.ok) return read.value;
        noted(read.problem);
        return null;
      },
      list: async (path, maxEntries) => {
        const read = await listRuntimeDirectory(path, maxEntries);
        if (read.ok) return read.value;
        noted(read.problem);
        return null;
      },
      runtimeAncestors: (lookup, isRuntime) => this.runtimeAncestors(lookup, isRuntime),
      commandLine: async (pid) => {
        try {
          return parseCmdline(await readBoundedText(`${this.paths.procRoot}/${pid}/cmdline`, maxCommandLineBytes));
        } catch {
          return null;
        }
      },
    };
  }

  private async runtimeAncestors(lookup: ContainerLookup, isRuntime: (parent: ParentProcess) => boolean): Promise<ParentProcess[]> {
    const found: ParentProcess[] = [];
    for (const parent of lookup.parents) {
      if (!isRuntime(parent)) continue;
      let cgroupFile: string;
      try {
        cgroupFile = await readBoundedText(`${this.paths.procRoot}/${parent.pid}/cgroup`, 64 * 1024);
      } catch {
        continue; // gone: nothing to read through it anyway
      }
      if (!cgroupFile.includes(lookup.container.id)) found.push(parent);
    }
    return found;
  }

  private count(name: string): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + 1);
  }
}

/** Which annotation (or label) keys hold a Kubernetes container's names, in one runtime's files. */
export interface KubernetesKeys {
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string;
  readonly container: string;
  readonly image: string;
}

/**
 * A Kubernetes container's names from a runtime's annotations. A sandbox (the pod's pause or
 * infra container) is the pod's, not one of its containers: no container name or image.
 */
export function kubernetesContainerNames(
  runtime: ContainerRuntime,
  values: Readonly<Record<string, unknown>>,
  keys: KubernetesKeys,
  isSandbox: boolean,
): ContainerNames {
  const container = isSandbox ? null : nameField(values[keys.container]);
  return {
    runtime,
    name: container,
    image: isSandbox ? null : nameField(values[keys.image]),
    kubernetes: { namespace: nameField(values[keys.namespace]), pod: nameField(values[keys.pod]), podUid: nameField(values[keys.podUid]), container },
    ecs: null,
  };
}

/** Whether a parent chain (nearest first) was read all the way up to pid 1. */
function reachesInit(parents: readonly ParentProcess[]): boolean {
  return parents.at(-1)?.pid === 1;
}

function namesSomething(names: ContainerNames): boolean {
  return names.name !== null || names.image !== null || names.kubernetes !== null || names.ecs !== null;
}

/**
 * The cgroup's container with what the winning source named. What the path alone held (pod
 * uid, ECS task id) fills the gaps of the source's answer; the source's own values win.
 */
export function mergeNames(base: ContainerInfo, names: ContainerNames | null, source: string | null, runtimeHint: ContainerRuntime | null): ContainerInfo {
  const runtime = names?.runtime ?? runtimeHint ?? base.runtime;
  if (names === null || source === null) return runtime === base.runtime ? base : { ...base, runtime };
  return {
    runtime,
    id: base.id,
    name: names.name,
    image: names.image,
    kubernetes: fillGaps(names.kubernetes, base.kubernetes),
    ecs: fillGaps(names.ecs, base.ecs),
    source,
  };
}

function fillGaps<T extends object>(named: T | null, fromPath: T | null): T | null {
  if (named === null) return fromPath;
  if (fromPath === null) return named;
  const merged: Record<string, unknown> = { ...(named as Record<string, unknown>) };
  for (const [field, value] of Object.entries(fromPath)) merged[field] ??= value;
  return merged as T;
}
