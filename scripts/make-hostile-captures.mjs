// @ts-check
// Writes the hostile capture corpus in captures/hostile/: crafted pcap/pcapng files that attack
// each layer (record lengths, pcapng framing, IP/TCP headers, reassembly, HTTP parsing, token
// classification), each with NAME.expected.json saying what a correct analyzer must do, and a
// README.md with one line per case. Deterministic: no clock, no randomness; run it again after a
// change and the files come out the same. Plain Node, no dependencies.
//
//   node scripts/make-hostile-captures.mjs [OUT_DIR]      (default captures/hostile)
//
// The expectations are derived here, from what each file contains, never by running the
// analyzer: test/hostile-captures.test.ts compares the analyzer with them.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { concatBytes, latin1Bytes } from "../src/wire-format/bytes.mjs";
import { ethernetFrame, exampleMacs, tcpFlags, tcpPacket } from "../src/wire-format/packets.mjs";
import { buildPcap, pcapRecordHeader } from "../src/wire-format/pcap-file.mjs";
import { buildPcapngSections, interfaceDescriptionBlock, pcapngBlock, sectionHeaderBlock } from "../src/wire-format/pcapng-file.mjs";

// ---------------------------------------------------------------------------------------------
// Fixed values

const startMicros = 1_764_000_000_000_000n; // 2025-11-24T16:00:00Z
const clientIpv4 = "10.0.0.10";
const imdsIpv4 = "169.254.169.254";
const clientIpv6 = "2001:db8:77::10";
const imdsIpv6 = "fd00:ec2::254";
const tcp = tcpFlags;
const linkTypeEthernet = 1;
const token = "AQAEAHOSTILEx0bXBvcmFyeS10b2tlbg==";
const userAgent = "curl/7.88.1";
/** Limits of the analyzer the expectations depend on (src/reassembly/types.ts, src/http/types.ts, src/pipeline/event-queue.ts, src/decode/ipv6.ts). */
const limits = /** @type {const} */ ({
  maxQueuedBytesPerDirection: 256 * 1024,
  minChargedBytesPerPiece: 64,
  maxHeadBytes: 64 * 1024,
  maxIpv6ExtensionHeaders: 16,
  maxPendingEvents: 50_000,
});

// ---------------------------------------------------------------------------------------------
// Packets (built by src/wire-format, shared with the tests and the bench generator)

/**
 * @typedef {object} SegmentSpec
 * @property {4 | 6} ipVersion
 * @property {string} src
 * @property {string} dst
 * @property {number} srcPort
 * @property {number} dstPort
 * @property {number} seq
 * @property {number} ack
 * @property {number} flags
 * @property {Uint8Array} payload
 * @property {Uint8Array} [tcpOptions] padded to 4 bytes by the caller
 * @property {number} [dataOffsetWords] written instead of the true TCP header length (malformed on purpose)
 * @property {readonly import("../src/wire-format/packets.mjs").Ipv6ExtensionHeader[]} [ipv6Extensions]
 */

/**
 * An Ethernet frame (02:00:00:00:00:02 -> 02:00:00:00:00:01) holding one TCP segment (window
 * 64240, IPv4 identification 0), with correct lengths and checksums.
 * @param {SegmentSpec} spec
 */
function tcpFrame(spec) {
  const ip = tcpPacket({
    src: spec.src,
    dst: spec.dst,
    srcPort: spec.srcPort,
    dstPort: spec.dstPort,
    seq: spec.seq,
    ack: spec.ack,
    flags: spec.flags,
    window: 64240,
    payload: spec.payload,
    ...(spec.tcpOptions === undefined ? {} : { tcpOptions: spec.tcpOptions }),
    ...(spec.dataOffsetWords === undefined ? {} : { dataOffsetWords: spec.dataOffsetWords }),
    ipv4: { identification: 0 },
    ipv6: { extensionHeaders: spec.ipv6Extensions ?? [] },
  });
  return ethernetFrame(ip, { destinationMac: exampleMacs.first, sourceMac: exampleMacs.second });
}

/**
 * An IPv6 options header (hop-by-hop 0, destination options 60) of 8 * (1 + lengthUnits) bytes, PadN filled.
 * @param {0 | 60} type @param {number} lengthUnits
 * @returns {import("../src/wire-format/packets.mjs").Ipv6ExtensionHeader}
 */
function ipv6OptionsHeader(type, lengthUnits) {
  return { kind: type === 0 ? "hopByHop" : "destinationOptions", bytes: 8 * (1 + lengthUnits) };
}

/** A type 0 routing header with no addresses left (segments left 0): 8 bytes. @returns {import("../src/wire-format/packets.mjs").Ipv6ExtensionHeader} */
function ipv6RoutingHeader() {
  return { kind: "routing" };
}

/** SYN options as Linux sends them: MSS 1460, SACK permitted, timestamps, window scale 7 (20 bytes). */
const synOptions = Uint8Array.of(2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7);

// ---------------------------------------------------------------------------------------------
// Frames and conversations

/**
 * @typedef {object} HostileFrame
 * @property {Uint8Array} bytes captured bytes
 * @property {number} originalLength length on the wire
 * @property {bigint} timeMicros capture time (what the analyzer must report)
 * @property {{ seconds: number, fraction: number }} [rawTimestamp] written instead of timeMicros (pcap only)
 */

class CaptureBuilder {
  /** @param {bigint} [stepMicros] */
  constructor(stepMicros = 1000n) {
    /** @type {HostileFrame[]} */
    this.frames = [];
    this.timeMicros = startMicros;
    this.stepMicros = stepMicros;
  }

  /** Appends a frame; returns its 1-based number. @param {Uint8Array} bytes @param {Partial<HostileFrame>} [extra] */
  add(bytes, extra = {}) {
    this.frames.push({ bytes, originalLength: bytes.length, timeMicros: this.timeMicros, ...extra });
    this.timeMicros += this.stepMicros;
    return this.frames.length;
  }

  /** @param {number} frameNumber */
  frame(frameNumber) {
    const frame = this.frames[frameNumber - 1];
    if (frame === undefined) throw new Error(`no frame ${frameNumber}`);
    return frame;
  }
}

/**
 * One TCP connection to IMDS with running sequence numbers. Data segments carry ACK|PSH; the
 * handshake is SYN, SYN-ACK, ACK; `close` is client FIN, server FIN, client ACK.
 */
class Conversation {
  /**
   * @param {CaptureBuilder} capture
   * @param {{ clientPort: number, ipVersion?: 4 | 6, clientIsn?: number, serverIsn?: number }} options
   */
  constructor(capture, options) {
    this.capture = capture;
    this.ipVersion = options.ipVersion ?? 4;
    this.clientIp = this.ipVersion === 4 ? clientIpv4 : clientIpv6;
    this.serverIp = this.ipVersion === 4 ? imdsIpv4 : imdsIpv6;
    this.clientPort = options.clientPort;
    /** Next sequence numbers. */
    this.clientSeq = (options.clientIsn ?? 1_000_000 + options.clientPort * 7) >>> 0;
    this.serverSeq = (options.serverIsn ?? 3_000_000_000 + options.clientPort * 13) >>> 0;
  }

