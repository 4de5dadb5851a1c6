import { defineConfig } from "vitest/config";

// Benchmarks that need the test helpers (network namespaces, the fake IMDS) run through vitest
// so they can share them; they are not part of `npm test`.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench-run.ts"],
    setupFiles: ["test/setup/remove-temp-dirs.ts"],
    testTimeout: 900_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
