/**
 * Temporary directories for tests, removed when their test file ends: test/setup/remove-temp-dirs.ts
 * registers the afterAll hook for every file. Without it each run left hundreds of directories in
 * /tmp, some holding what the fake IMDS handed out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

/** A new directory under the system's temporary directory, named PREFIX followed by random letters. */
export function makeTempDir(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  created.push(directory);
  return directory;
}

/** Removes every directory makeTempDir made in this test file (and what is in them). */
export function removeTempDirs(): void {
  for (const directory of created.splice(0)) rmSync(directory, { recursive: true, force: true });
}
