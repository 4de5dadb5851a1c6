/**
 * deploy/kubernetes/daemonset.yaml's structure: the documents Kubernetes needs, the pod's host
 * namespaces, a security context with exactly the capabilities the manifest's own comment
 * claims (and those the capture needs), every hostPath read-only and at the path the enrichers
 * read (src/attribution/container-names.ts's defaults), no runtime socket in reach, and args the
 * CLI's own parser and option check accept. The image is run with these settings in
 * test/live/daemonset-container.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRuntimeFilePaths } from "../../src/attribution/container-names.js";
import { checkCaptureCommandLine } from "../../src/cli.js";
import { hostPathMounts, kernelCapabilityName, manifestPath, readDaemonSetManifest } from "../helpers/daemonset.js";
import { repositoryRoot } from "../helpers/packed-package.js";

const manifest = readDaemonSetManifest();
const containerfilePath = join(repositoryRoot, "deploy", "container", "Containerfile");

/** What live capture needs, and why (src/live/capture.ts, test/live/startup-capabilities.test.ts). */
const neededCapabilities = {
  NET_RAW: "libpcap's packet socket",
  BPF: "the eBPF map and program",
  PERFMON: "the tracepoint perf event and reading argv in the kernel",
  SYS_PTRACE: "other processes' /proc exe, fd, cwd and ns",
  DAC_READ_SEARCH: "other processes' 0500 /proc directories",
  SETPCAP: "dropping the bounding set after start",
} as const;

/** Linux's capability names (linux/capability.h), to find the ones a comment names. */
const linuxCapabilities = [
  "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT",
  "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
  "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
  "PERFMON", "BPF", "CHECKPOINT_RESTORE",
];

