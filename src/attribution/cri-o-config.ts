/**
 * CRI-O: the container's OCI config.json, in its containers/storage directory
 * (`<root>/overlay-containers/<id>/userdata/`, found through conmon's `-b`, else under the run
 * and graph roots). CRI-O copies the kubelet's labels into the spec's annotations
 * (`io.kubernetes.pod.name`, `.pod.namespace`, `.pod.uid`, `.container.name`) and adds its own
 * (`io.kubernetes.cri-o.ImageName`, `io.container.manager=cri-o`): cri-o
 * internal/factory/container/container.go, SpecAddAnnotations. podman writes the same file with
 * `io.container.manager=libpod` and no names: that answer is "runtime podman", and the lookup
 * goes on to podman's storage.
 */
import { kubernetesContainerNames, type ContainerNames, type ContainerNameSource, type KubernetesKeys, type SourceContext } from "./container-names.js";
import { conmonBundleDirectories } from "./conmon-bundle.js";
import { nameField, objectField } from "./runtime-files.js";

const managerKey = "io.container.manager";
const containerTypeKey = "io.kubernetes.cri-o.ContainerType";
const crioKeys: KubernetesKeys = {
  namespace: "io.kubernetes.pod.namespace",
  pod: "io.kubernetes.pod.name",
  podUid: "io.kubernetes.pod.uid",
  container: "io.kubernetes.container.name",
  image: "io.kubernetes.cri-o.ImageName",
};

export const criOConfigSource: ContainerNameSource = {
  source: "cri-o-config",
  runtimes: ["cri-o", "podman", "unknown"],
  async find(lookup, context) {
    const id = lookup.container.id;
    const directories = [
      ...(await conmonBundleDirectories(lookup, context)),
      ...context.paths.containersStorageRoots.map((root) => `${root}/overlay-containers/${id}/userdata`),
    ];
    for (const directory of directories) {
      const spec = await context.readJson(`${directory}/config.json`);
      if (spec !== null) return namesFromCriOSpec(spec, context);
    }
    return null;
  },
};

/** What a CRI-O (or podman) config.json names. */
export function namesFromCriOSpec(spec: unknown, context: Pick<SourceContext, "note">): ContainerNames | null {
  const annotations = objectField(objectField(spec)?.["annotations"]);
  if (annotations === null) {
    context.note("malformed");
    return null;
  }
  const manager = nameField(annotations[managerKey]);
  if (manager === "libpod") return { runtime: "podman", name: null, image: null, kubernetes: null, ecs: null };
  if (manager !== "cri-o") return null;
  return kubernetesContainerNames("cri-o", annotations, crioKeys, nameField(annotations[containerTypeKey]) === "sandbox");
}
