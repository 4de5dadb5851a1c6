/**
 * cgroup v2 paths by the kernel's cgroup id, read from the cgroup2 file system itself: on 64-bit
 * kernels a cgroup directory's inode number is its id (kernfs), the id the eBPF connect record
 * carries. When a client exits before even the addon's /proc read (a one-shot curl, the first
 * call from a new container), its record still holds that id, and the cgroup's directory
 * usually still exists: the runtime removes it only after the container's last process ends.
 *
 * The cgroup2 mount is /sys/fs/cgroup/unified (hybrid hosts) or /sys/fs/cgroup; a container
 * sees its own cgroup only there unless the host's /sys/fs/cgroup is mounted over it (the
 * Kubernetes DaemonSet does), and then finds nothing else, which is no worse than before. The
 * walk is bounded in directories, depth and time, one at a time, at most four a second, and done
 * again only for an id asked about after the last walk began (a cgroup made since); its paths are
 * absolute in the mount's hierarchy.
 */
import { opendir, stat, statfs } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** statfs(2) f_type of cgroup2. */
const cgroup2SuperMagic = 0x63677270;
/** Directories indexed at most (a Kubernetes node has a few thousand cgroups). */
const defaultMaxDirectories = 20_000;
const maxDepth = 32;
/** Longest one walk may take; what it found by then is kept. */
const defaultWalkDeadlineMs = 2000;
/**
 * Shortest time between the starts of two walks: callers gone from cgroups that are gone too (a
 * burst of one-shot cron jobs in transient units) would otherwise keep a walk running all the time.
 */
const minWalkIntervalMs = 250;

export interface CgroupDirectoryIndexOptions {
  /** Where to look for the cgroup2 mount, first match wins; default /sys/fs/cgroup/unified, /sys/fs/cgroup. */
  readonly mountCandidates?: readonly string[];
  readonly maxDirectories?: number;
  readonly walkDeadlineMs?: number;
}

interface Walk {
  /** When it began reading (null while it waits for the walk before it). */
  begunAtMs: number | null;
  readonly done: Promise<void>;
}

export class CgroupDirectoryIndex {
  private readonly mountCandidates: readonly string[];
  private readonly maxDirectories: number;
  private readonly walkDeadlineMs: number;
  private mountPoint: Promise<string | null> | null = null;
  private pathsById = new Map<bigint, string>();
  private lastWalk: Walk | null = null;

  constructor(options: CgroupDirectoryIndexOptions = {}) {
    this.mountCandidates = options.mountCandidates ?? ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"];
    this.maxDirectories = options.maxDirectories ?? defaultMaxDirectories;
    this.walkDeadlineMs = options.walkDeadlineMs ?? defaultWalkDeadlineMs;
  }

  /** The cgroup path ("/kubepods/.../<id>") of cgroup ID, asked at `askedAtMs`; null when no cgroup2 mount is reachable or no directory has that id. */
  async pathOf(id: bigint, askedAtMs = Date.now()): Promise<string | null> {
    const known = this.pathsById.get(id);
    if (known !== undefined) return known;
    const mountPoint = await (this.mountPoint ??= findCgroup2Mount(this.mountCandidates));
    if (mountPoint === null) return null;
    // A walk that began before the question may have missed a cgroup made since: walk again,
    // after it. At most one walk runs and one waits; later questions join the waiting one.
    let walk = this.lastWalk;
    if (walk === null || (walk.begunAtMs !== null && walk.begunAtMs < askedAtMs)) {
      const previous = walk;
      const next: Walk = {
        begunAtMs: null,
        done: (previous?.done ?? Promise.resolve()).then(async () => {
          const waitMs = (previous?.begunAtMs ?? 0) + minWalkIntervalMs - Date.now();
          if (waitMs > 0) await sleep(waitMs);
          next.begunAtMs = Date.now();
          return this.walk(mountPoint);
        }),
      };
      walk = next;
      this.lastWalk = next;
    }
    await walk.done;
    return this.pathsById.get(id) ?? null;
  }

  /** Indexes every cgroup directory under MOUNTPOINT (breadth first, bounded), replacing the last index. */
  private async walk(mountPoint: string): Promise<void> {
    const deadline = Date.now() + this.walkDeadlineMs;
    const found = new Map<bigint, string>();
    const queue: { readonly path: string; readonly depth: number }[] = [{ path: "/", depth: 0 }];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (found.size >= this.maxDirectories || Date.now() > deadline) break;
      const directory = next.path === "/" ? mountPoint : `${mountPoint}${next.path}`;
      try {
        found.set((await stat(directory, { bigint: true })).ino, next.path);
        if (next.depth >= maxDepth) continue;
        const entries = await opendir(directory, { bufferSize: 128 });
        for await (const entry of entries) {
          if (entry.isDirectory()) queue.push({ path: next.path === "/" ? `/${entry.name}` : `${next.path}/${entry.name}`, depth: next.depth + 1 });
        }
      } catch {
        // Removed while walking, or unreadable: its id is simply not indexed.
      }
    }
    this.pathsById = found;
  }
}

async function findCgroup2Mount(candidates: readonly string[]): Promise<string | null> {
  for (const candidate of candidates) {
    try {
      if ((await statfs(candidate)).type === cgroup2SuperMagic) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}
