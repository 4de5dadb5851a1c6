import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readBootTimeSeconds } from "../../src/attribution/process-identity.js";
import { parseBootTimeSeconds } from "../../src/attribution/procfs-process-files.js";
import { observeBoot } from "../../src/live/boot-time.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const procStat = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5\nctxt 42\nbtime 1740787200\nprocesses 900\n";
const bootMs = 1_740_787_200_000;

describe("boot time", () => {
  it("parses btime from /proc/stat", () => {
    expect(parseBootTimeSeconds(procStat)).toBe(1_740_787_200);
    expect(parseBootTimeSeconds("cpu 1\n")).toBeNull();
    expect(parseBootTimeSeconds("btime x\n")).toBeNull();
    expect(parseBootTimeSeconds("xbtime 5\n")).toBeNull();
  });

  it("a capture started within 10 minutes of the boot includes it; later, or unreadable, does not say", async () => {
    const procRoot = makeTempDir("imds-boot-");
    writeFileSync(join(procRoot, "stat"), procStat);
    const bootSeconds = await readBootTimeSeconds(procRoot);
    expect(observeBoot(bootMs + 30_000, bootSeconds)).toEqual({ bootTime: "2025-03-01T00:00:00.000Z", windowIncludesBoot: true });
    expect(observeBoot(bootMs + 600_000, bootSeconds).windowIncludesBoot).toBe(true);
    expect(observeBoot(bootMs + 600_001, bootSeconds).windowIncludesBoot).toBe(false);
    expect(observeBoot(bootMs - 1, bootSeconds).windowIncludesBoot).toBe(false);
    expect(observeBoot(bootMs, await readBootTimeSeconds(join(procRoot, "missing")))).toEqual({ bootTime: null, windowIncludesBoot: null });
  });
});
