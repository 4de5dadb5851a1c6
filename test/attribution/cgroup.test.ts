import { describe, expect, it } from "vitest";
import { parseCgroup, type CgroupInfo } from "../../src/attribution/cgroup.js";

const dockerId = "3f4c8e0a9b2d1c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e";
const containerId = "a8f1d2c3b4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f";
const podUid = "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11";
const podUidUnderscored = podUid.replaceAll("-", "_");

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
      info({ cgroup: `/system.slice/docker-${dockerId}.scope`, container: { runtime: "docker", id: dockerId }, systemdUnit: `docker-${dockerId}.scope` }),
    ],
    ["docker, cgroupfs driver", `0::/docker/${dockerId}\n`, info({ cgroup: `/docker/${dockerId}`, container: { runtime: "docker", id: dockerId } })],
    [
      "EKS containerd, systemd driver (burstable)",
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope`,
        container: { runtime: "containerd", id: containerId },
        kubernetesPodUid: podUid,
        systemdUnit: `cri-containerd-${containerId}.scope`,
      }),
    ],
    [
      "guaranteed QoS pod (no QoS slice)",
      `0::/kubepods.slice/kubepods-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-pod${podUidUnderscored}.slice/cri-containerd-${containerId}.scope`,
        container: { runtime: "containerd", id: containerId },
        kubernetesPodUid: podUid,
        systemdUnit: `cri-containerd-${containerId}.scope`,
      }),
    ],
    [
      "kubelet cgroupfs driver (k3s): runtime not named",
      `0::/kubepods/burstable/pod${podUid}/${containerId}\n`,
      info({ cgroup: `/kubepods/burstable/pod${podUid}/${containerId}`, container: { runtime: "unknown", id: containerId }, kubernetesPodUid: podUid }),
    ],
    [
      "kind: pod slice and container joined by colons under containerd.service",
      `0::/system.slice/containerd.service/kubepods-besteffort-pod${podUidUnderscored}.slice:cri-containerd:${containerId}\n`,
      info({
        cgroup: `/system.slice/containerd.service/kubepods-besteffort-pod${podUidUnderscored}.slice:cri-containerd:${containerId}`,
        container: { runtime: "containerd", id: containerId },
        kubernetesPodUid: podUid,
        systemdUnit: "containerd.service",
      }),
    ],
    [
      "cri-o",
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-${containerId}.scope\n`,
      info({
        cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidUnderscored}.slice/crio-${containerId}.scope`,
        container: { runtime: "cri-o", id: containerId },
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
        container: { runtime: "podman", id: containerId },
        systemdUnit: `libpod-${containerId}.scope`,
      }),
    ],
    [
      "rootless podman under the user manager",
      `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${containerId}.scope\n`,
      info({
        cgroup: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${containerId}.scope`,
        container: { runtime: "podman", id: containerId },
        systemdUnit: `libpod-${containerId}.scope`,
      }),
    ],
    ["lxc 4+", "0::/lxc.payload.web01\n", info({ cgroup: "/lxc.payload.web01", container: { runtime: "lxc", id: "web01" } })],
    [
      "LXD container running systemd",
      "0::/lxc.payload.web01/system.slice/nginx.service\n",
      info({ cgroup: "/lxc.payload.web01/system.slice/nginx.service", container: { runtime: "lxc", id: "web01" }, systemdUnit: "nginx.service" }),
    ],
    ["lxc before 4.0", "0::/lxc/web01\n", info({ cgroup: "/lxc/web01", container: { runtime: "lxc", id: "web01" } })],
    [
      "ECS task on AL2023 (cgroup v2)",
      `0::/ecs/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}\n`,
      info({ cgroup: `/ecs/8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c/${containerId}`, container: { runtime: "unknown", id: containerId } }),
    ],
    [
      "docker in docker: the innermost container",
      `0::/docker/${dockerId}/docker/${containerId}\n`,
      info({ cgroup: `/docker/${dockerId}/docker/${containerId}`, container: { runtime: "docker", id: containerId } }),
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
      info({ container: { runtime: "unknown", id: containerId }, kubernetesPodUid: podUid }),
    ],
    [
      "hybrid host (v1 controllers + empty v2), docker with cgroupfs",
      [`4:memory:/docker/${dockerId}`, `1:name=systemd:/docker/${dockerId}`, "0::/", ""].join("\n"),
      info({ cgroup: "/", container: { runtime: "docker", id: dockerId } }),
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
    ["empty file", "", info({})],
    ["garbage", "not a cgroup file\n", info({})],
  ])("%s", (_name, text, expected) => {
    expect(parseCgroup(text)).toEqual(expected);
  });
});
