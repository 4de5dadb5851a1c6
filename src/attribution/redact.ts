/**
 * Removes secrets from a command line before it is written anywhere. A process's argv is
 * readable by every user on the host, and IMDS callers put tokens in it (`curl -H
 * "X-aws-ec2-metadata-token: ..."`, `AWS_SESSION_TOKEN=... aws ...` under `sh -c`), but our
 * output travels further (files, tickets, dashboards): secrets become "<redacted>".
 *
 * Rules, applied to every argument after argv[0] (and inside `sh -c` strings, since the rules
 * match within text rather than only whole arguments):
 * - secret-looking options: `--password X`, `--password=X`, `--token`, `--secret*`,
 *   `--access-key*`, `--api-key`, `--session-token`, `--*-password`, `--*-token`, `--*-secret`
 *   (one or two dashes; single letters like `-p` are too ambiguous and are kept);
 * - sensitive HTTP header values (`Authorization:`, `X-aws-ec2-metadata-token:`, ...);
 * - `NAME=value` where NAME ends in PASSWORD, TOKEN, SECRET, SECRET_ACCESS_KEY, API_KEY, ...
 *   (environment assignments, query parameters such as `X-Amz-Security-Token=`);
 * - URL credentials `scheme://user:password@` (the user stays);
 * - curl's `-u user:password` (only for curl: `-u` means "user" elsewhere);
 * - long random-looking blobs: >= 32 characters of [A-Za-z0-9+/=_-] that are hex with both
 *   digits and letters, or mix upper, lower and digits as often as random base64 does.
 * Ordinary arguments (paths, URLs, the IMDS paths) stay readable, argv[0] is kept as is, and
 * the whole result is bounded to `maxCmdlineChars`.
 */

export const redactedText = "<redacted>";
export const truncatedMarker = "...<truncated>";
/** Bound on the redacted command line: sum of argument lengths plus one separator each. */
export const maxCmdlineChars = 4096;
/** Shortest run of base64/hex characters the blob rule considers. */
export const minSecretBlobChars = 32;
/**
 * Share of adjacent letter/digit pairs that must change class (upper/lower/digit) for a mixed
 * run to count as random. Random base64 scores about 0.6; CamelCase paths with digits about 0.2.
 */
const minBlobClassChangeRatio = 0.35;

/** Option names (dashes stripped, lower case) whose value is a secret. */
const secretOptionName =
  "(?:password|passwd|pass|token|apikey|api-key|api_key|session-token|secret[a-z0-9_-]*|access-key[a-z0-9_-]*|access_key[a-z0-9_-]*|[a-z0-9_-]*[-_](?:password|passwd|token|secret|apikey|api-key|api_key|secret-key|private-key))";
/** An argument that is only a secret option: its value is the next argument. */
const bareSecretOption = new RegExp(`^--?${secretOptionName}$`, "i");
/** A secret option with its value, inside an argument: "--token=X", "... --password X ..." */
const secretOptionWithValue = new RegExp(`(?<![^\\s"'])(--?${secretOptionName})(=|\\s+)("[^"]*"|'[^']*'|[^\\s"';&|]+)`, "gi");

/** NAME=value with a sensitive NAME (env assignment, query parameter, config key). */
const sensitiveAssignment =
  /(?<![A-Za-z0-9_-])((?:[A-Za-z0-9_-]*[_-])?(?:password|passwd|token|secret|secret[_-]access[_-]key|secret[_-]key|api[_-]?key|private[_-]key))=("[^"]*"|'[^']*'|[^\s&;"'`]+)/gi;

