/**
 * `process.container` in event records: the names added under imds-analyzer/event@1 are checked
 * when present, and null (unknown) in events written before them.
 */
import { describe, expect, it } from "vitest";
import { parseEventRecord } from "../../src/report/event-record.js";
import { attributedOk, containerInfo, event, processInfo } from "./event-factory.js";

const id = "ab".repeat(32);

function withContainer(container: unknown): unknown {
  return { ...event({ process: processInfo(), attribution: attributedOk }), process: { ...processInfo(), container } };
}

describe("process.container in event records", () => {
  it("reads an older event's {runtime, id} with every name null", () => {
    const parsed = parseEventRecord(withContainer({ runtime: "docker", id }));
    if (typeof parsed === "string") throw new Error(parsed);
    expect(parsed.process?.container).toEqual({ runtime: "docker", id, name: null, image: null, kubernetes: null, ecs: null, source: null });
  });

  it("keeps every name of a current event, and fills names missing inside kubernetes and ecs with null", () => {
    const named = containerInfo("containerd", id, {
      name: "app",
      image: "registry.local/shop/web:1.2",
      kubernetes: { namespace: "shop", pod: "web-7d4b9c-x2kq", podUid: "6f4bd5f7-2c8c-4d3b-9d2b-7d3b1c1e0a11", container: "app" },
      source: "containerd-bundle",
    });
    const parsed = parseEventRecord(withContainer(named));
    if (typeof parsed === "string") throw new Error(parsed);
    expect(parsed.process?.container).toEqual(named);
    const partial = parseEventRecord(withContainer({ runtime: "docker", id, ecs: { taskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c" } }));
    if (typeof partial === "string") throw new Error(partial);
    expect(partial.process?.container?.ecs).toEqual({ cluster: null, taskArn: null, taskId: "8b4d5a7c2f4e4f0e9c1d2b3a4f5e6d7c", family: null, revision: null, container: null });
  });

  it.each([
    ["a number for a name", { runtime: "docker", id, name: 7 }],
    ["kubernetes not an object", { runtime: "docker", id, kubernetes: "shop/web" }],
    ["a pod name of the wrong type", { runtime: "containerd", id, kubernetes: { pod: ["web"] } }],
    ["an ECS revision of the wrong type", { runtime: "docker", id, ecs: { revision: 7 } }],
    ["no id", { runtime: "docker" }],
  ])("rejects %s", (_what, container) => {
    expect(parseEventRecord(withContainer(container))).toBe('field "process" is missing or has the wrong type');
  });
});
