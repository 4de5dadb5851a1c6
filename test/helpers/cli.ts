/**
 * The command line the tests run as a child process: the built entry point (`npm test` builds
 * first). One place, so that every test runs what ships.
 */
import { join } from "node:path";

export const cliPath = join(import.meta.dirname, "..", "..", "dist", "bin.js");
