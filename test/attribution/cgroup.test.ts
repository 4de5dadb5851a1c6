import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCgroup, type CgroupInfo } from "../../src/attribution/cgroup.js";
import type { ContainerInfo } from "../../src/events.js";
import { containerInfo } from "../report/event-factory.js";

const dockerId = "3f4c8e0a9b2d1c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e";
const containerId = "a8f1d2c3b4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f";
const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";
const podUidUnderscored = podUid.replaceAll("-", "_");

/** What the path alone names: the pod uid and ECS task id go into the container too. */
function cgroupContainer(runtime: ContainerInfo["runtime"], id: string, names: { podUid?: string; ecsTaskId?: string } = {}): ContainerInfo {
  return containerInfo(runtime, id, {
    kubernetes: names.podUid === undefined ? null : { namespace: null, pod: null, podUid: names.podUid, container: null },
    ecs: names.ecsTaskId === undefined ? null : { cluster: null, taskArn: null, taskId: names.ecsTaskId, family: null, revision: null, container: null },
  });
}

function info(partial: Partial<CgroupInfo>): CgroupInfo {
  return { cgroup: null, container: null, kubernetesPodUid: null, systemdUnit: null, ...partial };
}

describe("parseCgroup", () => {
  it.each<[string, string, CgroupInfo]>([
    ["root cgroup", "0::/\n", info({ cgroup: "/" })],
    [
      "systemd service",
      "0::/system.slice/amazon-ssm-agent.service\n",
      info({ cgroup: "/system.slice/amazon-ssm-agent.service", systemdUnit: "amazon-ssm-agent.service" }),
    ],
    [
      "user session",
      "0::/user.slice/user-1000.slice/session-3.scope\n",
      info({ cgroup: "/user.slice/user-1000.slice/session-3.scope", systemdUnit: "session-3.scope" }),
    ],
    ["pid 1", "0::/init.scope\n", info({ cgroup: "/init.scope", systemdUnit: "init.scope" })],
    [
      "docker, systemd driver",
      `0::/system.slice/docker-${dockerId}.scope\n`,
      info({ cgroup: `/system.slice/docker-${dockerId}.scope`, container: cgroupContainer("docker", dockerId), systemdUnit: `docker-${dockerId}.scope` }),
    ],
    ["docker, cgroupfs driver", `0::/docker/${dockerId}\n`, info({ cgroup: `/docker/${dockerId}`, container: cgroupContainer("docker", dockerId) })],
    [
      "EKS containerd, systemd driver (burstable)",
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope`,
        container: cgroupContainer("containerd", containerId, { podUid }),
        kubernetesPodUid: podUid,
        systemdUnit: `cri-containerd-${containerId}.scope`,
      }),
    ],
    [
      "guaranteed QoS pod (no QoS slice)",
      `0::/kubepods.slice/kubepods-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope`,
        container: cgroupContainer("containerd", containerId, { podUid }),
        kubernetesPodUid: podUid,
        systemdUnit: `cri-containerd-${containerId}.scope`,
      }),
    ],
    [
      "kubelet cgroupfs driver (k3s): runtime not named",
      `0::/kubepods/burstable/pod${podUid}/${containerId}\n`,
      info({ cgroup: `/kubepods/burstable/pod${podUid}/${containerId}`, container: cgroupContainer("unknown", containerId, { podUid }), kubernetesPodUid: podUid }),
    ],
    [
      "kind: pod slice and container joined by colons under containerd.service",
      `0::/system.slice/containerd.service/kubepods-besteffort-pod${podUidUnderscored}.slice:cri-containerd:${containerId}\n`,
      info({
        cgroup: `/system.slice/containerd.service/kubepods-besteffort-pod${podUidUnderscored}.slice:cri-containerd:${containerId}`,
        container: cgroupContainer("containerd", containerId, { podUid }),
        kubernetesPodUid: podUid,
        systemdUnit: "containerd.service",
      }),
    ],
    [
      "cri-o",
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-${containerId}.scope`,
        container: cgroupContainer("cri-o", containerId, { podUid }),
        kubernetesPodUid: podUid,
        systemdUnit: `crio-${containerId}.scope`,
      }),
    ],
    [
      "cri-o's conmon is not the container",
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-conmon-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-conmon-${containerId}.scope`,
        kubernetesPodUid: podUid,
        systemdUnit: `crio-conmon-${containerId}.scope`,
      }),
    ],
    [
      "podman (root), payload in a 'container' sub-cgroup",
      `0::/machine.slice/libpod-${containerId}.scope/container\n`,
      info({
        cgroup: `/machine.slice/libpod-${containerId}.scope/container`,
        container: cgroupContainer("podman", containerId),
        systemdUnit: `libpod-${containerId}.scope`,
      }),
    ],
    [
      "rootless podman under the user manager",
      `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${containerId}.scope\n`,
      info({
        cgroup: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${containerId}.scope`,
        container: cgroupContainer("podman", containerId),
        systemdUnit: `libpod-${containerId}.scope`,
      }),
    ],
    ["lxc 4+", "0::/lxc.payload.web01\n", info({ cgroup: "/lxc.payload.web01", container: cgroupContainer("lxc", "web01") })],
    [
      "LXD container running systemd",
      "0::/lxc.payload.web01/system.slice/nginx.service\n",
      info({ cgroup: "/lxc.payload.web01/system.slice/nginx.service", container: cgroupContainer("lxc", "web01"), systemdUnit: "nginx.service" }),
    ],
    ["lxc before 4.0", "0::/lxc/web01\n", info({ cgroup: "/lxc/web01", container: cgroupContainer("lxc", "web01") })],
    [
      "ECS task on AL2023 (cgroup v2)",
      `0::/ecs/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}\n`,
      info({ cgroup: `/ecs/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}`, container: cgroupContainer("unknown", containerId, { ecsTaskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c" }) }),
    ],
    [
      "docker in docker: the innermost container",
      `0::/docker/${dockerId}/docker/${containerId}\n`,
      info({ cgroup: `/docker/${dockerId}/docker/${containerId}`, container: cgroupContainer("docker", containerId) }),
    ],
    [
      "a removed cgroup",
      "0::/system.slice/old.service (deleted)\n",
      info({ cgroup: "/system.slice/old.service", systemdUnit: "old.service" }),
    ],
    [
      "EKS on AL2 (cgroup v1 only): container and pod from v1 hierarchies, no v2 path",
      [
        `12:pids:/kubepods/burstable/pod${podUid}/${containerId}`,
        `11:memory:/kubepods/burstable/pod${podUid}/${containerId}`,
        `1:name=systemd:/kubepods/burstable/pod${podUid}/${containerId}`,
        "",
      ].join("\n"),
      info({ container: cgroupContainer("unknown", containerId, { podUid }), kubernetesPodUid: podUid }),
    ],
    [
      "hybrid host (v1 controllers + empty v2), docker with cgroupfs",
      [`4:memory:/docker/${dockerId}`, `1:name=systemd:/docker/${dockerId}`, "0::/", ""].join("\n"),
      info({ cgroup: "/", container: cgroupContainer("docker", dockerId) }),
    ],
    [
      "hybrid host, systemd service: unit from name=systemd",
      ["4:memory:/system.slice/sshd.service", "1:name=systemd:/system.slice/sshd.service", "0::/system.slice/sshd.service", ""].join("\n"),
      info({ cgroup: "/system.slice/sshd.service", systemdUnit: "sshd.service" }),
    ],
    [
      "this machine's own (a sandbox: v1 memory cgroup with a 32-hex name, not a container id)",
      "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/380228da435013cac4f7b6408c21ee62\n0::/\n",
      info({ cgroup: "/" }),
    ],
    [
      "cri-o, cgroupfs driver",
      `0::/kubepods/burstable/pod${podUid}/crio-${containerId}\n`,
      info({ cgroup: `/kubepods/burstable/pod${podUid}/crio-${containerId}`, container: cgroupContainer("cri-o", containerId, { podUid }), kubernetesPodUid: podUid }),
    ],
    [
      "cri-o's conmon, cgroupfs driver, is not the container",
      `0::/kubepods/burstable/pod${podUid}/crio-conmon-${containerId}\n`,
      info({ cgroup: `/kubepods/burstable/pod${podUid}/crio-conmon-${containerId}`, kubernetesPodUid: podUid }),
    ],
    [
      "podman's conmon (systemd driver) is not the container",
      `0::/machine.slice/libpod-conmon-${containerId}.scope\n`,
      info({ cgroup: `/machine.slice/libpod-conmon-${containerId}.scope`, systemdUnit: `libpod-conmon-${containerId}.scope` }),
    ],
    ["podman's conmon (cgroupfs driver) is not the container", "0::/libpod_parent/conmon\n", info({ cgroup: "/libpod_parent/conmon" })],
    [
      "podman, cgroupfs driver",
      `0::/libpod_parent/libpod-${containerId}\n`,
      info({ cgroup: `/libpod_parent/libpod-${containerId}`, container: cgroupContainer("podman", containerId) }),
    ],
    [
      "a pod's own cgroup (pause, cgroupfs): the pod, no container",
      `0::/kubepods/besteffort/pod${podUid}\n`,
      info({ cgroup: `/kubepods/besteffort/pod${podUid}`, kubernetesPodUid: podUid }),
    ],
    [
      "a pod's own slice (pause, systemd): the pod, no container",
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice\n`,
      info({ cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice`, kubernetesPodUid: podUid }),
    ],
    [
      "guaranteed QoS pod, cgroupfs driver (no QoS level)",
      `0::/kubepods/pod${podUid}/${containerId}\n`,
      info({ cgroup: `/kubepods/pod${podUid}/${containerId}`, container: cgroupContainer("unknown", containerId, { podUid }), kubernetesPodUid: podUid }),
    ],
    [
      "plain ctr: /<namespace>/<id>",
      `0::/default/${containerId}\n`,
      info({ cgroup: `/default/${containerId}`, container: cgroupContainer("unknown", containerId) }),
    ],
    [
      "ECS task, systemd driver (AL2023): docker scope under the task's slice",
      `0::/ecstasks.slice/ecstasks-8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c.slice/docker-${dockerId}.scope\n`,
      info({
        cgroup: `/ecstasks.slice/ecstasks-8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c.slice/docker-${dockerId}.scope`,
        container: cgroupContainer("docker", dockerId, { ecsTaskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c" }),
        systemdUnit: `docker-${dockerId}.scope`,
      }),
    ],
    [
      "ECS task with an old-format (UUID) task id, cgroup v1 (AL2)",
      [`11:memory:/ecs/5b7e3c1a-9f2d-4e8b-a6c4-0d1e2f3a4b5c/${dockerId}`, `1:name=systemd:/ecs/5b7e3c1a-9f2d-4e8b-a6c4-0d1e2f3a4b5c/${dockerId}`, ""].join("\n"),
      info({ container: cgroupContainer("unknown", dockerId, { ecsTaskId: "5b7e3c1a-9f2d-4e8b-a6c4-0d1e2f3a4b5c" }) }),
    ],
    [
      "not an ECS task: a 64-hex id under a directory that only looks like a task",
      `0::/ecs-like/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}\n`,
      info({ cgroup: `/ecs-like/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}`, container: cgroupContainer("unknown", containerId) }),
    ],
    [
      "hybrid host, container in v1 and in the v2 hierarchy (runc 1.1 here puts it in both)",
      [`4:memory:/kubepods/burstable/pod${podUid}/${containerId}`, `1:name=systemd:/kubepods/burstable/pod${podUid}/${containerId}`, `0::/kubepods/burstable/pod${podUid}/${containerId}`, ""].join("\n"),
      info({ cgroup: `/kubepods/burstable/pod${podUid}/${containerId}`, container: cgroupContainer("unknown", containerId, { podUid }), kubernetesPodUid: podUid }),
    ],
    ["empty file", "", info({})],
    ["garbage", "not a cgroup file\n", info({})],
  ])("%s", (_name, text, expected) => {
    expect(parseCgroup(text)).toEqual(expected);
  });
});

