/**
 * The cgroup enricher: /proc/PID/cgroup -> cgroup v2 path, container (runtime + id), Kubernetes
 * pod uid and systemd unit. Container runtimes name cgroups by convention only, so this is a
 * table of the forms seen in the wild; anything else yields null rather than a guess.
 */
import type { ContainerInfo, ContainerRuntime, ProcessPlacement } from "../events.js";
import type { ProcessEnricher } from "./enrichment.js";

/** What the cgroup file says: the whole placement, as far as path conventions tell. */
export type CgroupInfo = ProcessPlacement;

/** The first enricher: everything else keys on the container id found here. */
export const cgroupEnricher: ProcessEnricher = {
  name: "cgroup",
  enrich: (input, placement) => (input.cgroupFile === null ? placement : { ...placement, ...parseCgroup(input.cgroupFile) }),
};

/** The kernel appends this to the path of a cgroup that was removed while the process was in it. */
const deletedSuffix = " (deleted)";

/** One path component -> container, tried from the innermost component outwards. */
const containerScopePatterns = [
  // systemd cgroup driver: docker, containerd (CRI and nerdctl), cri-o, podman. The "-conmon-"
  // scopes of cri-o and podman hold the monitor process, not the container: not matched.
  { pattern: /^docker-([0-9a-f]{64})\.scope$/, runtime: "docker" },
  { pattern: /^cri-containerd-([0-9a-f]{64})\.scope$/, runtime: "containerd" },
  { pattern: /^nerdctl-([0-9a-f]{64})\.scope$/, runtime: "containerd" },
  // cri-o: "crio-<id>.scope" (systemd driver), "crio-<id>" (cgroupfs driver).
  { pattern: /^crio-([0-9a-f]{64})(?:\.scope)?$/, runtime: "cri-o" },
  // podman: "libpod-<id>.scope" (systemd), "/libpod_parent/libpod-<id>" (cgroupfs).
  { pattern: /^libpod-([0-9a-f]{64})(?:\.scope)?$/, runtime: "podman" },
  // containerd with a cgroupfs kubelet under a systemd-managed containerd (kind, k3s):
  // "kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>".
  { pattern: /^kubepods[-a-z]*-pod[0-9a-f_]{36}\.slice:cri-containerd:([0-9a-f]{64})$/, runtime: "containerd" },
  { pattern: /^lxc\.payload\.(.+)$/, runtime: "lxc" },
] as const satisfies readonly { pattern: RegExp; runtime: ContainerRuntime }[];

const containerIdPattern = /^[0-9a-f]{64}$/;
const systemdPodSlicePattern = /^kubepods[-a-z]*-pod([0-9a-f_]{36})\.slice(?::|$)/;
const cgroupfsPodPattern = /^pod([0-9a-f-]{36})$/;
const systemdUnitPattern = /\.(?:service|scope)$/;
/** ECS task ids: 32 hex digits (ARN format of 2018 on) or a UUID (older tasks). */
const ecsTaskIdPattern = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** ECS agent, systemd driver: "/ecstasks.slice/ecstasks-<task>.slice/docker-<id>.scope". */
const ecsTaskSlicePattern = /^ecstasks-([0-9a-f]{32})\.slice$/;

