/**
 * deploy/kubernetes/daemonset.yaml, read for the tests: its documents parsed (the `yaml`
 * package), the parts the tests check narrowed to typed shapes (a wrong shape throws, naming
 * the field), and the pod's settings turned into the `podman run` options that give a container
 * what the kubelet would give it (test/live/daemonset-container.test.ts runs the image that way).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repositoryRoot } from "./packed-package.js";

export const manifestPath = join(repositoryRoot, "deploy", "kubernetes", "daemonset.yaml");

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}

export interface Volume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly emptyDir?: { readonly medium?: string; readonly sizeLimit?: string };
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly args: readonly string[];
  readonly env?: readonly { readonly name: string; readonly value: string }[];
  readonly securityContext: {
    readonly runAsUser?: number;
    readonly runAsGroup?: number;
    readonly privileged?: boolean;
    readonly allowPrivilegeEscalation?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly capabilities: { readonly drop: readonly string[]; readonly add: readonly string[] };
    readonly seccompProfile?: { readonly type: string };
  };
  readonly resources: { readonly requests: Record<string, string>; readonly limits: Record<string, string> };
  readonly volumeMounts: readonly VolumeMount[];
}

export interface PodSpec {
  readonly hostPID?: boolean;
  readonly hostNetwork?: boolean;
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly nodeSelector?: Record<string, string>;
  readonly containers: readonly ContainerSpec[];
  readonly volumes: readonly Volume[];
}

export interface DaemonSetManifest {
  readonly documents: readonly KubeObject[];
  readonly namespace: KubeObject;
  readonly serviceAccount: KubeObject;
  readonly daemonSet: KubeObject;
  readonly podLabels: Record<string, string>;
  readonly selector: Record<string, string>;
  readonly pod: PodSpec;
  /** The one container. */
  readonly container: ContainerSpec;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (!isRecord(current)) throw new Error(`${manifestPath}: ${path} is missing (no object at ${key})`);
    current = current[key];
  }
  return current;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${manifestPath}: ${what} is not a mapping`);
  return value;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${manifestPath}: ${what} is not a list`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new Error(`${manifestPath}: ${what} is not a string`);
  return value;
}

function stringMap(value: unknown, what: string): Record<string, string> {
  const map = record(value, what);
  for (const [key, entry] of Object.entries(map)) text(entry, `${what}.${key}`);
  return map as Record<string, string>;
}

function kubeObject(value: unknown, index: number): KubeObject {
  const object = record(value, `document ${index}`);
  text(object["apiVersion"], `document ${index} apiVersion`);
  text(object["kind"], `document ${index} kind`);
  text(field(object, "metadata.name"), `document ${index} metadata.name`);
  return object as KubeObject;
}

function containerSpec(value: unknown, index: number): ContainerSpec {
  const what = `containers[${index}]`;
  const container = record(value, what);
  text(container["name"], `${what}.name`);
  text(container["image"], `${what}.image`);
  list(container["args"], `${what}.args`).forEach((arg, at) => text(arg, `${what}.args[${at}]`));
  const capabilities = record(field(container, "securityContext.capabilities"), `${what}.securityContext.capabilities`);
  for (const key of ["drop", "add"]) list(capabilities[key], `${what}.securityContext.capabilities.${key}`).forEach((name, at) => text(name, `${what}.securityContext.capabilities.${key}[${at}]`));
  stringMap(field(container, "resources.requests"), `${what}.resources.requests`);
  stringMap(field(container, "resources.limits"), `${what}.resources.limits`);
  for (const [at, mount] of list(container["volumeMounts"], `${what}.volumeMounts`).entries()) {
    const entry = record(mount, `${what}.volumeMounts[${at}]`);
    text(entry["name"], `${what}.volumeMounts[${at}].name`);
    text(entry["mountPath"], `${what}.volumeMounts[${at}].mountPath`);
  }
  return container as unknown as ContainerSpec;
}