  /** @param {Partial<SegmentSpec>} [overrides] */
  handshake(overrides = {}) {
    this.client(tcp.syn, new Uint8Array(0), { tcpOptions: synOptions, ack: 0, ...overrides });
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.server(tcp.syn | tcp.ack, new Uint8Array(0), { tcpOptions: synOptions, ...overrides });
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.client(tcp.ack, new Uint8Array(0));
  }

  /** Client data in segments of at most `segmentBytes`; returns the last frame number. @param {Uint8Array | string} data @param {number} [segmentBytes] */
  send(data, segmentBytes = 1448) {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    let last = 0;
    for (let at = 0; at < bytes.length; at += segmentBytes) {
      last = this.client(tcp.psh | tcp.ack, bytes.subarray(at, at + segmentBytes));
      this.clientSeq = (this.clientSeq + Math.min(segmentBytes, bytes.length - at)) >>> 0;
    }
    return last;
  }

  /** Server data in segments of at most `segmentBytes`; returns the last frame number. @param {Uint8Array | string} data @param {number} [segmentBytes] */
  reply(data, segmentBytes = 1448) {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    let last = 0;
    for (let at = 0; at < bytes.length; at += segmentBytes) {
      last = this.server(tcp.psh | tcp.ack, bytes.subarray(at, at + segmentBytes));
      this.serverSeq = (this.serverSeq + Math.min(segmentBytes, bytes.length - at)) >>> 0;
    }
    return last;
  }

  close() {
    this.client(tcp.fin | tcp.ack, new Uint8Array(0));
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.server(tcp.fin | tcp.ack, new Uint8Array(0));
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.client(tcp.ack, new Uint8Array(0));
  }

  /** A client segment at the current sequence number (not advanced). @param {number} flags @param {Uint8Array} payload @param {Partial<SegmentSpec>} [overrides] @param {Partial<HostileFrame>} [extra] */
  client(flags, payload, overrides = {}, extra = {}) {
    return this.capture.add(this.clientFrame(flags, payload, overrides), extra);
  }

  /** @param {number} flags @param {Uint8Array} payload @param {Partial<SegmentSpec>} [overrides] */
  clientFrame(flags, payload, overrides = {}) {
    return tcpFrame({
      ipVersion: this.ipVersion,
      src: this.clientIp,
      dst: this.serverIp,
      srcPort: this.clientPort,
      dstPort: 80,
      seq: this.clientSeq,
      ack: this.serverSeq,
      flags,
      payload,
      ...overrides,
    });
  }

