/**
 * How hard the fuzz properties try, in one place.
 *
 * In the normal suite (`npm test`, `npx vitest run test/fuzz`) every property runs a small fixed
 * number of times from a fixed seed: the suite stays fast and never flaky. `npm run fuzz` sets
 * IMDS_FUZZ_RUNS (runs per property, scaled down for the expensive ones) and IMDS_FUZZ_SEED
 * (`random` = Date.now(), printed so a failure can be replayed). fast-check prints the seed and
 * the counterexample path of any failure; to replay exactly that case:
 *
 *   IMDS_FUZZ_SEED=<seed> IMDS_FUZZ_PATH=<path> npx vitest run test/fuzz -t '<property name>'
 */
import type { Parameters } from "fast-check";

/** Seed of the normal suite: any fixed number; changing it changes which cases run. */
const fixedSeed = 0x1dd5_2026;

const runsText = process.env["IMDS_FUZZ_RUNS"];
const seedText = process.env["IMDS_FUZZ_SEED"];
const pathText = process.env["IMDS_FUZZ_PATH"];

function parseRuns(text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  const runs = Number(text);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`IMDS_FUZZ_RUNS must be a positive integer, not "${text}"`);
  return runs;
}

function parseSeed(text: string | undefined): number {
  if (text === undefined || text === "") return fixedSeed;
  if (text === "random") return Date.now() % 0x8000_0000;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`IMDS_FUZZ_SEED must be an integer or "random", not "${text}"`);
  return seed;
}

/** Runs per property asked for on the command line, or null in the normal suite. */
export const requestedRuns = parseRuns(runsText);
export const fuzzSeed = parseSeed(seedText);
/** True when running as `npm run fuzz` (more runs, or a chosen seed). */
export const longFuzz = requestedRuns !== null || (seedText !== undefined && seedText !== "");

if (longFuzz) {
  console.log(
    `[fuzz] seed ${fuzzSeed}, IMDS_FUZZ_RUNS=${requestedRuns ?? "default"}` +
      ` (replay: IMDS_FUZZ_SEED=${fuzzSeed}${requestedRuns === null ? "" : ` IMDS_FUZZ_RUNS=${requestedRuns}`})`,
  );
}

/**
 * fast-check parameters for one property. `defaultRuns` is what the normal suite runs;
 * `costFactor` says how much dearer one run is than a cheap parser run, so IMDS_FUZZ_RUNS=20000
 * runs a whole-analysis property 20000 / costFactor times instead of 20000.
 */
export function fuzzParameters<T>(defaultRuns: number, costFactor = 1): Parameters<T> {
  const numRuns = requestedRuns === null ? defaultRuns : Math.max(defaultRuns, Math.ceil(requestedRuns / costFactor));
  return {
    numRuns,
    seed: fuzzSeed,
    ...(pathText === undefined || pathText === "" ? {} : { path: pathText }),
  };
}

/** Per-test timeout: vitest's default in the normal suite; long runs may take many minutes. */
export const fuzzTimeoutMs = longFuzz ? 60 * 60 * 1000 : 60_000;
