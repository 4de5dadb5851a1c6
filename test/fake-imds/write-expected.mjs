// @ts-check
/**
 * Writes captures/NAME.expected.json from the fake IMDS's ground-truth log and the capture file
 * itself, and checks that the clients did what the scenario expects. Used by
 * scripts/make-captures.sh; the expected files are never written by hand.
 *
 *   node test/fake-imds/write-expected.mjs --log LOG --capture FILE --out FILE
 *     --description TEXT --imds-mode MODE --capture-command TEXT --imds-command TEXT --clients FILE
 *     [--background TEXT] [--expect "SIG SIG*N ..."] [--snaplen BYTES]
 *
 * --snaplen: the capture tool cut every frame at BYTES (recorded as `snaplen`): the events are
 * still what the fake IMDS received; what the analyzer must make of them is test/captures.test.ts's.
 *
 * The clients file holds one line per client run, in order, as "namespace$ command".
 *
 * A signature is kind:status:agent, e.g. "token-request:200:curl", "v1:401:curl",
 * "token-request:none:-" (no response, no User-Agent). "*N" repeats it. Exit 1 when the log does
 * not match, printing both sequences.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

/**
 * @typedef {object} LogEntry
 * @property {number} seq
 * @property {number} connection
 * @property {string} method
 * @property {string} path
 * @property {string} httpVersion
 * @property {"token-request" | "v2" | "v1"} kind
 * @property {string | null} userAgent
 * @property {number | null} tokenTtlSeconds
 * @property {boolean} forwardedFor
 * @property {string} clientIp
 * @property {number} clientPort
 * @property {string} serverIp
 * @property {number} serverPort
 * @property {number | null} status
 * @property {number} receivedAt
 */
/**
 * @typedef {object} CaptureInterface
 * @property {string | null} name
 * @property {string} linkType
 * @property {number} linkTypeNumber
 * @property {string} timestampResolution
 */
/**
 * @typedef {object} CaptureInfo
 * @property {"pcap" | "pcapng"} format
 * @property {string} linkType
 * @property {number} linkTypeNumber
 * @property {string} timestampResolution
 * @property {number} frames
 * @property {CaptureInterface[]} interfaces
 */

const linkTypeNames = /** @type {const} */ ({ 0: "NULL", 1: "ETHERNET", 101: "RAW", 108: "LOOP", 113: "LINUX_SLL", 276: "LINUX_SLL2" });

function linkTypeName(/** @type {number} */ number) {
  return Object.hasOwn(linkTypeNames, number) ? linkTypeNames[/** @type {keyof typeof linkTypeNames} */ (number)] : `LINKTYPE_${number}`;
}

/** if_tsresol: high bit set = negative power of two, else negative power of ten. */
function resolutionName(/** @type {number} */ tsresol) {
  if (tsresol === 6) return "microsecond";
  if (tsresol === 9) return "nanosecond";
  return (tsresol & 0x80) !== 0 ? `2^-${tsresol & 0x7f} s` : `10^-${tsresol} s`;
}

/** @returns {CaptureInfo} */
function readCaptureInfo(/** @type {string} */ path) {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const pcapMagics = /** @type {const} */ ({
    0xa1b2c3d4: { littleEndian: false, resolution: "microsecond" },
    0xd4c3b2a1: { littleEndian: true, resolution: "microsecond" },
    0xa1b23c4d: { littleEndian: false, resolution: "nanosecond" },
    0x4d3cb2a1: { littleEndian: true, resolution: "nanosecond" },
  });
  if (Object.hasOwn(pcapMagics, magic)) {
    const { littleEndian, resolution } = pcapMagics[/** @type {keyof typeof pcapMagics} */ (magic)];
    const linkTypeNumber = view.getUint32(20, littleEndian) & 0xffff;
    let frames = 0;
    for (let offset = 24; offset + 16 <= bytes.length; frames++) offset += 16 + view.getUint32(offset + 8, littleEndian);
    const linkType = linkTypeName(linkTypeNumber);
    return {
      format: "pcap",
      linkType,
      linkTypeNumber,
      timestampResolution: resolution,
      frames,
      interfaces: [{ name: null, linkType, linkTypeNumber, timestampResolution: resolution }],
    };
  }
  if (magic !== 0x0a0d0d0a) throw new Error(`${path}: neither pcap nor pcapng (magic 0x${magic.toString(16)})`);
  const littleEndian = view.getUint32(8, true) === 0x1a2b3c4d;
  /** @type {CaptureInterface[]} */
  const interfaces = [];
  let frames = 0;
  for (let offset = 0; offset + 12 <= bytes.length; ) {
    const type = view.getUint32(offset, littleEndian);
    const length = view.getUint32(offset + 4, littleEndian);
    if (length < 12) throw new Error(`${path}: bad pcapng block length ${length} at byte ${offset}`);
    if (type === 1) interfaces.push(readInterfaceBlock(view, offset, length, littleEndian));
    if (type === 6 || type === 3) frames++;
    offset += length;
  }
  const first = interfaces[0];
  if (first === undefined) throw new Error(`${path}: pcapng without an interface block`);
  const uniform = interfaces.every((candidate) => candidate.linkTypeNumber === first.linkTypeNumber);
  return {
    format: "pcapng",
    linkType: uniform ? first.linkType : "MIXED",
    linkTypeNumber: uniform ? first.linkTypeNumber : -1,
    timestampResolution: first.timestampResolution,
    frames,
    interfaces,
  };
}

