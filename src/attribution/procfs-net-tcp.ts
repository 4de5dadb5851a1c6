/**
 * /proc/PID/net/tcp and tcp6: the kernel's socket table of one network namespace, one socket
 * per line:
 *
 *    sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
 *     2: 0100007F:9430 0100007F:8E2D 01 00000000:00000000 00:00000000 00000000     0        0 88814 ...
 *
 * Addresses are the raw in-kernel 32-bit words printed with %08X, i.e. in host byte order:
 * IPv4 127.0.0.1 is "0100007F" and IPv6 is four such words ("::1" is
 * 00000000000000000000000001000000). Ports are %04X of the host-order value, so they read
 * big-endian. Every AWS instance type is little-endian (x86_64, arm64), which this assumes.
 * A connection in TIME_WAIT (or orphaned after close) has no socket inode: 0.
 */
import { formatIpv4Address, formatIpv6Address } from "../decode/address-text.js";

export interface ProcNetTcpEntry {
  /** Kernel form "ADDRHEX:PORTHEX", upper case. */
  readonly localHex: string;
  readonly remoteHex: string;
  /** TCP state number: 1 ESTABLISHED, 6 TIME_WAIT, 10 LISTEN, ... */
  readonly state: number;
  readonly uid: number;
  readonly inode: number;
}

export interface DecodedSocketAddress {
  readonly ipVersion: 4 | 6;
  /** Same text form as the packet decoder prints (dotted quad, RFC 5952 for IPv6). */
  readonly address: string;
  readonly port: number;
}

/** Parses one table line; null for the header and for malformed lines. */
export function parseProcNetTcpLine(line: string): ProcNetTcpEntry | null {
  const fields = line.trim().split(/\s+/);
  // sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode
  if (fields.length < 10 || !fields[0]!.endsWith(":")) return null;
  const localHex = fields[1]!.toUpperCase();
  const remoteHex = fields[2]!.toUpperCase();
  if (!isAddressHex(localHex) || !isAddressHex(remoteHex)) return null;
  const state = Number.parseInt(fields[3]!, 16);
  const uid = Number(fields[7]);
  const inode = Number(fields[9]);
  if (!Number.isSafeInteger(state) || !Number.isSafeInteger(uid) || !Number.isSafeInteger(inode) || inode < 0) return null;
  return { localHex, remoteHex, state, uid, inode };
}

function isAddressHex(text: string): boolean {
  return /^(?:[0-9A-F]{8}|[0-9A-F]{32}):[0-9A-F]{4}$/.test(text);
}

export interface SocketTableIndex {
  /** By `socketKey(local, remote)`; a live socket (inode != 0) wins over a TIME_WAIT entry. */
  readonly sockets: ReadonlyMap<string, ProcNetTcpEntry>;
  readonly linesRead: number;
  readonly hitLineLimit: boolean;
}

export function socketKey(localHex: string, remoteHex: string): string {
  return `${localHex} ${remoteHex}`;
}

/**
 * Every socket of a table's text by its local and remote address, reading at most `maxLines`
 * lines, in one pass: a table is read once and then serves every call looked up in it (a
 * search per call, scanning back from each line, cost the square of the table's size, and a
 * namespace full of TIME_WAIT entries after a burst made the fallback stall the capture).
 * A live socket wins over a TIME_WAIT entry with the same tuple (tcp_tw_reuse lets both exist).
 */
export function indexSocketTable(tableText: string, maxLines: number): SocketTableIndex {
  const sockets = new Map<string, ProcNetTcpEntry>();
  let linesRead = 0;
  let start = 0;
  while (start < tableText.length) {
    if (linesRead >= maxLines) return { sockets, linesRead, hitLineLimit: true };
    let end = tableText.indexOf("\n", start);
    if (end < 0) end = tableText.length;
    linesRead++;
    const entry = parseProcNetTcpLine(tableText.slice(start, end));
    if (entry !== null) {
      const key = socketKey(entry.localHex, entry.remoteHex);
      const known = sockets.get(key);
      if (known === undefined || known.inode === 0) sockets.set(key, entry);
    }
    start = end + 1;
  }
  return { sockets, linesRead, hitLineLimit: false };
}

/** Kernel "ADDR:PORT" hex for an address (4 or 16 bytes) and port. */
export function encodeProcNetAddress(addressBytes: Uint8Array, port: number): string {
  let hex = "";
  for (let word = 0; word < addressBytes.length; word += 4) {
    // One 32-bit word in little-endian host order: its bytes print reversed.
    for (let byte = 3; byte >= 0; byte--) hex += hexByte(addressBytes[word + byte]!);
  }
  return `${hex}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Decodes a kernel "ADDR:PORT" hex pair; null if malformed. */
export function decodeProcNetAddress(text: string): DecodedSocketAddress | null {
  const upper = text.toUpperCase();
  if (!isAddressHex(upper)) return null;
  const colon = upper.indexOf(":");
  const addressHex = upper.slice(0, colon);
  const bytes = new Uint8Array(addressHex.length / 2);
  for (let word = 0; word < bytes.length; word += 4) {
    for (let byte = 0; byte < 4; byte++) {
      const hexOffset = (word + 3 - byte) * 2;
      bytes[word + byte] = Number.parseInt(addressHex.slice(hexOffset, hexOffset + 2), 16);
    }
  }
  const port = Number.parseInt(upper.slice(colon + 1), 16);
  return bytes.length === 4
    ? { ipVersion: 4, address: formatIpv4Address(bytes, 0), port }
    : { ipVersion: 6, address: formatIpv6Address(bytes, 0), port };
}

/** IPv4-mapped IPv6 bytes (::ffff:a.b.c.d) of an IPv4 address: how a dual-stack socket sees it. */
export function ipv4MappedBytes(ipv4: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(ipv4, 12);
  return bytes;
}

/** Dotted-quad text -> 4 bytes; null if it is not one. */
export function parseIpv4Text(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let index = 0; index < 4; index++) {
    const part = parts[index]!;
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    bytes[index] = Number(part);
  }
  return bytes;
}

/** IPv6 text (any RFC 4291 form, including "::" and a dotted IPv4 tail) -> 16 bytes; null if invalid. */
export function parseIpv6Text(text: string): Uint8Array | null {
  let head = text;
  let tailIpv4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.includes(".", lastColon)) {
    tailIpv4 = parseIpv4Text(text.slice(lastColon + 1));
    if (tailIpv4 === null) return null;
    // "::ffff:1.2.3.4" -> groups "::ffff"; "::1.2.3.4" -> "::" (the colon before the tail is
    // part of a "::").
    head = text.slice(0, lastColon);
    if (head.endsWith(":")) head += ":";
  }
  const groupLimit = tailIpv4 === null ? 8 : 6;
  const doubleColon = head.indexOf("::");
  if (doubleColon !== head.lastIndexOf("::")) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    for (const group of part.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) return null;
      groups.push(Number.parseInt(group, 16));
    }
    return groups;
  };
  let groups: number[];
  if (doubleColon >= 0) {
    const left = parseGroups(head.slice(0, doubleColon));
    const right = parseGroups(head.slice(doubleColon + 2));
    if (left === null || right === null || left.length + right.length >= groupLimit) return null;
    groups = [...left, ...new Array<number>(groupLimit - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (all === null || all.length !== groupLimit) return null;
    groups = all;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  if (tailIpv4 !== null) bytes.set(tailIpv4, 12);
  return bytes;
}

function hexByte(value: number): string {
  return value.toString(16).toUpperCase().padStart(2, "0");
}
