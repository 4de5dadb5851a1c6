/**
 * Docker (and ECS on EC2, whose agent runs tasks as Docker containers): the container's
 * `<data-root>/containers/<id>/config.v2.json` holds `Name` ("/name"), `Config.Image` (as the
 * operator typed it) and `Config.Labels`, where the ECS agent puts the task's ARN, family,
 * revision, cluster and container name, and cri-dockerd the pod's names. The data-root is
 * /var/lib/docker unless /etc/docker/daemon.json or a running dockerd's command line says
 * otherwise: daemon.json's and the default are tried first, and running dockerd processes are
 * looked for (a /proc scan) only when a container is in none of the roots known so far.
 */
import type { ContainerNames, ContainerNameSource, SourceContext } from "./container-names.js";
import type { EcsNames, KubernetesNames } from "../events.js";
import { forEachWithConcurrency, pidsFromDirectoryNames, readBoundedText } from "./procfs-read.js";
import { nameField, objectField } from "./runtime-files.js";

/** The ECS agent's container labels (amazon-ecs-agent, agent/dockerclient). */
const ecsLabel = {
  cluster: "com.amazonaws.ecs.cluster",
  taskArn: "com.amazonaws.ecs.task-arn",
  family: "com.amazonaws.ecs.task-definition-family",
  revision: "com.amazonaws.ecs.task-definition-version",
  container: "com.amazonaws.ecs.container-name",
} as const;

/** The kubelet's labels, as cri-dockerd (formerly dockershim) sets them on Docker containers. */
const kubernetesLabel = {
  namespace: "io.kubernetes.pod.namespace",
  pod: "io.kubernetes.pod.name",
  podUid: "io.kubernetes.pod.uid",
  container: "io.kubernetes.container.name",
} as const;

/** Least time between two scans of /proc for dockerd (a scan reads every process's comm). */
const minRescanMs = 5_000;
const maxScannedPids = 65_536;

/**
 * The data-roots Docker may be using; shared by all lookups of one enricher. The roots found are
 * believed until a container is missing from all of them: only then is /proc scanned again for
 * running dockerd processes. A lookup races Docker's removal of a short-lived container (`docker
 * run --rm` deletes config.v2.json some 100 ms after the container's last process exits), so
 * the common case, a data-root daemon.json or the default names, costs one file read and no scan.
 */
export class DockerDataRoots {
  private known: { roots: readonly string[]; atMs: number } | null = null;
  private scanning: Promise<readonly string[]> | null = null;

  /**
   * Roots worth trying before any scan: those last found, or, before the first scan, daemon.json's
   * and the default (one small file read).
   */
  async believed(context: SourceContext): Promise<readonly string[]> {
    if (this.known !== null) return this.known.roots;
    const configured = await dataRootOfConfig(`${context.paths.etcRoot}/docker/daemon.json`, context);
    return configured === null ? [context.paths.dockerDataRoot] : [configured, context.paths.dockerDataRoot];
  }

  /** The roots with those of running dockerd processes, scanning /proc unless a scan ran within `minRescanMs`. */
  async rescanned(context: SourceContext): Promise<readonly string[]> {
    if (this.known !== null && Date.now() - this.known.atMs < minRescanMs) return this.known.roots;
    this.scanning ??= this.read(context).then((roots) => {
      this.known = { roots, atMs: Date.now() };
      this.scanning = null;
      return roots;
    });
    return this.scanning;
  }

  private async read(context: SourceContext): Promise<string[]> {
    const roots = new Set<string>();
    const configured = await dataRootOfConfig(`${context.paths.etcRoot}/docker/daemon.json`, context);
    if (configured !== null) roots.add(configured);
    for (const argv of await dockerdCommandLines(context)) {
      const fromArgs = dataRootOfArgs(argv);
      if (fromArgs !== null) roots.add(fromArgs);
      const configFile = optionValue(argv, ["--config-file"]);
      const fromConfigFile = configFile === null ? null : await dataRootOfConfig(configFile, context);
      if (fromConfigFile !== null) roots.add(fromConfigFile);
    }
    roots.add(context.paths.dockerDataRoot);
    return [...roots];
  }
}

