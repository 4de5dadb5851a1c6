/**
 * Any Kubernetes runtime: the kubelet links every container's log as
 * `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` ->
 * `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`. Kubernetes names cannot contain
 * "_" and the id has no "-", so the split is unambiguous. The link says nothing of the image or
 * the runtime. The directory listing is kept briefly: a burst of new containers reads it once.
 */
import type { ContainerNames, ContainerNameSource, SourceContext } from "./container-names.js";
import type { KubernetesNames } from "../events.js";

/** Links listed at most (a node's pods' containers, with restarts, are a few hundred). */
const maxLinks = 20_000;
/** How long one listing of the directory serves lookups. */
const listingReuseMs = 2_000;

export function kubeletLogLinkSource(): ContainerNameSource {
  let listing: { names: Promise<string[] | null>; atMs: number } | null = null;
  const linkNames = (context: SourceContext): Promise<string[] | null> => {
    const nowMs = Date.now();
    if (listing === null || nowMs - listing.atMs > listingReuseMs) listing = { names: context.list(context.paths.kubeletLogDir, maxLinks), atMs: nowMs };
    return listing.names;
  };
  return {
    source: "kubelet-log-link",
    async find(lookup, context) {
      const suffix = `-${lookup.container.id}.log`;
      const link = (await linkNames(context))?.find((name) => name.endsWith(suffix));
      if (link === undefined) return null;
      const names = namesFromLogLink(link, lookup.container.id, await context.readLink(`${context.paths.kubeletLogDir}/${link}`));
      if (names === null) context.note("malformed");
      return names;
    },
  };
}

/** Names from a link's file name and target; null when the name is not the kubelet's shape. */
export function namesFromLogLink(linkName: string, id: string, target: string | null): ContainerNames | null {
  const parts = linkName.slice(0, -`-${id}.log`.length).split("_");
  if (parts.length !== 3 || parts.some((part) => part.length === 0 || part.length > 253)) return null;
  const [pod, namespace, container] = parts as [string, string, string];
  const kubernetes: KubernetesNames = { namespace, pod, podUid: podUidOfTarget(target, namespace, pod), container };
  return { runtime: null, name: container, image: null, kubernetes, ecs: null };
}

/** ".../<namespace>_<pod>_<uid>/<container>/<n>.log" -> uid, when namespace and pod agree with the link's. */
function podUidOfTarget(target: string | null, namespace: string, pod: string): string | null {
  const podDirectory = target?.split("/").at(-3);
  if (podDirectory === undefined) return null;
  const [targetNamespace, targetPod, uid] = podDirectory.split("_");
  return targetNamespace === namespace && targetPod === pod && uid !== undefined && /^[0-9a-f-]{36}$/.test(uid) ? uid : null;
}
