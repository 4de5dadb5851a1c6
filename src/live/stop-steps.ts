/**
 * Stopping a live capture is a sequence of steps (drain libpcap, end the flows, write the last
 * events, close the tracer and the files) that must all run even when one of them fails: a
 * failed step must not leave the eBPF tracer open (it keeps the process alive) or lose the
 * events and summary the later steps would have written.
 */

export interface StopStep {
  /** What the step does, for its error line: "error closing --write-pcap: ...". */
  readonly name: string;
  readonly run: () => void | Promise<void>;
}

/** Runs every step in order, whatever the earlier ones did; returns one line per failed step. */
export async function runEveryStep(steps: readonly StopStep[]): Promise<string[]> {
  const failures: string[] = [];
  for (const step of steps) {
    try {
      await step.run();
    } catch (error) {
      failures.push(`error ${step.name}: ${describeError(error)}`);
    }
  }
  return failures;
}

/**
 * An error in one line: its class, its message and, for an Error with a stack, the place it was
 * thrown (the first stack frame), which is what a bug report needs; never the whole stack.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = `${error.name}: ${error.message}`.replace(/\s*\n\s*/g, " ");
  const thrownAt = /^\s+at (.+)$/m.exec(error.stack ?? "")?.[1];
  return thrownAt === undefined ? text : `${text} (at ${thrownAt})`;
}