export function dockerConfigSource(dataRoots = new DockerDataRoots()): ContainerNameSource {
  return {
    source: "docker-config",
    runtimes: ["docker", "unknown"],
    async find(lookup, context) {
      const id = lookup.container.id;
      const tried = new Set<string>();
      for (const roots of [() => dataRoots.believed(context), () => dataRoots.rescanned(context)]) {
        for (const root of await roots()) {
          if (tried.has(root)) continue;
          tried.add(root);
          const config = await context.readJson(`${root}/containers/${id}/config.v2.json`);
          if (config !== null) return namesFromDockerConfig(config, context);
        }
      }
      return null;
    },
  };
}

/** What a config.v2.json names. */
export function namesFromDockerConfig(config: unknown, context: Pick<SourceContext, "note">): ContainerNames | null {
  const root = objectField(config);
  const containerConfig = objectField(root?.["Config"]);
  if (root === null || containerConfig === null) {
    context.note("malformed");
    return null;
  }
  const labels = objectField(containerConfig["Labels"]) ?? {};
  const name = nameField(root["Name"]);
  return {
    runtime: "docker",
    name: name === null ? null : name.replace(/^\//, ""),
    image: nameField(containerConfig["Image"]),
    kubernetes: kubernetesOfLabels(labels),
    ecs: ecsOfLabels(labels),
  };
}

function ecsOfLabels(labels: Readonly<Record<string, unknown>>): EcsNames | null {
  const taskArn = nameField(labels[ecsLabel.taskArn]);
  const names: EcsNames = {
    cluster: nameField(labels[ecsLabel.cluster]),
    taskArn,
    // arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/TASK-ID (or task/TASK-ID before 2018)
    taskId: taskArn === null ? null : (/:task\/(?:[^/]+\/)?([^/]+)$/.exec(taskArn)?.[1] ?? null),
    family: nameField(labels[ecsLabel.family]),
    revision: nameField(labels[ecsLabel.revision]),
    container: nameField(labels[ecsLabel.container]),
  };
  return Object.values(names).some((value) => value !== null) ? names : null;
}

function kubernetesOfLabels(labels: Readonly<Record<string, unknown>>): KubernetesNames | null {
  const names: KubernetesNames = {
    namespace: nameField(labels[kubernetesLabel.namespace]),
    pod: nameField(labels[kubernetesLabel.pod]),
    podUid: nameField(labels[kubernetesLabel.podUid]),
    container: nameField(labels[kubernetesLabel.container]),
  };
  return Object.values(names).some((value) => value !== null) ? names : null;
}

async function dataRootOfConfig(path: string, context: SourceContext): Promise<string | null> {
  const config = objectField(await context.readJson(path));
  // "graph" is the name data-root had before Docker 17.05.
  const root = nameField(config?.["data-root"]) ?? nameField(config?.["graph"]);
  return root !== null && root.startsWith("/") ? root : null;
}

function dataRootOfArgs(argv: readonly string[]): string | null {
  const root = optionValue(argv, ["--data-root", "--graph", "-g"]);
  return root !== null && root.startsWith("/") ? root : null;
}

/** `--name VALUE` or `--name=VALUE` for any of NAMES; null when absent. */
function optionValue(argv: readonly string[], names: readonly string[]): string | null {
  for (let index = 1; index < argv.length; index++) {
    const argument = argv[index]!;
    if (names.includes(argument) && index + 1 < argv.length) return argv[index + 1]!;
    for (const name of names) if (name.startsWith("--") && argument.startsWith(`${name}=`)) return argument.slice(name.length + 1);
  }
  return null;
}

/** Command lines of running dockerd processes (comm "dockerd"). */
async function dockerdCommandLines(context: SourceContext): Promise<string[][]> {
  const procRoot = context.paths.procRoot;
  const entries = await context.list(procRoot, maxScannedPids + 1024);
  const commandLines: string[][] = [];
  await forEachWithConcurrency(pidsFromDirectoryNames(entries ?? [], maxScannedPids), 8, async (pid) => {
    try {
      if ((await readBoundedText(`${procRoot}/${pid}/comm`, 64)) !== "dockerd\n") return;
      const cmdline = await readBoundedText(`${procRoot}/${pid}/cmdline`, 64 * 1024);
      commandLines.push(cmdline.split("\0").filter((argument) => argument.length > 0));
    } catch {
      // gone meanwhile
    }
  });
  return commandLines;
}
