#!/usr/bin/env node
/**
 * The executable entry point (package.json "bin"): runs the command line on this process's
 * arguments and turns the result into the exit code. Everything else is in cli.ts, which can be
 * imported without running anything.
 */
import { ExitCode, main } from "./cli.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`imds-analyzer: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = ExitCode.error;
  },
);
