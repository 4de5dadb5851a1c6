/**
 * containerd (EKS, k3s, plain ctr): each running container has an OCI bundle,
 * `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`, whose annotations the
 * CRI plugin fills with the pod's and container's names (containerd >= 1.5; the pod uid since
 * 1.6.11). The bundle is found through the containerd-shim among the caller's ancestors: its
 * working directory is a bundle of that task directory (its own container's, or, when one shim
 * serves a whole pod, the pod sandbox's), whatever the state directory is. Reading through
 * /proc/<shim>/cwd also works from inside a container that does not mount the host's /run.
 * Without a shim in sight, the state directories are tried.
 *
 * Docker runs its containers in containerd's "moby" namespace, with no names in the bundle: the
 * answer is then only "runtime docker", and the lookup goes on to Docker's own file.
 */
import { kubernetesContainerNames, type ContainerNames, type ContainerNameSource, type KubernetesKeys, type SourceContext } from "./container-names.js";
import type { ParentProcess } from "../events.js";
import { nameField, objectField } from "./runtime-files.js";

const taskDirectoryName = "io.containerd.runtime.v2.task";
/** containerd namespaces looked into when no shim is in sight (a node has a handful). */
const maxNamespaces = 64;
const namespacePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,75}$/;

/** The CRI plugin's annotations (containerd pkg/cri/annotations). */
const containerTypeKey = "io.kubernetes.cri.container-type";
const criKeys: KubernetesKeys = {
  namespace: "io.kubernetes.cri.sandbox-namespace",
  pod: "io.kubernetes.cri.sandbox-name",
  podUid: "io.kubernetes.cri.sandbox-uid",
  container: "io.kubernetes.cri.container-name",
  image: "io.kubernetes.cri.image-name",
};

export const containerdBundleSource: ContainerNameSource = {
  source: "containerd-bundle",
  runtimes: ["containerd", "docker", "unknown"],
  async find(lookup, context) {
    const id = lookup.container.id;
    for (const shim of await context.runtimeAncestors(lookup, isContainerdShim)) {
      const shimDirectory = `${context.paths.procRoot}/${shim.pid}/cwd`;
      const bundle = await context.readLink(shimDirectory);
      const namespace = bundle === null ? null : namespaceOfBundle(bundle);
      if (namespace === null) continue;
      // The bundle of this container is a sibling of the shim's own ("<ns>/<id>").
      const spec = await context.readJson(`${shimDirectory}/../${id}/config.json`);
      if (spec !== null) return namesFromSpec(spec, namespace, context);
    }
    for (const stateDirectory of context.paths.containerdStateDirs) {
      const namespaces = await context.list(`${stateDirectory}/${taskDirectoryName}`, maxNamespaces);
      for (const namespace of namespaces ?? []) {
        if (!namespacePattern.test(namespace)) continue;
        const spec = await context.readJson(`${stateDirectory}/${taskDirectoryName}/${namespace}/${id}/config.json`);
        if (spec !== null) return namesFromSpec(spec, namespace, context);
      }
    }
    return null;
  },
};

/** containerd-shim-runc-v2 (comm is cut to 15 bytes: "containerd-shim"), -runc-v1, and the old v1 shim. */
function isContainerdShim(parent: ParentProcess): boolean {
  return parent.comm.startsWith("containerd-shim");
}

/** ".../io.containerd.runtime.v2.task/<namespace>/<id>" -> namespace; null for any other directory. */
function namespaceOfBundle(bundle: string): string | null {
  const parts = bundle.split("/");
  const namespace = parts.at(-2);
  return parts.at(-3) === taskDirectoryName && namespace !== undefined && namespacePattern.test(namespace) ? namespace : null;
}

/** What a bundle's config.json names. */
export function namesFromSpec(spec: unknown, namespace: string, context: Pick<SourceContext, "note">): ContainerNames {
  const runtimeOnly: ContainerNames = { runtime: namespace === "moby" ? "docker" : "containerd", name: null, image: null, kubernetes: null, ecs: null };
  if (namespace === "moby") return runtimeOnly;
  const specObject = objectField(spec);
  const annotations = specObject?.["annotations"] === undefined ? {} : objectField(specObject["annotations"]);
  if (specObject === null || annotations === null) {
    context.note("malformed");
    return runtimeOnly;
  }
  const containerType = nameField(annotations[containerTypeKey]);
  if (containerType === null) return runtimeOnly; // not made by the CRI plugin (ctr, nerdctl): no names
  return kubernetesContainerNames("containerd", annotations, criKeys, containerType !== "container");
}
