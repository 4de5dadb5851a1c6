/**
 * The same program on two hosts has two different command lines: process ids, temporary files,
 * addresses, host names, instance ids and random suffixes differ from host to host and run to
 * run. The fix list groups callers by what is left when those are taken out, each replaced by a
 * placeholder that says what was there. Order matters: longer, more specific shapes first, so
 * an address is not first cut up as numbers.
 */

interface NoiseRule {
  readonly pattern: RegExp;
  readonly placeholder: string;
}

/**
 * Every pattern is global and bounded (no nested quantifiers), so hostile command lines stay
 * linear, and none looks ahead or behind: RE2 (DuckDB) has no lookaround. The same rules are written in SQL in docs/queries/duckdb/fix-programs.sql and
 * docs/queries/athena/fix-programs.sql; test/report/fix-list-sql.test.ts keeps them in step.
 */
export const commandLineNoiseRules: readonly NoiseRule[] = [
  // Temporary files and directories: whatever follows /tmp/ up to the next separator.
  { pattern: /(\/tmp|\/var\/tmp|\/dev\/shm|\/run\/user\/[0-9]+)\/[^ \t\n\f\r/:=,;'"]+/g, placeholder: "$1/<tmp>" },
  // UUIDs (pod uids, request ids, job ids).
  { pattern: /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g, placeholder: "<uuid>" },
  // EC2 instance ids and EC2 host names (ip-10-0-1-23, ip-10-0-1-23.ec2.internal).
  { pattern: /\bi-[0-9a-f]{8,17}\b/g, placeholder: "<instance-id>" },
  { pattern: /\bip-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}(\.[A-Za-z0-9.-]+)?/g, placeholder: "<host>" },
  // IPv4 addresses, with a port when one follows.
  { pattern: /\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(:[0-9]{1,5})?\b/g, placeholder: "<ip>" },
  // IPv6 addresses (at least two groups and a double or several colons), possibly bracketed.
  { pattern: /\[?\b[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}\]?(:[0-9]{1,5})?/g, placeholder: "<ip>" },
  // Long hex strings: container ids, hashes, tokens of a run.
  { pattern: /\b[0-9a-fA-F]{12,}\b/g, placeholder: "<hex>" },
  // mktemp and tempfile names outside /tmp (tmp.Xa9fK2, tmpab12_x9c).
  { pattern: /\btmp[._]?[A-Za-z0-9_]{6,}/g, placeholder: "<tmp>" },
  // Random suffixes: after - or _, letters and digits mixed (pod suffixes, job ids).
  { pattern: /([-_])([A-Za-z]+[0-9]|[0-9]+[A-Za-z])[A-Za-z0-9]{3,}\b/g, placeholder: "$1<rand>" },
  // Numbers standing alone or after = : @ (pids, ports, counters, timestamps), not in versions.
  { pattern: /(^|[=:@ ])[0-9]+($|[ ,;/])/g, placeholder: "$1<n>$2" },
  // Path segments of three or more digits (/proc/4242/, /run/app/4242.pid).
  { pattern: /\/[0-9]{3,}($|[/. ])/g, placeholder: "/<n>$1" },
];

/** Text cut from an argument before its noise is taken out: command lines are capped already. */
const maxNormalizedChars = 1024;

/** One argument with its per-host noise replaced by placeholders. */
export function withoutNoise(argument: string): string {
  let text = argument.length > maxNormalizedChars ? argument.slice(0, maxNormalizedChars) : argument;
  for (const rule of commandLineNoiseRules) text = text.replace(rule.pattern, rule.placeholder);
  return text;
}

/**
 * The program behind a command line, across hosts: the executable (a " (deleted)" suffix
 * dropped: the binary was replaced while running) and every argument without per-host noise.
 */
export function normalizedCommand(exe: string | null, comm: string, cmdline: readonly string[]): string {
  const program = (exe ?? comm).replace(/ \(deleted\)$/, "");
  // argv[0] too: it can differ from the executable (a wrapper, a symlink), and the SQL twin of
  // this function then needs no array slicing (which Athena and DuckDB write differently).
  return [program, ...cmdline.map(withoutNoise)].join(" ");
}
