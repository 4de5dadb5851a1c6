/**
 * uid -> user name from a passwd file under an injectable etc root. Read once and kept for
 * `passwdCacheMs` (a burst of calls looks up the same few uids), then re-read so users added
 * later are found. The names are the analyzing host's: a uid inside a container may have a
 * different name in the container's own /etc/passwd.
 */
import { join } from "node:path";
import { readBoundedText } from "./procfs-read.js";

export const passwdCacheMs = 60_000;
const maxPasswdBytes = 4 * 1024 * 1024;

interface CachedPasswd {
  readonly loadedAtMs: number;
  readonly namesByUid: Promise<ReadonlyMap<number, string>>;
}

const cacheByEtcRoot = new Map<string, CachedPasswd>();

export async function lookupUserName(uid: number, etcRoot: string): Promise<string | null> {
  const nowMs = Date.now();
  let cached = cacheByEtcRoot.get(etcRoot);
  if (cached === undefined || nowMs - cached.loadedAtMs > passwdCacheMs) {
    cached = { loadedAtMs: nowMs, namesByUid: loadPasswd(join(etcRoot, "passwd")) };
    cacheByEtcRoot.set(etcRoot, cached);
  }
  return (await cached.namesByUid).get(uid) ?? null;
}

/** Parses passwd text ("name:x:uid:gid:gecos:home:shell"); the first entry for a uid wins, as in getpwuid. */
export function parsePasswd(text: string): Map<number, string> {
  const namesByUid = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const fields = line.split(":");
    const name = fields[0];
    const uidText = fields[2];
    if (name === undefined || name === "" || uidText === undefined || !/^\d{1,10}$/.test(uidText)) continue;
    const uid = Number(uidText);
    if (!namesByUid.has(uid)) namesByUid.set(uid, name);
  }
  return namesByUid;
}

async function loadPasswd(path: string): Promise<ReadonlyMap<number, string>> {
  try {
    return parsePasswd(await readBoundedText(path, maxPasswdBytes));
  } catch {
    return new Map(); // no passwd file (minimal image) or unreadable: names are null
  }
}
