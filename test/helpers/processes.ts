import type { ChildProcess } from "node:child_process";

/**
 * Stops the processes a test started (only those, by their handles): SIGTERM, then SIGKILL for
 * any still running after `graceMs`. Resolves when all have ended.
 */
export async function stopChildren(children: readonly ChildProcess[], graceMs = 3000): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve();
          }, graceMs);
          child.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
}
