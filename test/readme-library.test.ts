/**
 * The README's library example, run as written against this checkout's library (src/index.ts
 * for "imds-analyzer", a bundled capture for "capture.pcapng"): it must run and print one
 * host's report. (It once filed the events and the summary under two host names, which made a
 * fleet of two.) test/package/packed-library.test.ts uses the packed package the same way.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeTempDir } from "./helpers/temp-dir.js";

const repository = join(import.meta.dirname, "..");

/** The ```ts block of the README's "## Library" section. */
function libraryExample(): string {
  const readme = readFileSync(join(repository, "README.md"), "utf8");
  const example = /^## Library\n[\s\S]*?^```ts\n([\s\S]*?)^```/m.exec(readme)?.[1];
  if (example === undefined) throw new Error('README.md has no ```ts block under "## Library"');
  return example;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("README library example", () => {
  it("runs as written and prints one host's readiness report", async () => {
    const example = libraryExample();
    expect(example).toContain('from "imds-analyzer"');
    expect(example).toContain('"capture.pcapng"');
    const capture = join(repository, "captures", "awscli1-put403-fallback-any.pcapng");
    const runnable = example
      .replaceAll('from "imds-analyzer"', `from ${JSON.stringify(join(repository, "src", "index.ts"))}`)
      .replaceAll('"capture.pcapng"', JSON.stringify(capture));
    const file = join(makeTempDir("imds-readme-library-"), "example.ts");
    writeFileSync(file, runnable);
    const printed: unknown[] = [];
    vi.spyOn(console, "log").mockImplementation((...values: unknown[]) => { printed.push(...values); });
    await import(file);
    expect(printed).toHaveLength(1);
    const report = String(printed[0]);
    expect(report.split("\n")[0]).toBe("# IMDSv2 readiness: NOT READY");
    expect(report).toContain("Host: `awscli1-put403-fallback-any`");
    expect(report).not.toContain("Fleet of");
  });
});