  /** @param {number} flags @param {Uint8Array} payload @param {Partial<SegmentSpec>} [overrides] */
  server(flags, payload, overrides = {}) {
    return this.capture.add(
      tcpFrame({
        ipVersion: this.ipVersion,
        src: this.serverIp,
        dst: this.clientIp,
        srcPort: 80,
        dstPort: this.clientPort,
        seq: this.serverSeq,
        ack: this.clientSeq,
        flags,
        payload,
        ...overrides,
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP texts

/** @param {string} path @param {readonly string[]} [headers] */
function getRequest(path, headers = []) {
  return `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;
}

const tokenPut = `PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${userAgent}\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n`;

/** @param {number} status @param {string} [body] */
function response(status, body = "ok") {
  const reason = { 200: "OK", 400: "Bad Request", 401: "Unauthorized", 431: "Request Header Fields Too Large" }[status] ?? "Status";
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${body.length}\r\nServer: EC2ws\r\n\r\n${body}`;
}

// ---------------------------------------------------------------------------------------------
// Expected outcomes

/**
 * @typedef {object} ExpectedEvent
 * @property {string} time
 * @property {"v1" | "v2" | "token-request" | "unclassified"} kind
 * @property {string} method
 * @property {string} path
 * @property {string | null} httpVersion
 * @property {string | null} userAgent
 * @property {string} clientIp
 * @property {number} clientPort
 * @property {string} serverIp
 * @property {number} serverPort
 * @property {number | null} status
 * @property {number} frame
 * @property {number | null} tokenTtlSeconds
 * @property {boolean} forwardedFor
 * @property {number} requestOnConnection
 * @property {IncompleteRequest | null} incomplete
 */

/**
 * @typedef {{ cause: "snaplen" | "gap" | "ended" | "parse-error", snaplen: number | null, parseError: string | null, pathComplete: boolean }} IncompleteRequest
 */

/**
 * @param {CaptureBuilder} capture @param {Conversation} conversation @param {number} frame frame that completes the head
 * @param {{ kind: ExpectedEvent["kind"], method?: string, path: string, status: number | null, requestOnConnection?: number, userAgent?: string | null, tokenTtlSeconds?: number | null, digits?: number, httpVersion?: string | null, incomplete?: IncompleteRequest }} fields
 * @returns {ExpectedEvent}
 */
function expectedEvent(capture, conversation, frame, fields) {
  return {
    time: formatTime(capture.frame(frame).timeMicros, fields.digits ?? 6),
    kind: fields.kind,
    method: fields.method ?? "GET",
    path: fields.path,
    httpVersion: fields.httpVersion === undefined ? "1.1" : fields.httpVersion,
    userAgent: fields.userAgent === undefined ? userAgent : fields.userAgent,
    clientIp: conversation.clientIp,
    clientPort: conversation.clientPort,
    serverIp: conversation.serverIp,
    serverPort: 80,
    status: fields.status,
    frame,
    tokenTtlSeconds: fields.tokenTtlSeconds ?? null,
    forwardedFor: false,
    requestOnConnection: fields.requestOnConnection ?? 1,
    incomplete: fields.incomplete ?? null,
  };
}

/**
 * `incomplete` of a request seen in part (see docs/EVENTS.md).
 * @param {"snaplen" | "gap" | "ended" | "parse-error"} cause
 * @param {{ snaplen?: number, parseError?: string, pathComplete?: boolean }} [details]
 * @returns {IncompleteRequest}
 */
function incomplete(cause, details = {}) {
  return { cause, snaplen: details.snaplen ?? null, parseError: details.parseError ?? null, pathComplete: details.pathComplete ?? true };
}

/** ISO-8601 UTC with `digits` sub-second digits. @param {bigint} micros @param {number} digits */
function formatTime(micros, digits) {
  const seconds = micros / 1_000_000n;
  const nanos = (micros % 1_000_000n) * 1000n;
  return formatSecondsNanos(Number(seconds), Number(nanos), digits);
}

/** @param {number} seconds @param {number} nanos @param {number} digits */
function formatSecondsNanos(seconds, nanos, digits) {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(nanos).padStart(9, "0").slice(0, digits)}Z`;
}

/**
 * Counters of `count` complete, clean conversations (handshake, data, both FINs, last ACK):
 * the last ACK reaches a flow already ended by the FINs (segmentsAfterClose).
 * @param {number} count @param {number} requests @param {number} responses
 */
function cleanFlows(count, requests, responses) {
  return { flowsOpened: count, flowsClosed: count, segmentsAfterClose: count, requestsParsed: requests, responsesParsed: responses };
}

/**
 * @typedef {object} HostileCase
 * @property {string} name file name without extension
 * @property {"pcap" | "pcapng"} format
 * @property {boolean} gzip
 * @property {Uint8Array} bytes the capture (before compression)
 * @property {string} description what it is
 * @property {string} outcome what must happen (README)
 * @property {0 | 1} exitCode of `imds-analyzer analyze FILE`
 * @property {{ code: string, byteOffset: number, frameNumber: number } | null} error
 * @property {number} frames frames read
 * @property {ExpectedEvent[] | null} events every event, in order; null when there are too many to list (then eventCounts)
 * @property {{ total: number, byKind: Record<string, number>, byStatus: Record<string, number> }} [eventCounts]
 * @property {Record<string, number>} counters every non-zero diagnostics counter, exactly
 * @property {string[]} warnings warning codes, in order
 */

// ---------------------------------------------------------------------------------------------
// Capture files (written by src/wire-format)

/**
 * @param {HostileFrame} frame @param {boolean} nanoseconds the file's resolution (pcap)
 * @returns {import("../src/wire-format/pcap-file.mjs").CaptureFrame} what the shared writers take
 */
function captureFrame(frame, nanoseconds) {
  const micros = Number(frame.timeMicros % 1_000_000n);
  const raw = frame.rawTimestamp;
  return {
    linkType: linkTypeEthernet,
    timestampSeconds: raw?.seconds ?? Number(frame.timeMicros / 1_000_000n),
    // A raw fraction is written as it is: in a nanosecond file, the nanoseconds field.
    timestampNanos: raw === undefined ? micros * 1000 : nanoseconds ? raw.fraction : raw.fraction * 1000,
    bytes: frame.bytes,
    originalLength: frame.originalLength,
  };
}

/**
 * @param {readonly HostileFrame[]} frames
 * @param {{ snaplen?: number, nanoseconds?: boolean }} [options]
 * @returns {{ bytes: Uint8Array, offsets: number[] }} offsets: where each record starts
 */
function pcapFile(frames, options = {}) {
  const nanoseconds = options.nanoseconds === true;
  const built = buildPcap(
    frames.map((frame) => captureFrame(frame, nanoseconds)),
    {
      linkType: linkTypeEthernet,
      ...(nanoseconds ? { timestampPrecision: /** @type {const} */ ("nanoseconds") } : {}),
      ...(options.snaplen === undefined ? {} : { snaplen: options.snaplen }),
    },
  );
  return { bytes: built.bytes, offsets: built.records.filter((record) => record.kind === "packet").map((record) => record.offset) };
}

/** A raw pcap record header (for lengths a writer would never produce). @param {number} seconds @param {number} caplen @param {number} origlen */
function rawPcapRecordHeader(seconds, caplen, origlen) {
  return pcapRecordHeader(seconds, 0, caplen, origlen);
}

/** The interface of every hostile pcapng: Ethernet, snaplen 262144, no options (µs timestamps). */
const ethernetInterface = /** @type {const} */ ({ linkType: linkTypeEthernet, tsresol: null });

/**
 * A pcapng file: SHB, IDB, then per frame an EPB, with `extra` blocks inserted before the frame
 * whose 0-based index they name (index = frames.length: at the end).
 * @param {readonly HostileFrame[]} frames
 * @param {Map<number, Uint8Array[]>} [extra]
 * @param {Map<number, { interfaceId?: number, trailingLength?: number }>} [blockOptions] per frame index
 * @returns {{ bytes: Uint8Array, offsets: number[] }} offsets: where each EPB starts
 */
function pcapngFile(frames, extra = new Map(), blockOptions = new Map()) {
  /** @type {import("../src/wire-format/pcapng-file.mjs").PcapngRecord[]} */
  const records = [];
  for (let index = 0; index <= frames.length; index++) {
    for (const bytes of extra.get(index) ?? []) records.push({ kind: "raw", bytes });
    const frame = frames[index];
    if (frame === undefined) continue;
    const options = blockOptions.get(index) ?? {};
    records.push({
      kind: "enhanced-packet",
      frame: { ...captureFrame(frame, false), ...(options.interfaceId === undefined ? {} : { interfaceId: options.interfaceId }) },
      ...(options.trailingLength === undefined ? {} : { trailingLength: options.trailingLength }),
    });
  }
  const built = buildPcapngSections([{ interfaces: [ethernetInterface], records }]);
  return { bytes: built.bytes, offsets: built.records.filter((record) => record.kind === "packet").map((record) => record.offset) };
}

// ---------------------------------------------------------------------------------------------
// Cases

/** A complete v1 GET conversation; returns the expected event. @param {CaptureBuilder} capture @param {number} clientPort @param {string} path */
function v1Conversation(capture, clientPort, path) {
  const conversation = new Conversation(capture, { clientPort });
  conversation.handshake();
  const frame = conversation.send(getRequest(path));
  conversation.reply(response(200));
  conversation.close();
  return expectedEvent(capture, conversation, frame, { kind: "v1", path, status: 200 });
}

/** @returns {HostileCase[]} */
function buildCases() {
  /** @type {HostileCase[]} */
  const cases = [];

  // --- classic pcap record lengths ---------------------------------------------------------
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40001, "/latest/meta-data/instance-id");
    const file = pcapFile(capture.frames);
    const badOffset = file.bytes.length;
    const bytes = concatBytes([file.bytes, rawPcapRecordHeader(1_764_000_001, 0xffffffff, 0xffffffff), latin1Bytes("GET / HTTP/1.1\r\n")]);
    const frames = capture.frames.length;
    cases.push({
      name: "pcap-caplen-4gib",
      format: "pcap",
      gzip: false,
      bytes,
      description: "classic pcap: a complete v1 conversation, then a record whose captured and original length fields are 0xFFFFFFFF (4 GiB)",
      outcome: "E_CAPTURE_FORMAT naming the bad record's offset and frame; no 4 GiB allocation; the v1 call before it is still reported; exit 1",
      exitCode: 1,
      error: { code: "E_CAPTURE_FORMAT", byteOffset: badOffset, frameNumber: frames + 1 },
      frames,
      events: [event],
      counters: { framesRead: frames, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40002 });
    conversation.handshake();
    const path = "/latest/meta-data/instance-id";
    const request = latin1Bytes(getRequest(path));
    const frame = conversation.client(tcp.psh | tcp.ack, request, {}, {});
    conversation.clientSeq += request.length;
    // The wire length says 4 GiB; the IP total length says the packet is whole.
    capture.frames[frame - 1] = { ...capture.frame(frame), originalLength: 0xffffffff };
    conversation.reply(response(200));
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "pcap-origlen-4gib",
      format: "pcap",
      gzip: false,
      bytes,
      description: "classic pcap: the request frame's original length is 0xFFFFFFFF while its captured length and IP total length are the real ones",
      outcome: "read normally: the frame counts as snaplen-cut (framesSnaplenCut 1) but nothing of the IP packet is missing, so the v1 call is reported with its 200; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [expectedEvent(capture, conversation, frame, { kind: "v1", path, status: 200 })],
      counters: { framesRead: frames, bytesRead: bytes.length, framesSnaplenCut: 1, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  for (const [name, snaplen, what] of /** @type {const} */ ([
    ["pcap-snaplen-zero", 0, "0"],
    ["pcap-snaplen-huge", 0xffffffff, "0xFFFFFFFF"],
  ])) {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, snaplen === 0 ? 40003 : 40004, "/latest/meta-data/local-ipv4");
    const bytes = pcapFile(capture.frames, { snaplen }).bytes;
    const frames = capture.frames.length;
    cases.push({
      name,
      format: "pcap",
      gzip: false,
      bytes,
      description: `classic pcap whose file header snaplen is ${what}, holding a normal v1 conversation`,
      outcome: "the header snaplen is not trusted either way (frames up to 256 KiB always accepted, never more than 16 MiB): the v1 call is reported; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [event],
      counters: { framesRead: frames, bytesRead: bytes.length, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40005 });
    conversation.handshake();
    const path = "/latest/meta-data/hostname";
    const frame = conversation.send(getRequest(path));
    // Written as 1.5 s too few whole seconds plus 1,500,000,000 ns: the same instant.
    const requestFrame = capture.frame(frame);
    const seconds = Number(requestFrame.timeMicros / 1_000_000n);
    const nanos = Number(requestFrame.timeMicros % 1_000_000n) * 1000;
    requestFrame.rawTimestamp = { seconds: seconds - 1, fraction: 1_000_000_000 + nanos };
    conversation.reply(response(200));
    conversation.close();
    // The last ACK: nanoseconds 0xFFFFFFFF (4.294967295 s) on top of 4 s less.
    const last = capture.frame(capture.frames.length);
    const lastSeconds = Number(last.timeMicros / 1_000_000n);
    last.rawTimestamp = { seconds: lastSeconds - 4, fraction: 0xffffffff };
    const bytes = pcapFile(capture.frames, { nanoseconds: true }).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "pcap-nanos-overflow",
      format: "pcap",
      gzip: false,
      bytes,
      description: "nanosecond pcap (magic a1b23c4d) whose request record says seconds-1 + 1,000,000,000+n ns and whose last record has ts_nsec 0xFFFFFFFF",
      outcome: "nanoseconds >= 1e9 are carried into the seconds (never a time with a 10-digit fraction); the v1 event's time is the true instant, with 9 digits; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [expectedEvent(capture, conversation, frame, { kind: "v1", path, status: 200, digits: 9 })],
      counters: { framesRead: frames, bytesRead: bytes.length, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }

  // --- pcapng framing ----------------------------------------------------------------------
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40010, "/latest/meta-data/instance-id");
    const frames = capture.frames.length;
    const zeroLength = new Uint8Array(12);
    new DataView(zeroLength.buffer).setUint32(0, 6, true); // an EPB with total length 0
    const file = pcapngFile(capture.frames, new Map([[frames, [zeroLength]]]));
    cases.push({
      name: "pcapng-zero-length-block",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng: SHB, IDB, a complete v1 conversation, then a block whose total length field is 0",
      outcome: "E_CAPTURE_FORMAT at the zero-length block (never a loop on a block that does not advance); the v1 call before it is reported; exit 1",
      exitCode: 1,
      error: { code: "E_CAPTURE_FORMAT", byteOffset: file.bytes.length - 12, frameNumber: frames + 1 },
      frames,
      events: [event],
      counters: { framesRead: frames, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40011, "/latest/meta-data/instance-id");
    const frames = capture.frames.length;
    const empty = [pcapngBlock(4, new Uint8Array(0)), pcapngBlock(5, new Uint8Array(0)), pcapngBlock(0x0000abcd, new Uint8Array(0))];
    const file = pcapngFile(capture.frames, new Map([[3, empty]]));
    cases.push({
      name: "pcapng-empty-blocks",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng: empty (12-byte, no body) name-resolution, interface-statistics and unknown-type (0x0000ABCD) blocks between the handshake and the request",
      outcome: "the empty blocks are skipped (the unknown one counted and warned about once); the v1 call is reported; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [event],
      counters: { framesRead: frames, bytesRead: file.bytes.length, pcapngUnknownBlocksSkipped: 1, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: ["pcapng-unknown-block:0x0000abcd"],
    });
  }
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40012, "/latest/meta-data/instance-id");
    const second = new Conversation(capture, { clientPort: 40013 });
    second.handshake();
    second.send(getRequest("/latest/user-data"));
    const frames = capture.frames.length;
    const badIndex = frames - 1; // the second request
    const good = pcapngFile(capture.frames);
    const badTotal = (good.offsets[badIndex + 1] ?? good.bytes.length) - (good.offsets[badIndex] ?? 0);
    const file = pcapngFile(capture.frames, new Map(), new Map([[badIndex, { trailingLength: badTotal + 4 }]]));
    cases.push({
      name: "pcapng-trailing-length-mismatch",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng: a complete v1 conversation, then a second connection whose request EPB ends with a total length 4 more than it starts with",
      outcome: "E_CAPTURE_FORMAT at the EPB whose lengths disagree (its frame number named); the first call is reported, the second request never is; exit 1",
      exitCode: 1,
      error: { code: "E_CAPTURE_FORMAT", byteOffset: file.offsets[badIndex] ?? -1, frameNumber: badIndex + 1 },
      frames: badIndex,
      events: [event],
      // The second connection's handshake opened a flow that the end of the input closes.
      counters: { framesRead: badIndex, imdsSegments: badIndex, flowsOpened: 2, flowsClosed: 2, segmentsAfterClose: 1, requestsParsed: 1, responsesParsed: 1 },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40014, "/latest/meta-data/instance-id");
    const second = new Conversation(capture, { clientPort: 40015 });
    second.handshake();
    const frames = capture.frames.length;
    const badIndex = frames - 2; // the second connection's SYN-ACK
    const file = pcapngFile(capture.frames, new Map(), new Map([[badIndex, { interfaceId: 3 }]]));
    cases.push({
      name: "pcapng-epb-unknown-interface",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng with one interface: a complete v1 conversation, then an EPB naming interface 3",
      outcome: "E_CAPTURE_FORMAT at that EPB (its link type and time base are unknowable), as Wireshark does; the first call is reported; exit 1",
      exitCode: 1,
      error: { code: "E_CAPTURE_FORMAT", byteOffset: file.offsets[badIndex] ?? -1, frameNumber: badIndex + 1 },
      frames: badIndex,
      events: [event],
      counters: { framesRead: badIndex, imdsSegments: badIndex, flowsOpened: 2, flowsClosed: 2, segmentsAfterClose: 1, requestsParsed: 1, responsesParsed: 1 },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const first = v1Conversation(capture, 40016, "/latest/meta-data/instance-id");
    const unknownAt = capture.frames.length;
    const second = v1Conversation(capture, 40017, "/latest/meta-data/ami-id");
    const frames = capture.frames.length;
    const unknown = pcapngBlock(0x80000001, latin1Bytes("hostile unknown block body."));
    const file = pcapngFile(capture.frames, new Map([[unknownAt, [unknown]]]));
    cases.push({
      name: "pcapng-unknown-block",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng: two v1 conversations with a block of unknown type 0x80000001 (local use) between them",
      outcome: "the unknown block is skipped, counted (pcapngUnknownBlocksSkipped 1) and warned about; both calls are reported; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [first, second],
      counters: { framesRead: frames, bytesRead: file.bytes.length, pcapngUnknownBlocksSkipped: 1, imdsSegments: frames, ...cleanFlows(2, 2, 2) },
      warnings: ["pcapng-unknown-block:0x80000001"],
    });
  }
  {
    const capture = new CaptureBuilder();
    const event = v1Conversation(capture, 40018, "/latest/meta-data/instance-id");
    const frames = capture.frames.length;
    const badSection = [sectionHeaderBlock(true, 0xdeadbeef), interfaceDescriptionBlock(ethernetInterface)];
    const file = pcapngFile(capture.frames, new Map([[frames, badSection]]));
    const badOffset = file.bytes.length - badSection.reduce((sum, block) => sum + block.length, 0);
    cases.push({
      name: "pcapng-bad-shb-magic-mid-file",
      format: "pcapng",
      gzip: false,
      bytes: file.bytes,
      description: "pcapng: a complete v1 conversation, then a second section header block whose byte-order magic is 0xDEADBEEF",
      outcome: "E_CAPTURE_FORMAT at the second SHB (byte order unknowable, nothing after it can be read); the call before it is reported; exit 1",
      exitCode: 1,
      error: { code: "E_CAPTURE_FORMAT", byteOffset: badOffset, frameNumber: frames + 1 },
      frames,
      events: [event],
      counters: { framesRead: frames, imdsSegments: frames, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }

  // --- IP and TCP headers ------------------------------------------------------------------
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40020 });
    conversation.handshake();
    const path = "/latest/meta-data/instance-id";
    const request = latin1Bytes(getRequest(path));
    // 20-byte TCP header + 30 payload bytes, but the data offset says 60 bytes; then one saying 0.
    conversation.client(tcp.psh | tcp.ack, request.subarray(0, 30), { dataOffsetWords: 15 });
    conversation.client(tcp.psh | tcp.ack, request, { dataOffsetWords: 0 });
    const frame = conversation.send(request);
    conversation.reply(response(200));
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "tcp-data-offset-beyond-packet",
      format: "pcap",
      gzip: false,
      bytes,
      description: "a v1 conversation with two bad copies of the request first: TCP data offset 15 (60 bytes) in a 50-byte segment, and data offset 0",
      outcome: "both bad segments are dropped as framesMalformed (no read past the packet, no payload from a negative length); the good copy gives the v1 call; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [expectedEvent(capture, conversation, frame, { kind: "v1", path, status: 200 })],
      counters: { framesRead: frames, bytesRead: bytes.length, framesMalformed: 2, imdsSegments: frames - 2, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40021, ipVersion: 6 });
    conversation.handshake();
    const path = "/latest/meta-data/instance-id";
    const request = latin1Bytes(getRequest(path));
    const hopByHop = ipv6OptionsHeader(0, 0);
    const tooMany = Array.from({ length: limits.maxIpv6ExtensionHeaders + 1 }, () => hopByHop);
    const veryLong = Array.from({ length: 4000 }, () => hopByHop);
    // A hop-by-hop header claiming 2048 bytes in a packet that has ~150 after it.
    const overlong = ipv6OptionsHeader(0, 255);
    const overlongFrame = conversation.clientFrame(tcp.psh | tcp.ack, request, { ipv6Extensions: [overlong] });
    const ipv6PayloadLengthAt = 14 + 4;
    const realPayload = 8 + 20 + request.length;
    const cut = overlongFrame.subarray(0, 14 + 40 + realPayload);
    new DataView(cut.buffer, cut.byteOffset).setUint16(ipv6PayloadLengthAt, realPayload);
    conversation.client(tcp.psh | tcp.ack, request, { ipv6Extensions: tooMany });
    conversation.client(tcp.psh | tcp.ack, request, { ipv6Extensions: veryLong });
    capture.add(cut.slice());
    // The most a sane packet may carry: 16 headers (hop-by-hop, 14 routing, destination options).
    const sane = [hopByHop, ...Array.from({ length: limits.maxIpv6ExtensionHeaders - 2 }, () => ipv6RoutingHeader()), ipv6OptionsHeader(60, 0)];
    const frame = conversation.client(tcp.psh | tcp.ack, request, { ipv6Extensions: sane });
    conversation.clientSeq += request.length;
    conversation.reply(response(200));
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "ipv6-extension-header-chains",
      format: "pcap",
      gzip: false,
      bytes,
      description: "IPv6 v1 conversation to [fd00:ec2::254]:80; the request is sent four times: behind 17 hop-by-hop headers, behind 4000 hop-by-hop headers (32 KB chain), behind a hop-by-hop header whose length runs past the packet, and behind a 16-header chain (hop-by-hop, 14 routing, destination options)",
      outcome: "the first three are framesMalformed (chain longer than 16 headers, or past the packet), walked in bounded time; the 16-header copy gives the v1 call; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [expectedEvent(capture, conversation, frame, { kind: "v1", path, status: 200 })],
      counters: { framesRead: frames, bytesRead: bytes.length, framesMalformed: 3, imdsSegments: frames - 3, ...cleanFlows(1, 1, 1) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40022 });
    conversation.handshake();
    const request = getRequest("/latest/meta-data/iam/security-credentials/", [`X-aws-ec2-metadata-token: ${token}`]);
    const requestFrame = conversation.send(request);
    const reply = response(200, "role-name");
    conversation.reply(reply);
    conversation.close();
    const snaplen = 64;
    const payloadRoom = snaplen - 54;
    let cutFrames = 0;
    let truncatedHeaders = 0;
    for (const frame of capture.frames) {
      if (frame.bytes.length <= snaplen) continue;
      cutFrames++;
      if (frame.bytes[46] !== undefined && frame.bytes[46] >> 4 > 5 && frame.bytes.length > 54) truncatedHeaders++;
      frame.bytes = frame.bytes.slice(0, snaplen);
    }
    const bytes = pcapFile(capture.frames, { snaplen }).bytes;
    const frames = capture.frames.length;
    const lost = request.length - payloadRoom + (reply.length - payloadRoom);
    cases.push({
      name: "snaplen-64-imds-request",
      format: "pcap",
      gzip: false,
      bytes,
      description: "a v2 GET and its response captured with snaplen 64: SYN and SYN-ACK (40-byte TCP headers) lose their TCP options, data frames keep 10 payload bytes",
      outcome: "one event of kind unclassified, marked incomplete (snaplen, cut at 64 bytes): the request's line is cut after 10 bytes (`GET /lates`) and its headers were never captured, so it cannot be classified - it must not be guessed v1; the loss is counted: framesSnaplenCut 4, framesTruncatedHeaders 2, 2 gaps of the missing bytes, a flow started mid-stream; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [
        expectedEvent(capture, conversation, requestFrame, {
          kind: "unclassified",
          path: request.slice(4, payloadRoom),
          httpVersion: null,
          userAgent: null,
          status: null,
          incomplete: incomplete("snaplen", { snaplen, pathComplete: false }),
        }),
      ],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        framesSnaplenCut: cutFrames,
        framesTruncatedHeaders: truncatedHeaders,
        imdsSegments: frames - truncatedHeaders,
        flowsOpened: 1,
        flowsClosed: 1,
        flowsStartedMidStream: 1,
        segmentsAfterClose: 1,
        gaps: 2,
        gapBytes: lost,
        requestsWithoutResponse: 1,
        requestsIncomplete: 1,
      },
      warnings: [],
    });
  }

  // --- reassembly: 100,000 one-byte segments -----------------------------------------------
  const tinySegments = 100_000;
  const tinyRequests = 10;
  const tinyRequestBytes = tinySegments / tinyRequests;
  /** Ten pipelined requests of exactly 10,000 bytes each (a padding header fills them). */
  const paddedRequests = Array.from({ length: tinyRequests }, (_, index) => {
    const path = `/latest/meta-data/tiny-${index}`;
    const kind = index % 2 === 0 ? "v1" : "v2";
    const headers = kind === "v2" ? [`X-aws-ec2-metadata-token: ${token}`] : [];
    const bare = getRequest(path, [...headers, "X-Padding: "]);
    const padding = "p".repeat(tinyRequestBytes - bare.length);
    const text = getRequest(path, [...headers, `X-Padding: ${padding}`]);
    if (text.length !== tinyRequestBytes) throw new Error("padding arithmetic");
    return { path, kind: /** @type {"v1" | "v2"} */ (kind), text };
  });
  const tinyStream = latin1Bytes(paddedRequests.map((request) => request.text).join(""));
  const tinyResponses = paddedRequests.map(() => response(200)).join("");
  {
    const capture = new CaptureBuilder(1n);
    const conversation = new Conversation(capture, { clientPort: 40030 });
    conversation.handshake();
    const firstData = capture.frames.length + 1;
    conversation.send(tinyStream, 1);
    conversation.reply(tinyResponses);
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    const events = paddedRequests.map((request, index) =>
      expectedEvent(capture, conversation, firstData + (index + 1) * tinyRequestBytes - 1, {
        kind: request.kind,
        path: request.path,
        status: 200,
        requestOnConnection: index + 1,
      }),
    );
    cases.push({
      name: "tiny-segments-100k",
      format: "pcap",
      gzip: true,
      bytes,
      description: "one IMDS connection whose client sends 100,000 one-byte segments, in order: ten pipelined 10,000-byte requests (v1 and v2 alternating, a long padding header each), then ten 200 responses in one segment",
      outcome: "all ten calls are reported with their 200s, each at the frame of its last byte (in-order data is never queued, so no limit applies); exit 0",
      exitCode: 0,
      error: null,
      frames,
      events,
      counters: { framesRead: frames, bytesRead: bytes.length, imdsSegments: frames, ...cleanFlows(1, tinyRequests, tinyRequests) },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder(1n);
    const conversation = new Conversation(capture, { clientPort: 40031 });
    conversation.handshake();
    const base = conversation.clientSeq;
    for (let offset = tinySegments - 1; offset >= 0; offset--) {
      conversation.client(tcp.psh | tcp.ack, tinyStream.subarray(offset, offset + 1), { seq: (base + offset) >>> 0 });
    }
    conversation.clientSeq = (base + tinySegments) >>> 0;
    conversation.reply(tinyResponses);
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    // The per-direction queue holds limit / (64 bytes charged per piece) one-byte pieces; the
    // next one gives up the hole before them, and every earlier byte then arrives too late.
    const queued = limits.maxQueuedBytesPerDirection / limits.minChargedBytesPerPiece;
    const lost = tinySegments - queued;
    cases.push({
      name: "tiny-segments-100k-reversed",
      format: "pcap",
      gzip: true,
      bytes,
      description: "the same 100,000 one-byte segments (ten 10,000-byte requests), sent last byte first",
      outcome: `memory stays bounded by maxQueuedBytesPerDirection (256 KiB, each piece charged at least 64 bytes): ${queued} pieces are queued, then the hole before them is given up (gaps 1, gapBytes ${lost}) and the ${lost} earlier bytes count as segmentsOutOfOrderDropped; what is left is the tail of a padding header, so no call is reported: the connection is counted in connectionsWithUnreadRequestBytes (request bytes lost where no request line was visible) and the ten responses cannot be paired; exit 0`,
      exitCode: 0,
      error: null,
      frames,
      events: [],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        flowsOpened: 1,
        flowsClosed: 1,
        segmentsOutOfOrder: queued,
        segmentsOutOfOrderDropped: lost,
        segmentsAfterClose: 1,
        gaps: 1,
        gapBytes: lost,
        responsesParsed: tinyRequests,
        connectionsWithUnreadRequestBytes: 1,
        // Ten responses answered requests of which no line was seen.
        requestsSeenOnlyByResponse: tinyRequests,
      },
      warnings: [],
    });
  }

  // --- HTTP heads ----------------------------------------------------------------------------
  {
    const capture = new CaptureBuilder();
    // Connection 1: a v2 GET in three segments, the middle one (User-Agent, Accept) never captured.
    const lost = new Conversation(capture, { clientPort: 40060 });
    lost.handshake();
    const path = "/latest/meta-data/iam/security-credentials/";
    lost.send(`GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\n`);
    const missing = `User-Agent: ${userAgent}\r\nAccept: */*\r\n`;
    lost.send(missing);
    capture.frames.pop();
    lost.send(`X-aws-ec2-metadata-token: ${token}\r\n\r\n`);
    lost.close();
    // Connection 2: a head the capture ends inside (no empty line yet).
    const ended = new Conversation(capture, { clientPort: 40061 });
    ended.handshake();
    const endedPath = "/latest/meta-data/";
    const last = ended.send(`GET ${endedPath} HTTP/1.1\r\nUser-Agent: ${userAgent}\r\n`);
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    if (last !== frames) throw new Error("the ended head must be the capture's last frame");
    cases.push({
      name: "head-gap-and-capture-end",
      format: "pcap",
      gzip: false,
      bytes,
      description: "connection 1: a v2 GET sent in three segments whose middle one (User-Agent, Accept) was never captured, so its token header arrives after a hole; connection 2: a GET whose head the capture ends inside (request line and User-Agent, no empty line)",
      outcome: "neither request is dropped or guessed: each is an unclassified event (never v1 nor v2: the token header after the hole cannot be tied to its request), marked incomplete with its cause (gap; ended), with what was seen of it (connection 2's User-Agent). Both are given up when the capture ends, so both carry its last frame; the hole is counted (gaps 1); exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [
        expectedEvent(capture, lost, frames, { kind: "unclassified", path, userAgent: null, status: null, incomplete: incomplete("gap") }),
        expectedEvent(capture, ended, frames, { kind: "unclassified", path: endedPath, status: null, incomplete: incomplete("ended") }),
      ],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        flowsOpened: 2,
        flowsClosed: 2,
        segmentsOutOfOrder: 1,
        gaps: 1,
        gapBytes: missing.length,
        requestsWithoutResponse: 2,
        requestsIncomplete: 2,
      },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40040 });
    conversation.handshake();
    const headerCount = 1000;
    const headers = Array.from({ length: headerCount }, (_, index) => `X-Header-${String(index).padStart(4, "0")}: ${"h".repeat(1040)}`);
    const huge = getRequest("/latest/meta-data/instance-id", headers);
    const path = "/latest/meta-data/placement/availability-zone";
    // The head is dropped in the segment that carries its byte number maxHeadBytes + 1.
    const hugeDropFrame = capture.frames.length + 1 + Math.floor(limits.maxHeadBytes / 1448);
    conversation.send(huge);
    const frame = conversation.send(getRequest(path, [`X-aws-ec2-metadata-token: ${token}`]));
    conversation.reply(response(431, ""));
    conversation.reply(response(200, "us-east-1a"));
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    if (huge.length < 1024 * 1024) throw new Error("the huge head must be at least 1 MiB");
    cases.push({
      name: "http-headers-1mb",
      format: "pcap",
      gzip: true,
      bytes,
      description: `a request whose head is ${huge.length} bytes (1000 headers of ~1 KB) followed on the same connection by a normal v2 GET; the server answers 431 then 200`,
      outcome: "the huge head is dropped at maxHeadBytes (64 KiB) and counted (httpRequestErrors 1), never buffered whole; it is still reported, as far as it was seen: an unclassified event (incomplete: parse-error head-too-large) with its request line and User-Agent; the parser resynchronises on the next request line (httpResyncs 1) and reports the v2 call; both statuses are null because after a dropped request the responses cannot be paired with certainty; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [
        expectedEvent(capture, conversation, hugeDropFrame, {
          kind: "unclassified",
          path: "/latest/meta-data/instance-id",
          status: null,
          incomplete: incomplete("parse-error", { parseError: "head-too-large" }),
        }),
        expectedEvent(capture, conversation, frame, { kind: "v2", path, status: null, requestOnConnection: 2 }),
      ],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        ...cleanFlows(1, 1, 2),
        httpRequestErrors: 1,
        httpResyncs: 1,
        requestsWithoutResponse: 2,
        requestsIncomplete: 1,
      },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40041 });
    conversation.handshake();
    const endless = `GET /latest/meta-data/${"a".repeat(3 * 1024 * 1024)}`;
    conversation.send(endless);
    const path = "/latest/meta-data/instance-id";
    const frame = conversation.send(` HTTP/1.1\r\n\r\n${getRequest(path)}`);
    conversation.reply(response(400, ""));
    conversation.reply(response(200, "i-0123456789abcdef0"));
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "request-line-no-crlf",
      format: "pcap",
      gzip: true,
      bytes,
      description: "a request line 3 MiB long (no CR or LF for megabytes), then its end and a normal v1 GET on the same connection; the server answers 400 then 200",
      outcome: "the endless line is dropped at maxHeadBytes and skipped to its LF without buffering it (httpRequestErrors 1; a line that long is no request line, so no event); the v1 GET after it is reported after resynchronising (httpResyncs 1), status null (pairing lost after the dropped request); the connection's two responses against one request seen count one request seen only by its response; exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [expectedEvent(capture, conversation, frame, { kind: "v1", path, status: null })],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        ...cleanFlows(1, 1, 2),
        httpRequestErrors: 1,
        httpResyncs: 1,
        requestsWithoutResponse: 1,
        requestsSeenOnlyByResponse: 1,
      },
      warnings: [],
    });
  }
  {
    const capture = new CaptureBuilder();
    const first = new Conversation(capture, { clientPort: 40042 });
    first.handshake();
    const credentialsPath = "/latest/meta-data/iam/security-credentials/";
    const firstBadFrame = first.send(getRequest(credentialsPath, [`X-Foo\u0000X-aws-ec2-metadata-token: ${token}`]));
    const path = "/latest/meta-data/instance-id";
    const frame = first.send(getRequest(path));
    first.reply(response(400, ""));
    first.reply(response(200, "i-0123456789abcdef0"));
    first.close();
    const second = new Conversation(capture, { clientPort: 40043 });
    second.handshake();
    const secondBadFrame = second.send(getRequest(credentialsPath, [`X-aws-ec2-metadata-token\u0000: ${token}`]));
    second.reply(response(400, ""));
    second.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "nul-in-header-name",
      format: "pcap",
      gzip: false,
      bytes,
      description: "connection 1: a GET with header name `X-Foo\\0X-aws-ec2-metadata-token` (a substring search would call it v2), then a plain v1 GET; connection 2: a GET with header name `X-aws-ec2-metadata-token\\0`; the server answers 400 to the bad ones",
      outcome: "a NUL is not a token character: both bad requests are dropped and counted (httpRequestErrors 2), never classified v2 (nor v1): each is an unclassified event (incomplete: parse-error bad-header) with what was seen of it; the v1 GET after the first is reported (httpResyncs 1, status null: pairing lost); exit 0",
      exitCode: 0,
      error: null,
      frames,
      events: [
        expectedEvent(capture, first, firstBadFrame, {
          kind: "unclassified",
          path: credentialsPath,
          status: null,
          incomplete: incomplete("parse-error", { parseError: "bad-header" }),
        }),
        expectedEvent(capture, first, frame, { kind: "v1", path, status: null, requestOnConnection: 2 }),
        expectedEvent(capture, second, secondBadFrame, {
          kind: "unclassified",
          path: credentialsPath,
          status: null,
          incomplete: incomplete("parse-error", { parseError: "bad-header" }),
        }),
      ],
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        ...cleanFlows(2, 1, 3),
        httpRequestErrors: 2,
        httpResyncs: 1,
        requestsWithoutResponse: 3,
        requestsIncomplete: 2,
      },
      warnings: [],
    });
  }

  {
    const capture = new CaptureBuilder();
    const conversation = new Conversation(capture, { clientPort: 40044 });
    conversation.handshake();
    const pipelined = 300_000;
    const pendingLimit = limits.maxPendingEvents;
    const request = "GET /latest/meta-data/ HTTP/1.1\r\n\r\n";
    const segmentBytes = 65_000; // the most an IPv4 packet (65,535 bytes) holds with its headers, rounded down
    conversation.send(request.repeat(pipelined), segmentBytes);
    conversation.reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(pipelined), segmentBytes);
    conversation.close();
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name: "pipelined-requests-300k",
      format: "pcap",
      gzip: true,
      bytes,
      description: `one connection carrying ${pipelined} pipelined token-less GETs (34 bytes each, in 65,000-byte segments), then ${pipelined} 200 responses`,
      outcome: `every request is a v1 call, in linear time (no O(n) shift per response) and bounded memory (calls already emitted are not kept for pairing); the event queue holds at most maxPendingEvents (50,000) calls, so the first ${pipelined - pendingLimit} leave without a status before the responses arrive (requestsWithoutResponse) and the last ${pendingLimit} get their 200; exit 0`,
      exitCode: 0,
      error: null,
      frames,
      events: null,
      eventCounts: { total: pipelined, byKind: { v1: pipelined }, byStatus: { 200: pendingLimit, null: pipelined - pendingLimit } },
      counters: {
        framesRead: frames,
        bytesRead: bytes.length,
        imdsSegments: frames,
        ...cleanFlows(1, pipelined, pipelined),
        requestsWithoutResponse: pipelined - pendingLimit,
      },
      warnings: [],
    });
  }

  // --- token classification -------------------------------------------------------------------
  /**
   * One connection per request, each answered 200 (or `status`).
   * @param {string} name @param {string} description @param {string} outcome
   * @param {readonly { text: string, kind: ExpectedEvent["kind"], path: string, status?: number, method?: string, tokenTtlSeconds?: number }[]} requests
   */
  const classificationCase = (name, description, outcome, requests) => {
    const capture = new CaptureBuilder();
    const events = requests.map((request, index) => {
      const conversation = new Conversation(capture, { clientPort: 40100 + index });
      conversation.handshake();
      const frame = conversation.send(request.text);
      conversation.reply(response(request.status ?? 200));
      conversation.close();
      return expectedEvent(capture, conversation, frame, {
        kind: request.kind,
        path: request.path,
        status: request.status ?? 200,
        ...(request.method === undefined ? {} : { method: request.method }),
        ...(request.tokenTtlSeconds === undefined ? {} : { tokenTtlSeconds: request.tokenTtlSeconds }),
      });
    });
    const bytes = pcapFile(capture.frames).bytes;
    const frames = capture.frames.length;
    cases.push({
      name,
      format: "pcap",
      gzip: false,
      bytes,
      description,
      outcome,
      exitCode: 0,
      error: null,
      frames,
      events,
      counters: { framesRead: frames, bytesRead: bytes.length, imdsSegments: frames, ...cleanFlows(requests.length, requests.length, requests.length) },
      warnings: [],
    });
  };
  const queryPath = "/latest/meta-data/ami-id?x-aws-ec2-metadata-token=AQAEAinthequery";
  classificationCase(
    "token-name-as-substring",
    "four connections: a GET with header `X-aws-ec2-metadata-token-foo: x`; a GET whose query is `?x-aws-ec2-metadata-token=...`; a GET with `X-Note: X-aws-ec2-metadata-token: ...` (the name inside a value); a real v2 GET",
    "the first three are v1 (classification uses whole parsed header names, never substrings of the payload); the last is v2; exit 0",
    [
      { text: getRequest("/latest/meta-data/instance-id", ["X-aws-ec2-metadata-token-foo: x"]), kind: "v1", path: "/latest/meta-data/instance-id" },
      { text: getRequest(queryPath), kind: "v1", path: queryPath },
      { text: getRequest("/latest/meta-data/hostname", [`X-Note: X-aws-ec2-metadata-token: ${token}`]), kind: "v1", path: "/latest/meta-data/hostname" },
      { text: getRequest("/latest/meta-data/instance-id", [`X-aws-ec2-metadata-token: ${token}`]), kind: "v2", path: "/latest/meta-data/instance-id" },
    ],
  );
  classificationCase(
    "token-header-empty-value",
    "three connections whose GET carries an empty token header: `X-aws-ec2-metadata-token: `, `X-aws-ec2-metadata-token:` and a value of spaces and tabs; the server answers 401",
    "all three are v1: a token header counts only with a non-empty value; exit 0",
    [
      { text: getRequest("/latest/meta-data/instance-id", ["X-aws-ec2-metadata-token: "]), kind: "v1", path: "/latest/meta-data/instance-id", status: 401 },
      { text: getRequest("/latest/meta-data/instance-id", ["X-aws-ec2-metadata-token:"]), kind: "v1", path: "/latest/meta-data/instance-id", status: 401 },
      { text: getRequest("/latest/meta-data/instance-id", ["x-aws-ec2-metadata-token: \t  \t"]), kind: "v1", path: "/latest/meta-data/instance-id", status: 401 },
    ],
  );
  classificationCase(
    "duplicate-token-headers",
    "three connections whose GET carries two token headers: both with the token; empty then the token; the token then empty (different cases of the name); and a token PUT with two TTL headers",
    "the three GETs are v2 (a non-empty token header is present); the PUT is a token request whose TTL is the first header's (21600); exit 0",
    [
      { text: getRequest("/latest/meta-data/instance-id", [`X-aws-ec2-metadata-token: ${token}`, `X-aws-ec2-metadata-token: ${token}`]), kind: "v2", path: "/latest/meta-data/instance-id" },
      { text: getRequest("/latest/meta-data/instance-id", ["X-aws-ec2-metadata-token:", `x-aws-ec2-metadata-token: ${token}`]), kind: "v2", path: "/latest/meta-data/instance-id" },
      { text: getRequest("/latest/meta-data/instance-id", [`X-AWS-EC2-METADATA-TOKEN: ${token}`, "X-aws-ec2-metadata-token: "]), kind: "v2", path: "/latest/meta-data/instance-id" },
      {
        text: tokenPut.replace("\r\n\r\n", "\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n"),
        kind: "token-request",
        method: "PUT",
        path: "/latest/api/token",
        tokenTtlSeconds: 21600,
      },
    ],
  );
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Output

/** @param {HostileCase} hostile */
function fileName(hostile) {
  return `${hostile.name}.${hostile.format}${hostile.gzip ? ".gz" : ""}`;
}

/** @param {string} outDirectory */
export function writeHostileCaptures(outDirectory) {
  mkdirSync(outDirectory, { recursive: true });
  for (const name of readdirSync(outDirectory)) {
    if (/\.(pcap|pcapng)(\.gz)?$|\.expected\.json$/.test(name)) rmSync(join(outDirectory, name));
  }
  const cases = buildCases();
  const lines = [];
  for (const hostile of cases) {
    const name = fileName(hostile);
    // level 9, no file name or time in the gzip header: the same bytes on every run.
    const data = hostile.gzip ? gzipSync(hostile.bytes, { level: 9 }) : hostile.bytes;
    writeFileSync(join(outDirectory, name), data);
    const expected = {
      capture: name,
      format: hostile.format,
      compressed: hostile.gzip,
      description: hostile.description,
      outcome: hostile.outcome,
      exitCode: hostile.exitCode,
      error: hostile.error,
      frames: hostile.frames,
      events: hostile.events,
      ...(hostile.eventCounts === undefined ? {} : { eventCounts: hostile.eventCounts }),
      counters: hostile.counters,
      warnings: hostile.warnings,
    };
    writeFileSync(join(outDirectory, `${hostile.name}.expected.json`), `${JSON.stringify(expected, null, 2)}\n`);
    lines.push(`| [${name}](${name}) | ${hostile.description} | ${hostile.outcome} |`);
  }
  writeFileSync(join(outDirectory, "README.md"), readme(lines));
  return cases.map(fileName);
}

/** @param {readonly string[]} lines */
function readme(lines) {
  return `# Hostile captures

Crafted captures that attack every layer of the analyzer: record and block lengths, pcapng framing,
IP and TCP headers, reassembly limits, HTTP parsing and token classification. **Generated by
\`node scripts/make-hostile-captures.mjs\`** (deterministic; do not edit by hand, run it again).
Large cases are gzip-compressed (the analyzer reads \`.gz\` transparently); byte offsets are in
the decompressed stream.

Each \`NAME.expected.json\` says what a correct analyzer must do, derived from what the file
contains (never by running the analyzer): \`exitCode\` of \`imds-analyzer analyze FILE\`,
\`error\` (code from src/errors.ts, the byte offset and 1-based frame number it must name, or
null), \`frames\` read, \`events\` (every field of each event but schema, source, process,
attribution, host), \`counters\` (every non-zero diagnostics counter, exact; src/diagnostics.ts
names) and \`warnings\` (warning codes). test/hostile-captures.test.ts checks all of it.

| capture | what it is | what must happen |
|---|---|---|
${lines.join("\n")}
`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const here = dirname(fileURLToPath(import.meta.url));
  const out = process.argv[2] ?? join(here, "..", "captures", "hostile");
  const written = writeHostileCaptures(out);
  process.stdout.write(`wrote ${written.length} captures to ${out}\n`);
}