/** The capability names in the comment right above the manifest's `add:` line. */
function capabilitiesTheCommentClaims(): string[] {
  const lines = readFileSync(manifestPath, "utf8").split("\n");
  const addLine = lines.findIndex((line) => /^\s*add:\s*\[/.test(line));
  expect(addLine, "no capabilities add: [...] line").toBeGreaterThan(0);
  const comment: string[] = [];
  for (let index = addLine - 1; index >= 0 && /^\s*#/.test(lines[index]!); index--) comment.unshift(lines[index]!);
  const words = new Set(comment.join(" ").match(/\b[A-Z][A-Z_]+\b/g) ?? []);
  return linuxCapabilities.filter((name) => words.has(name));
}

/** Runtime sockets a hostPath must not reach: whoever opens one commands the runtime. */
const runtimeSockets = ["/run/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock", "/run/docker.sock", "/var/run/docker.sock", "/run/crio/crio.sock", "/var/run/crio/crio.sock", "/run/dockershim.sock"];

describe("deploy/kubernetes/daemonset.yaml", () => {
  it("holds a Namespace, a ServiceAccount without API token and a DaemonSet in it whose selector picks its pods", () => {
    expect(manifest.documents.map((document) => document.kind)).toEqual(["Namespace", "ServiceAccount", "DaemonSet"]);
    const namespace = manifest.namespace.metadata.name;
    expect(manifest.serviceAccount.metadata.namespace).toBe(namespace);
    expect(manifest.serviceAccount["automountServiceAccountToken"]).toBe(false);
    expect(manifest.daemonSet.apiVersion).toBe("apps/v1");
    expect(manifest.daemonSet.metadata.namespace).toBe(namespace);
    expect(Object.keys(manifest.selector).length).toBeGreaterThan(0);
    expect(manifest.podLabels).toMatchObject(manifest.selector);
    expect(manifest.pod.serviceAccountName).toBe(manifest.serviceAccount.metadata.name);
    expect(manifest.pod.automountServiceAccountToken).toBe(false);
    // hostPID and hostPath volumes need the privileged Pod Security level in that namespace.
    expect(manifest.namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
  });

  it("shares the node's PID namespace and network, on x64 Linux nodes (the image's executable)", () => {
    expect(manifest.pod.hostPID).toBe(true);
    expect(manifest.pod.hostNetwork).toBe(true);
    expect(manifest.pod.nodeSelector).toEqual({ "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" });
    expect(readFileSync(containerfilePath, "utf8")).toMatch(/^COPY imds-analyzer-linux-x64 \/usr\/local\/bin\/imds-analyzer$/m);
  });

  it("adds exactly the capabilities its comment claims, which are those the capture needs, to root without privilege or escalation", () => {
    const security = manifest.container.securityContext;
    expect(security.privileged).toBe(false);
    expect(security.allowPrivilegeEscalation).toBe(false);
    expect(security.readOnlyRootFilesystem).toBe(true);
    expect(security.runAsUser).toBe(0);
    expect(security.capabilities.drop).toEqual(["ALL"]);
    const added = [...security.capabilities.add].sort();
    expect(new Set(added).size, "a capability added twice").toBe(added.length);
    expect(added).toEqual(Object.keys(neededCapabilities).sort());
    expect(capabilitiesTheCommentClaims().sort()).toEqual(added);
    // The two the capture keeps after start (src/live/capture.ts) are among them.
    expect(added.map(kernelCapabilityName)).toEqual(expect.arrayContaining(["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]));
    // The runtimes' default seccomp profiles allow bpf() and perf_event_open() only with CAP_SYS_ADMIN.
    expect(security.seccompProfile).toEqual({ type: "Unconfined" });
  });

  it("mounts every host path read-only, at the path the enrichers read, and no runtime socket or /proc", () => {
    const mounts = hostPathMounts(manifest);
    for (const mount of mounts) {
      expect(mount.readOnly, `${mount.mountPath} is writable`).toBe(true);
      expect(mount.mountPath, "a host path is mounted elsewhere than where the enrichers look").toBe(mount.hostPath);
      for (const socket of runtimeSockets) expect(socket.startsWith(`${mount.hostPath}/`) || socket === mount.hostPath, `${mount.hostPath} reaches ${socket}`).toBe(false);
      // The runtime refuses a bind mount over /proc; hostPID gives the host's procfs.
      expect(mount.hostPath === "/proc" || mount.hostPath.startsWith("/proc/")).toBe(false);
    }
    expect(mounts.map((mount) => mount.hostPath).sort()).toEqual(
      [
        "/sys/kernel/tracing",
        "/sys/fs/cgroup",
        `${defaultRuntimeFilePaths.containerdStateDirs[0]}/io.containerd.runtime.v2.task`,
        defaultRuntimeFilePaths.containersStorageRoots[0],
        `${defaultRuntimeFilePaths.dockerDataRoot}/containers`,
        defaultRuntimeFilePaths.kubeletLogDir,
      ].sort(),
    );
    // Paths every Kubernetes node has must exist; a runtime's own may be absent (created empty).
    const types = Object.fromEntries(mounts.map((mount) => [mount.hostPath, mount.type]));
    expect(types).toEqual({
      "/sys/kernel/tracing": "Directory",
      "/sys/fs/cgroup": "Directory",
      "/run/containerd/io.containerd.runtime.v2.task": "DirectoryOrCreate",
      "/run/containers/storage": "DirectoryOrCreate",
      "/var/lib/docker/containers": "DirectoryOrCreate",
      "/var/log/containers": "Directory",
    });
    // The kubelet's links are read, never followed: the pods' logs (applications' output) stay out.
    expect(mounts.some((mount) => mount.hostPath === "/var/log" || mount.hostPath.startsWith("/var/log/pods"))).toBe(false);
  });

  it("gives the executable a writable, bounded /tmp for its addons, and every mount a volume", () => {
    const volumes = new Map(manifest.pod.volumes.map((volume) => [volume.name, volume]));
    const mounted = manifest.container.volumeMounts.map((mount) => mount.name);
    expect([...volumes.keys()].sort()).toEqual([...mounted].sort());
    const nonHostPath = manifest.container.volumeMounts.filter((mount) => volumes.get(mount.name)?.hostPath === undefined);
    expect(nonHostPath.map((mount) => mount.mountPath)).toEqual(["/tmp"]);
    expect(volumes.get(nonHostPath[0]!.name)?.emptyDir).toEqual({ medium: "Memory", sizeLimit: "16Mi" });
    expect(manifest.container.env).toContainEqual({ name: "TMPDIR", value: "/tmp" });
  });

  it("requests resources and bounds memory", () => {
    const { requests, limits } = manifest.container.resources;
    expect(Object.keys(requests).sort()).toEqual(["cpu", "memory"]);
    expect(limits["memory"]).toBeDefined();
    const mebibytes = (quantity: string): number => Number(/^(\d+)Mi$/.exec(quantity)?.[1] ?? Number.NaN);
    expect(mebibytes(limits["memory"]!)).toBeGreaterThanOrEqual(mebibytes(requests["memory"]!));
  });

  it("runs capture with args the CLI's parser and option check accept: every interface, events to standard output, until stopped", async () => {
    expect(manifest.container.args[0]).toBe("capture");
    const checked = await checkCaptureCommandLine(manifest.container.args);
    expect(checked).toMatchObject({ interface: "any", events: null, quiet: false, durationMs: null });
  });

  it("the option check it relies on refuses what capture refuses", async () => {
    await expect(checkCaptureCommandLine(["capture", "--no-such-option"])).rejects.toThrow(/unknown option '--no-such-option'/);
    await expect(checkCaptureCommandLine(["capture", "--rotate-size", "10M"])).rejects.toThrow("--rotate-size needs --events FILE");
    await expect(checkCaptureCommandLine(["capture", "--attribution", "magic"])).rejects.toThrow(/magic/);
    await expect(checkCaptureCommandLine(["report", "x.ndjson"])).rejects.toThrow("not a capture command line: report");
  });
});