export function parseCgroup(text: string): CgroupInfo {
  let v2Path: string | null = null;
  let systemdV1Path: string | null = null;
  const v1Paths: string[] = [];
  for (const line of text.split("\n")) {
    const firstColon = line.indexOf(":");
    const secondColon = firstColon < 0 ? -1 : line.indexOf(":", firstColon + 1);
    if (secondColon < 0) continue;
    const hierarchyId = line.slice(0, firstColon);
    const controllers = line.slice(firstColon + 1, secondColon);
    let path = line.slice(secondColon + 1);
    if (path.endsWith(deletedSuffix)) path = path.slice(0, -deletedSuffix.length);
    if (hierarchyId === "0" && controllers === "") v2Path = path;
    else if (controllers === "name=systemd") systemdV1Path = path;
    else v1Paths.push(path);
  }

  // cgroup v2 is authoritative when it names anything; a hybrid host (v1 controllers + an empty
  // v2 "0::/") or a pure v1 host still names the container in its v1 hierarchies.
  const candidates = [v2Path, systemdV1Path, ...v1Paths].filter((path): path is string => path !== null && path !== "/");
  let found: PathContainer | null = null;
  let kubernetesPodUid: string | null = null;
  for (const path of candidates) {
    const components = path.split("/").filter((component) => component.length > 0);
    found ??= containerFromComponents(components);
    kubernetesPodUid ??= podUidFromComponents(components);
    if (found !== null && kubernetesPodUid !== null) break;
  }

  const unitSource = v2Path !== null && v2Path !== "/" ? v2Path : systemdV1Path;
  return {
    cgroup: v2Path,
    container: found === null ? null : containerOfPath(found, kubernetesPodUid),
    kubernetesPodUid,
    systemdUnit: unitSource === null ? null : systemdUnitFromPath(unitSource),
  };
}

/** What one cgroup path says of a container: runtime (when its naming tells), id, ECS task. */
interface PathContainer {
  readonly runtime: ContainerRuntime;
  readonly id: string;
  readonly ecsTaskId: string | null;
}

/** The container as the cgroup path alone names it: nothing beyond what the path holds. */
function containerOfPath(found: PathContainer, podUid: string | null): ContainerInfo {
  return {
    runtime: found.runtime,
    id: found.id,
    name: null,
    image: null,
    kubernetes: podUid === null ? null : { namespace: null, pod: null, podUid, container: null },
    ecs: found.ecsTaskId === null ? null : { cluster: null, taskArn: null, taskId: found.ecsTaskId, family: null, revision: null, container: null },
    source: "cgroup",
  };
}

function containerFromComponents(components: readonly string[]): PathContainer | null {
  for (let index = components.length - 1; index >= 0; index--) {
    const component = components[index]!;
    const parent = components[index - 1];
    for (const { pattern, runtime } of containerScopePatterns) {
      const match = pattern.exec(component);
      if (match !== null) {
        const taskId = runtime === "docker" && parent !== undefined ? (ecsTaskSlicePattern.exec(parent)?.[1] ?? null) : null;
        return { runtime, id: match[1]!, ecsTaskId: taskId };
      }
    }
    if (containerIdPattern.test(component)) {
      // cgroupfs driver: "/docker/<id>" is docker; "/kubepods/<qos>/pod<uid>/<id>" (containerd
      // or dockershim), "/ecs/<task>/<id>" (the ECS agent's cgroup parent for docker), "/<ns>/<id>"
      // (plain ctr) and others do not say which runtime made them.
      const isEcsTask = parent !== undefined && ecsTaskIdPattern.test(parent) && components[index - 2] === "ecs";
      return { runtime: parent === "docker" ? "docker" : "unknown", id: component, ecsTaskId: isEcsTask ? parent : null };
    }
    if (component === "lxc" && index === 0 && components.length > 1) {
      return { runtime: "lxc", id: components[1]!, ecsTaskId: null }; // LXC before 4.0: "/lxc/NAME"
    }
  }
  return null;
}

function podUidFromComponents(components: readonly string[]): string | null {
  for (const component of components) {
    const systemdMatch = systemdPodSlicePattern.exec(component);
    if (systemdMatch !== null) return systemdMatch[1]!.replaceAll("_", "-");
    const cgroupfsMatch = cgroupfsPodPattern.exec(component);
    if (cgroupfsMatch !== null) return cgroupfsMatch[1]!;
  }
  return null;
}

function systemdUnitFromPath(path: string): string | null {
  const components = path.split("/");
  for (let index = components.length - 1; index >= 0; index--) {
    const component = components[index]!;
    if (systemdUnitPattern.test(component)) return component;
  }
  return null;
}