/** Header "Name: value" with a sensitive name; the value runs to a quote, newline or the end. */
const sensitiveHeader =
  /(?<![A-Za-z0-9_-])(authorization|proxy-authorization|x-aws-ec2-metadata-token|x-amz-security-token|x-api-key|cookie)(\s*:\s*)([^"'\r\n]+)/gi;

/** scheme://user:password@ -> scheme://user:<redacted>@ */
const urlCredentials = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#@]+)@/g;

const blobCandidate = /[A-Za-z0-9+/=_-]{32,}/g;
const hexOnly = /^[0-9a-f]+$|^[0-9A-F]+$/;

const curlUserOptions = new Set(["-u", "--user", "-U", "--proxy-user"]);

export function redactArgv(argv: readonly string[]): string[] {
  const redacted: string[] = [];
  let usedChars = 0;
  let valueIsSecret = false;
  let valueIsCurlUser = false;
  const isCurl = argv.length > 0 && /(?:^|\/)curl$/.test(argv[0]!);

  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    let safe: string;
    if (index === 0) {
      safe = argument;
    } else if (valueIsSecret) {
      safe = redactedText;
      valueIsSecret = false;
    } else if (valueIsCurlUser) {
      safe = redactUserPassword(argument);
      valueIsCurlUser = false;
    } else {
      valueIsSecret = bareSecretOption.test(argument);
      valueIsCurlUser = isCurl && curlUserOptions.has(argument);
      if (isCurl && /^-u./.test(argument)) safe = `-u${redactUserPassword(argument.slice(2))}`;
      else if (/^-H./.test(argument)) safe = `-H${redactText(argument.slice(2))}`; // curl -H"Name: value"
      else safe = redactText(argument);
    }

    const room = maxCmdlineChars - usedChars;
    if (safe.length + 1 > room) {
      redacted.push(safe.slice(0, Math.max(0, room - 1)) + truncatedMarker);
      break;
    }
    redacted.push(safe);
    usedChars += safe.length + 1;
  }
  return redacted;
}

/** The within-text rules, for one argument (or any text that may embed a command line). */
export function redactText(text: string): string {
  return text
    .replace(urlCredentials, (_match, scheme: string, user: string) => `${scheme}${user}:${redactedText}@`)
    .replace(sensitiveHeader, (_match, name: string, separator: string) => `${name}${separator}${redactedText}`)
    .replace(secretOptionWithValue, (_match, option: string, separator: string) => `${option}${separator}${redactedText}`)
    .replace(sensitiveAssignment, (_match, name: string) => `${name}=${redactedText}`)
    .replace(blobCandidate, (run) => (looksRandom(run) ? redactedText : run));
}

function redactUserPassword(value: string): string {
  const colon = value.indexOf(":");
  return colon < 0 ? value : `${value.slice(0, colon + 1)}${redactedText}`;
}

/** Character classes the blob rule counts. */
const CharClass = { other: 0, upper: 1, lower: 2, digit: 3 } as const;
type CharClass = (typeof CharClass)[keyof typeof CharClass];

function charClass(code: number): CharClass {
  if (code >= 0x41 && code <= 0x5a) return CharClass.upper;
  if (code >= 0x61 && code <= 0x7a) return CharClass.lower;
  if (code >= 0x30 && code <= 0x39) return CharClass.digit;
  return CharClass.other;
}

/** Whether a long base64/hex-alphabet run is a key or token rather than a word, path or id. */
function looksRandom(run: string): boolean {
  let upper = 0;
  let lower = 0;
  let digit = 0;
  let pairs = 0;
  let changes = 0;
  let previous: CharClass = CharClass.other;
  for (let index = 0; index < run.length; index++) {
    const current = charClass(run.charCodeAt(index));
    if (current === CharClass.upper) upper++;
    else if (current === CharClass.lower) lower++;
    else if (current === CharClass.digit) digit++;
    if (current !== CharClass.other && previous !== CharClass.other) {
      pairs++;
      if (current !== previous) changes++;
    }
    previous = current;
  }
  if (hexOnly.test(run)) return digit > 0 && upper + lower > 0;
  return upper > 0 && lower > 0 && digit > 0 && pairs > 0 && changes / pairs >= minBlobClassChangeRatio;
}
