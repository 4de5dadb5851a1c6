import { defineConfig } from "vitest/config";

/**
 * Files that use machine-wide resources: test network namespaces, and a real eBPF tracer, which
 * sees every namespace's connections (run beside each other they saw each other's calls and
 * failed: startup-capabilities counted 8 connections where it made 2).
 */
const liveTests = ["test/live/**/*.test.ts", "test/secrets.test.ts", "test/attribution/ebpf-tracer.test.ts", "test/deploy/ssm-rollout.test.ts"];

export default defineConfig({
  test: {
    setupFiles: ["test/setup/remove-temp-dirs.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The other files run in parallel (vitest's default: one worker per core but one); the live
    // files run after them, one file at a time (a project without file parallelism runs in a
    // sequential group of its own). On 2 cores there is one worker anyway, so this costs nothing.
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: liveTests } },
      { extends: true, test: { name: "live", include: liveTests, fileParallelism: false } },
    ],
  },
});