/** /proc/PID/cgroup of containers started here by the real runtimes (container-files/README.md). */
describe("parseCgroup on files the runtimes made on this machine (hybrid host, cgroupfs driver, runc 1.1.5)", () => {
  const fixture = (name: string): string => readFileSync(join(import.meta.dirname, "container-files", name, "proc-cgroup"), "utf8");

  it("containerd 1.6.20, ctr run with the kubelet's cgroup shape: pod uid, id", () => {
    const parsed = parseCgroup(fixture("containerd-1.6.20"));
    expect(parsed.container).toMatchObject({ runtime: "unknown", id: "e00f352134a46d8fd930bbbb888851abeb99b16157c81b424c8dc3271154a654", kubernetes: { podUid } });
    expect(parsed.cgroup).toBe(`/kubepods/burstable/pod${podUid}/e00f352134a46d8fd930bbbb888851abeb99b16157c81b424c8dc3271154a654`);
  });

  it("docker 20.10.24 with --cgroup-parent /ecs/<task>: ECS task id", () => {
    expect(parseCgroup(fixture("docker-20.10.24")).container).toMatchObject({
      id: "861f6d61f07dbf1b1defbf8521461d6f3adec5f5e4abd3fea826a90a0e266842",
      ecs: { taskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c" },
    });
  });

  it("podman 4.3.1, cgroupfs manager", () => {
    expect(parseCgroup(fixture("podman-4.3.1")).container).toMatchObject({ runtime: "podman", id: "392390c315f33f292043875ba888227d7a20e3a3c9ee66073e3d3004bd45feb9" });
  });
});