/** Parses the manifest; throws naming the file and field when its shape is not what Kubernetes takes here. */
export function readDaemonSetManifest(path = manifestPath): DaemonSetManifest {
  const parsed = parseAllDocuments(readFileSync(path, "utf8"));
  if (!Array.isArray(parsed)) throw new Error(`${path}: not a YAML stream`);
  const documents = parsed.map((document, index) => {
    if (document.errors.length > 0) throw new Error(`${path}: document ${index}: ${document.errors.map((error) => error.message).join("; ")}`);
    return kubeObject(document.toJS(), index);
  });
  const only = (kind: string): KubeObject => {
    const found = documents.filter((document) => document.kind === kind);
    if (found.length !== 1) throw new Error(`${path}: ${found.length} documents of kind ${kind}, expected 1`);
    return found[0]!;
  };
  const daemonSet = only("DaemonSet");
  const pod = record(field(daemonSet, "spec.template.spec"), "spec.template.spec");
  const containers = list(pod["containers"], "spec.template.spec.containers").map(containerSpec);
  for (const [at, volume] of list(pod["volumes"], "spec.template.spec.volumes").entries()) text(record(volume, `volumes[${at}]`)["name"], `volumes[${at}].name`);
  if (containers.length !== 1) throw new Error(`${path}: ${containers.length} containers in the pod, expected 1`);
  return {
    documents,
    namespace: only("Namespace"),
    serviceAccount: only("ServiceAccount"),
    daemonSet,
    podLabels: stringMap(field(daemonSet, "spec.template.metadata.labels"), "spec.template.metadata.labels"),
    selector: stringMap(field(daemonSet, "spec.selector.matchLabels"), "spec.selector.matchLabels"),
    pod: pod as unknown as PodSpec,
    container: containers[0]!,
  };
}

/** The host path behind each mount of the container (hostPath volumes only), by mount path. */
export function hostPathMounts(manifest: DaemonSetManifest): { mountPath: string; hostPath: string; readOnly: boolean; type: string | null }[] {
  const volumes = new Map(manifest.pod.volumes.map((volume) => [volume.name, volume]));
  return manifest.container.volumeMounts.flatMap((mount) => {
    const hostPath = volumes.get(mount.name)?.hostPath;
    return hostPath === undefined ? [] : [{ mountPath: mount.mountPath, hostPath: hostPath.path, readOnly: mount.readOnly === true, type: hostPath.type ?? null }];
  });
}

/** Linux capability names as the manifest writes them ("NET_RAW") -> the kernel's ("CAP_NET_RAW"). */
export function kernelCapabilityName(name: string): string {
  return `CAP_${name.toUpperCase()}`;
}

/**
 * The `podman run` options that give a container what the kubelet gives the DaemonSet's pod:
 * host PID namespace, host network (of whatever namespace podman runs in: the tests run it
 * with nsenter --net in a test namespace) and host name, the user, capabilities, seccomp, no_new_privs,
 * read-only root, environment, emptyDir volumes as tmpfs (exec allowed, as the kubelet mounts
 * them) and hostPath volumes read-only or not as the manifest says. `hostPathOnThisMachine`
 * says where each hostPath is on this machine (a test's private runtime directories stand in
 * for the node's).
 */
export function podmanRunOptions(manifest: DaemonSetManifest, hostPathOnThisMachine: (hostPath: string) => string): string[] {
  const { pod, container } = manifest;
  const security = container.securityContext;
  const options: string[] = [];
  if (pod.hostPID === true) options.push("--pid=host");
  // The kubelet gives a host-network pod the node's UTS namespace (its host name) too.
  if (pod.hostNetwork === true) options.push("--network=host", "--uts=host");
  options.push(`--user=${security.runAsUser ?? 0}:${security.runAsGroup ?? 0}`);
  if (security.privileged === true) options.push("--privileged");
  for (const name of security.capabilities.drop) options.push(`--cap-drop=${name.toLowerCase()}`);
  for (const name of security.capabilities.add) options.push(`--cap-add=${kernelCapabilityName(name)}`);
  if (security.seccompProfile?.type === "Unconfined") options.push("--security-opt=seccomp=unconfined");
  if (security.allowPrivilegeEscalation === false) options.push("--security-opt=no-new-privileges");
  // podman would mount tmpfs of its own over /run, /tmp and /var/tmp of a read-only container.
  if (security.readOnlyRootFilesystem === true) options.push("--read-only", "--read-only-tmpfs=false");
  for (const variable of container.env ?? []) options.push(`--env=${variable.name}=${variable.value}`);
  const volumes = new Map(pod.volumes.map((volume) => [volume.name, volume]));
  for (const mount of container.volumeMounts) {
    const volume = volumes.get(mount.name);
    if (volume === undefined) throw new Error(`${manifestPath}: volumeMount ${mount.name} names no volume`);
    if (volume.emptyDir !== undefined) {
      const size = volume.emptyDir.sizeLimit === undefined ? "" : `,size=${volume.emptyDir.sizeLimit.replace(/Mi$/, "m")}`;
      options.push(`--tmpfs=${mount.mountPath}:rw,exec,mode=1777${size}`);
    } else if (volume.hostPath !== undefined) {
      options.push(`--volume=${hostPathOnThisMachine(volume.hostPath.path)}:${mount.mountPath}:${mount.readOnly === true ? "ro" : "rw"}`);
    } else {
      throw new Error(`${manifestPath}: volume ${mount.name} is neither emptyDir nor hostPath (the test does not know how to give it)`);
    }
  }
  return options;
}
