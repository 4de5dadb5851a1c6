import { describe, expect, it } from "vitest";
import type { ImdsEvent } from "../../src/events.js";
import { hostFromPath, hostOfEvent, instanceIdOfHost } from "../../src/report/host-identity.js";
import { event } from "./event-factory.js";

describe("hostFromPath", () => {
  it.each([
    ["fleet/i-0abc1234def567890.ndjson", "i-0abc1234def567890"],
    ["i-0abc1234def567890.summary.json", "i-0abc1234def567890"],
    ["i-0abc1234def567890.events.ndjson.gz", "i-0abc1234def567890"],
    ["web-1.ndjson.3", "web-1"],
    ["logs/web-2/events.ndjson", "web-2"],
    ["logs/web-2/events.ndjson.1.gz", "web-2"],
    ["logs/web-2/summary.json", "web-2"],
    ["/var/log/imds-analyzer/events.ndjson", "local"],
    ["/var/log/imds-analyzer/summary.json", "local"],
    ["events.ndjson", "local"],
    ["-", "local"],
    ["live:any", "local"],
    ["captures/awscli1-put403-fallback-any.pcapng", "awscli1-put403-fallback-any"],
    ["10.0.0.5.ndjson", "10.0.0.5"],
    ["host.example.com.jsonl", "host.example.com"],
  ])("%s -> %s", (path, host) => {
    expect(hostFromPath(path)).toBe(host);
  });
});

describe("hostOfEvent", () => {
  it("uses the reserved host field only when it is a usable name", () => {
    const withHost = (host: unknown): ImdsEvent => ({ ...event(), host }) as unknown as ImdsEvent;
    expect(hostOfEvent(withHost("i-0abc1234def567890"))).toBe("i-0abc1234def567890");
    expect(hostOfEvent(event())).toBeNull();
    for (const bad of ["", 42, null, "a".repeat(254), "line\nbreak", "nul\u0000"]) expect(hostOfEvent(withHost(bad))).toBeNull();
  });
});

describe("instanceIdOfHost", () => {
  it("accepts only real instance id shapes", () => {
    expect(instanceIdOfHost("i-0abc1234def567890")).toBe("i-0abc1234def567890");
    expect(instanceIdOfHost("i-0abc1234")).toBe("i-0abc1234");
    for (const bad of ["i-0ABC1234def567890", "i-0abc1234def56789", "i-0abc1234def567890 --dry-run", "$(id)", "web-1"]) {
      expect(instanceIdOfHost(bad)).toBeNull();
    }
  });
});
