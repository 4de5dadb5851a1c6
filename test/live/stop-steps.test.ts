import { describe, expect, it } from "vitest";
import { describeError, runEveryStep } from "../../src/live/stop-steps.js";

describe("runEveryStep", () => {
  it("runs every step in order even when earlier ones throw or reject, and names each failure in one line", async () => {
    const ran: string[] = [];
    const failures = await runEveryStep([
      { name: "stopping the capture", run: () => { ran.push("stop"); throw new TypeError("boom\nsecond line"); } },
      { name: "writing the last events", run: async () => { ran.push("events"); await Promise.reject(new Error("disk")); } },
      { name: "closing the eBPF tracer", run: () => { ran.push("tracer"); } },
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a non-Error rejection, on purpose
      { name: "closing --write-pcap", run: () => { ran.push("pcap"); return Promise.reject("not an Error"); } },
    ]);
    expect(ran).toEqual(["stop", "events", "tracer", "pcap"]);
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatch(/^error stopping the capture: TypeError: boom second line \(at .+\)$/);
    expect(failures[1]).toMatch(/^error writing the last events: Error: disk \(at /);
    expect(failures[2]).toBe("error closing --write-pcap: not an Error");
    for (const failure of failures) expect(failure).not.toContain("\n");
  });

  it("describes an error without a stack by its name and message", () => {
    const error = new RangeError("out of range");
    delete error.stack;
    expect(describeError(error)).toBe("RangeError: out of range");
  });
});
