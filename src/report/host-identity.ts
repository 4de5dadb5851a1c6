import { basename, dirname } from "node:path";
import type { ImdsEvent } from "../events.js";
import { isInstanceId } from "../events.js";
import type { HostReport } from "./types.js";

/** The host name used when nothing better is known. */
export const localHost = "local";

/** Longest host name kept (DNS names are at most 253 characters). */
export const maxHostChars = 253;

/**
 * The `host` field of an event (live capture writes the machine's host name; a collector that
 * merges events from many hosts may add it). Returns null when absent or unusable (not a string,
 * empty, too long, or with control characters).
 */
export function hostOfEvent(event: ImdsEvent): string | null {
  const host: unknown = (event as { readonly host?: unknown }).host;
  if (typeof host !== "string" || host.length === 0 || host.length > maxHostChars) return null;
  if (/[\u0000-\u001f\u007f]/.test(host)) return null;
  return host;
}

/** File and directory names that say nothing about the host (the service's defaults among them). */
const genericNames = new Set([
  "", ".", "..", "-", "/", "events", "imds-events", "summary", "imds-summary", "capture", "imds-analyzer", "log", "logs",
  "tmp", "var", "report", "out", "output", "data", "stdin",
]);

/**
 * Removes, in this order: compression (`.gz`), a rotation number after a known extension
 * (`events.ndjson.3`), the format (`.ndjson`, `.json`, `.pcap`, ...), and a role
 * (`.summary`, `.events`). A dotted host name such as `10.0.0.5.ndjson` keeps its dots.
 */
function stripSuffixes(name: string): string {
  return name
    .replace(/\.gz$/i, "")
    .replace(/(\.(?:ndjson|jsonl|json|pcapng|pcap|cap))\.\d+$/i, "$1")
    .replace(/\.(?:ndjson|jsonl|json|pcapng|pcap|cap)$/i, "")
    .replace(/\.(?:events|summary|report)$/i, "");
}

/**
 * A host name from a file's path: `fleet/i-0abc123.ndjson` -> `i-0abc123`,
 * `i-0abc123.summary.json` -> `i-0abc123`, `logs/web-1/events.ndjson.3` -> `web-1` (a generic file
 * name defers to its directory), `/var/log/imds-analyzer/events.ndjson` and `-` -> `local`.
 */
export function hostFromPath(path: string): string {
  if (path === "-" || path.startsWith("live:")) return localHost;
  const name = stripSuffixes(basename(path));
  if (!genericNames.has(name.toLowerCase())) return name.slice(0, maxHostChars);
  const directory = basename(dirname(path));
  if (!genericNames.has(directory.toLowerCase())) return directory.slice(0, maxHostChars);
  return localHost;
}

/**
 * The `instanceId` field of an event (IMDS's own answer, seen in the capture), or null when
 * absent (older events, or written before the answer was seen) or not strictly an instance id.
 */
export function instanceIdOfEvent(event: ImdsEvent): string | null {
  const instanceId: unknown = (event as { readonly instanceId?: unknown }).instanceId;
  return isInstanceId(instanceId) ? instanceId : null;
}

/** An EC2 instance id, strictly: only such a name is ever put into a suggested command. */
export function instanceIdOfHost(host: string): string | null {
  return isInstanceId(host) ? host : null;
}

/** How a host is shown: `i-0abc... (web-1)` when both its instance id and a name are known. */
export function hostLabel(host: Pick<HostReport, "host" | "instanceId" | "hostname">): string {
  return host.instanceId !== null && host.hostname !== null && host.hostname !== host.instanceId
    ? `${host.instanceId} (${host.hostname})`
    : host.host;
}