/**
 * @param {DataView} view
 * @param {number} blockOffset
 * @param {number} blockLength
 * @param {boolean} littleEndian
 * @returns {CaptureInterface}
 */
function readInterfaceBlock(view, blockOffset, blockLength, littleEndian) {
  const linkTypeNumber = view.getUint16(blockOffset + 8, littleEndian);
  /** @type {string | null} */
  let name = null;
  let tsresol = 6;
  const optionsEnd = blockOffset + blockLength - 4;
  for (let offset = blockOffset + 16; offset + 4 <= optionsEnd; ) {
    const code = view.getUint16(offset, littleEndian);
    const length = view.getUint16(offset + 2, littleEndian);
    if (code === 0) break;
    const value = new Uint8Array(view.buffer, view.byteOffset + offset + 4, length);
    if (code === 2) name = Buffer.from(value).toString("utf8");
    if (code === 9 && length >= 1) tsresol = value[0] ?? 6;
    offset += 4 + Math.ceil(length / 4) * 4;
  }
  return { name, linkType: linkTypeName(linkTypeNumber), linkTypeNumber, timestampResolution: resolutionName(tsresol) };
}

function signature(/** @type {LogEntry} */ entry) {
  const agent = entry.userAgent === null ? "-" : (entry.userAgent.split(/[/ ]/)[0] ?? "-");
  return `${entry.kind}:${entry.status === null ? "none" : String(entry.status)}:${agent}`;
}

function expandSignatures(/** @type {string} */ text) {
  return text
    .split(/\s+/)
    .filter((word) => word !== "")
    .flatMap((word) => {
      const [sig = "", times = "1"] = word.split("*");
      return Array.from({ length: Number(times) }, () => sig);
    });
}

function main() {
  const { values } = parseArgs({
    options: {
      log: { type: "string" },
      capture: { type: "string" },
      out: { type: "string" },
      description: { type: "string" },
      "capture-command": { type: "string" },
      "imds-command": { type: "string" },
      "imds-mode": { type: "string" },
      clients: { type: "string" },
      background: { type: "string" },
      expect: { type: "string" },
      snaplen: { type: "string" },
    },
    strict: true,
  });
  const { log, capture, out, description, clients } = values;
  const captureCommand = values["capture-command"];
  const imdsCommand = values["imds-command"];
  const imdsMode = values["imds-mode"];
  if (
    log === undefined ||
    capture === undefined ||
    out === undefined ||
    description === undefined ||
    clients === undefined ||
    captureCommand === undefined ||
    imdsCommand === undefined ||
    imdsMode === undefined
  ) {
    throw new Error("--log, --capture, --out, --description, --imds-mode, --capture-command, --imds-command and --clients are required");
  }
  const madeWith = {
    capture: captureCommand,
    fakeImds: imdsCommand,
    clients: readFileSync(clients, "utf8")
      .split("\n")
      .filter((line) => line !== ""),
    background: values.background ?? null,
  };
  /** @type {LogEntry[]} */
  const entries = readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      /** @type {unknown} */
      const parsed = JSON.parse(line);
      return /** @type {LogEntry} */ (parsed);
    })
    .sort((a, b) => a.seq - b.seq);

  if (values.expect !== undefined) {
    const wanted = expandSignatures(values.expect);
    const got = entries.map(signature);
    if (wanted.join(" ") !== got.join(" ")) {
      process.stderr.write(`${basename(capture)}: the clients did not do what the scenario expects\n  wanted: ${wanted.join(" ")}\n  got:    ${got.join(" ")}\n`);
      process.exit(1);
    }
  }

  /** Requests seen so far on each connection, for requestOnConnection. */
  /** @type {Map<number, number>} */
  const requestsOnConnection = new Map();
  const events = entries.map((entry) => {
    const requestOnConnection = (requestsOnConnection.get(entry.connection) ?? 0) + 1;
    requestsOnConnection.set(entry.connection, requestOnConnection);
    return {
      kind: entry.kind,
      method: entry.method,
      path: entry.path,
      httpVersion: entry.httpVersion,
      userAgent: entry.userAgent,
      status: entry.status,
      clientIp: entry.clientIp,
      clientPort: entry.clientPort,
      serverIp: entry.serverIp,
      serverPort: entry.serverPort,
      tokenTtlSeconds: entry.tokenTtlSeconds,
      forwardedFor: entry.forwardedFor,
      requestOnConnection,
    };
  });
  const counts = { "token-request": 0, v2: 0, v1: 0 };
  for (const event of events) counts[event.kind]++;

  const info = readCaptureInfo(capture);
  const expected = {
    capture: basename(capture),
    format: info.format,
    linkType: info.linkType,
    linkTypeNumber: info.linkTypeNumber,
    timestampResolution: info.timestampResolution,
    interfaces: info.interfaces,
    frames: info.frames,
    ...(values.snaplen === undefined ? {} : { snaplen: Number(values.snaplen) }),
    description,
    imdsMode,
    madeWith,
    counts,
    events,
  };
  writeFileSync(out, `${JSON.stringify(expected, null, 2)}\n`);
  process.stdout.write(
    `${basename(capture)}: ${info.format} ${info.linkType}, ${info.frames} frames; ` +
      `${events.length} IMDS requests (token-request ${counts["token-request"]}, v2 ${counts.v2}, v1 ${counts.v1})\n`,
  );
}

main();
