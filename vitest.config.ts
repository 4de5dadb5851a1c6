import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup/remove-temp-dirs.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Live tests share network namespaces and root-only resources: one file at a time there.
    fileParallelism: true,
  },
});
