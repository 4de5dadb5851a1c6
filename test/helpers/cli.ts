/**
 * The command line the tests run as a child process: the bundled CLI, dist/imds-analyzer.cjs,
 * which is the npm package's "bin" and the script inside the single executables (`npm test`
 * builds it). One place, so that every test runs what ships.
 */
import { join } from "node:path";

export const cliPath = join(import.meta.dirname, "..", "..", "dist", "imds-analyzer.cjs");
