/**
 * The command line the tests run as a child process: the bundled CLI, dist/imds-analyzer.cjs,
 * which is the npm package's "bin" and the script inside the single executables (`npm test`
 * builds it). One place, so that every test runs what ships.
 */
import { join } from "node:path";

export const cliPath = join(import.meta.dirname, "..", "..", "dist", "imds-analyzer.cjs");

/**
 * The unbundled entry (tsc's dist/bin.js and the modules beside it), for the one kind of test
 * that needs them: fault injection (test/helpers/inject-fault.mjs) patches classes in dist/'s
 * modules, which the bundle does not load.
 */
export const unbundledCliPath = join(import.meta.dirname, "..", "..", "dist", "bin.js");
