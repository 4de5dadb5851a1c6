/**
 * The cgroup enricher: /proc/PID/cgroup -> cgroup v2 path, container (runtime + id), Kubernetes
 * pod uid and systemd unit. Container runtimes name cgroups by convention only, so this is a
 * table of the forms seen in the wild; anything else yields null rather than a guess.
 */
import type { ContainerInfo, ProcessPlacement } from "../events.js";
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
  { pattern: /^crio-([0-9a-f]{64})\.scope$/, runtime: "cri-o" },
  { pattern: /^libpod-([0-9a-f]{64})(?:\.scope)?$/, runtime: "podman" },
  // containerd with a cgroupfs kubelet under a systemd-managed containerd (kind, k3s):
  // "kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>".
  { pattern: /^kubepods[-a-z]*-pod[0-9a-f_]{36}\.slice:cri-containerd:([0-9a-f]{64})$/, runtime: "containerd" },
  { pattern: /^lxc\.payload\.(.+)$/, runtime: "lxc" },
] as const satisfies readonly { pattern: RegExp; runtime: ContainerInfo["runtime"] }[];

const containerIdPattern = /^[0-9a-f]{64}$/;
const systemdPodSlicePattern = /^kubepods[-a-z]*-pod([0-9a-f_]{36})\.slice(?::|$)/;
const cgroupfsPodPattern = /^pod([0-9a-f-]{36})$/;
const systemdUnitPattern = /\.(?:service|scope)$/;

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
  let container: ContainerInfo | null = null;
  let kubernetesPodUid: string | null = null;
  for (const path of candidates) {
    const components = path.split("/").filter((component) => component.length > 0);
    container ??= containerFromComponents(components);
    kubernetesPodUid ??= podUidFromComponents(components);
    if (container !== null && kubernetesPodUid !== null) break;
  }

  const unitSource = v2Path !== null && v2Path !== "/" ? v2Path : systemdV1Path;
  return { cgroup: v2Path, container, kubernetesPodUid, systemdUnit: unitSource === null ? null : systemdUnitFromPath(unitSource) };
}

function containerFromComponents(components: readonly string[]): ContainerInfo | null {
  for (let index = components.length - 1; index >= 0; index--) {
    const component = components[index]!;
    for (const { pattern, runtime } of containerScopePatterns) {
      const match = pattern.exec(component);
      if (match !== null) return { runtime, id: match[1]! };
    }
    if (containerIdPattern.test(component)) {
      // cgroupfs driver: "/docker/<id>" is docker; "/kubepods/<qos>/pod<uid>/<id>" (containerd
      // or dockershim), "/ecs/<task>/<id>" and others do not say which runtime made them.
      return { runtime: components[index - 1] === "docker" ? "docker" : "unknown", id: component };
    }
    if (component === "lxc" && index === 0 && components.length > 1) {
      return { runtime: "lxc", id: components[1]! }; // LXC before 4.0: "/lxc/NAME"
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
