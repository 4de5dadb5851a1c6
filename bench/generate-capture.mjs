// @ts-check
// Deterministic capture generator for `npm run bench` (no network, no randomness source but a
// fixed-seed counter). It writes Ethernet/IPv4 frames to a classic pcap and, optionally, the very
// same frames to a pcapng, in big chunks with stream backpressure, so 1 GiB takes seconds.
//
// Two modes:
// - "mixed": mostly non-IMDS traffic of realistic sizes (bulk TCP at MSS 1448 with ACKs, DNS,
//   QUIC-sized UDP, plain HTTP to a non-IMDS host on port 80) with one IMDS conversation every
//   `imdsEveryFrames` frames;
// - "imds-only": nothing but short IMDS connections (handshake, requests, responses, FIN);
// - "syn-flood": one SYN to IMDS from each of `synFlows` distinct client address/port pairs and
//   nothing else: a million half-open connections, for the flow table's memory bound.
// IMDS conversations rotate through v1, token PUT + v2 on one keep-alive connection, v1 split
// in two in-order segments, v2 split mid header name with the segments out of order, and a token
// PUT split out of order. The generator counts what it wrote, by kind, so tools can be checked.
//
// CLI: node bench/generate-capture.mjs OUT.pcap [OUT.pcapng] [--size-mb N] [--imds-only | --syn-flood N]
// prints the manifest (frames, bytes, requests by kind) as JSON on stdout.

import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { etherType, exampleMacs, tcpFlags, writeEthernetHeader, writeIpv4Header, writeTcpHeader, writeUdpHeader } from "../src/wire-format/packets.mjs";
import { pcapRecordHeaderBytes, writePcapFileHeader, writePcapRecordHeader } from "../src/wire-format/pcap-file.mjs";
import { enhancedPacketBlockLength, interfaceDescriptionBlock, sectionHeaderBlock, writeEnhancedPacketBlock } from "../src/wire-format/pcapng-file.mjs";

/** @typedef {{ total: number, v1: number, v2: number, tokenRequests: number }} RequestCounts */
/**
 * @typedef {object} GenerateOptions
 * @property {string} pcapPath classic pcap (µs timestamps, link type Ethernet)
 * @property {string | null} [pcapngPath] the same frames as pcapng; omitted or null: not written
 * @property {number} sizeBytes stop after the conversation that brings the pcap to this size
 * @property {"mixed" | "imds-only" | "syn-flood"} [mode] default "mixed"
 * @property {number} [synFlows] syn-flood mode: SYNs (half-open connections) to write (sizeBytes is ignored)
 * @property {number} [imdsEveryFrames] mixed mode: one IMDS conversation per this many frames (default 1000)
 */
/**
 * @typedef {object} GenerateManifest
 * @property {string} mode
 * @property {number} frames
 * @property {number} pcapBytes
 * @property {number | null} pcapngBytes
 * @property {number} imdsConnections
 * @property {RequestCounts} requests IMDS requests written, by kind
 * @property {number} splitRequests requests sent as two segments
 * @property {number} outOfOrderRequests requests whose second segment was sent first
 * @property {number} synFlows half-open connections written (syn-flood mode)
 */

/** Output chunk size: big writes are what makes this fast; 2 outputs x this are in flight at most. */
const chunkBytes = 4 * 1024 * 1024;
const maxFrameBytes = 1514;
const frameStepMicros = 7;
const startTimeMicros = 1_764_000_000n * 1_000_000n; // 2025-11-24, a fixed clock

const imdsIpv4 = 0xa9fea9fe; // 169.254.169.254
/** The snaplen both file headers state. */
const snaplen = 65535;

const token = "AQAEAEXAMPLEx0bXBvcmFyeS10b2tlbi1mb3ItYmVuY2htYXJrcw==";
const requestTexts = /** @type {const} */ ({
  v1: "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
  token: "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0\r\nAccept-Encoding: identity\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n",
  v2: `GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0\r\nAccept-Encoding: identity\r\nX-aws-ec2-metadata-token: ${token}\r\n\r\n`,
});
const responseTexts = /** @type {const} */ ({
  get: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nServer: EC2ws\r\n\r\ni-0123456789abcdef0",
  token: `HTTP/1.1 200 OK\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: ${token.length}\r\nServer: EC2ws\r\n\r\n${token}`,
});
const decoyHttpRequest = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

/** Splits a request mid header name, like the kernel sometimes does (`X-aws-ec2-meta|data-token`). */
function splitOffset(/** @type {string} */ text) {
  const at = text.indexOf("data-token");
  return at > 0 ? at : text.indexOf("Accept") + 3;
}

/** Writes frames as pcap and pcapng records into chunk buffers, flushing with backpressure. */
class CaptureWriter {
  /** @param {string} pcapPath @param {string | null} pcapngPath */
  constructor(pcapPath, pcapngPath) {
    this.pcap = createWriteStream(pcapPath);
    this.pcapng = pcapngPath === null ? null : createWriteStream(pcapngPath);
    this.pcapChunk = Buffer.allocUnsafe(chunkBytes);
    this.pcapngChunk = Buffer.allocUnsafe(chunkBytes);
    this.pcapUsed = 0;
    this.pcapngUsed = 0;
    this.pcapBytes = 0;
    this.pcapngBytes = 0;
    this.frames = 0;
    this.timeMicros = startTimeMicros;
    /** @type {Promise<void>[]} */
    this.pendingDrains = [];
    this.writeHeaders();
  }

  writeHeaders() {
    this.pcapUsed = writePcapFileHeader(this.pcapChunk, 0, { linkType: 1, snaplen }); // LINKTYPE_ETHERNET, µs
    this.pcapBytes = this.pcapUsed;
    if (this.pcapng === null) return;
    // Section Header Block (no options), then one Interface Description Block (µs, Ethernet).
    const headers = [sectionHeaderBlock(), interfaceDescriptionBlock({ linkType: 1, snaplen, tsresol: null })];
    for (const block of headers) {
      this.pcapngChunk.set(block, this.pcapngUsed);
      this.pcapngUsed += block.length;
    }
    this.pcapngBytes = this.pcapngUsed;
  }

  /**
   * Appends one frame (bytes [0, length) of `frame`) to both outputs.
   * @param {Buffer} frame
   * @param {number} length
   */
  frame(frame, length) {
    if (this.pcapUsed + 16 + length > chunkBytes) this.flushPcap();
    const micros = this.timeMicros;
    this.timeMicros += BigInt(frameStepMicros);
    const seconds = Number(micros / 1_000_000n);
    const fraction = Number(micros % 1_000_000n);
    const data = frame.subarray(0, length);
    const at = this.pcapUsed + writePcapRecordHeader(this.pcapChunk, this.pcapUsed, seconds, fraction, length, length);
    this.pcapChunk.set(data, at);
    this.pcapUsed = at + length;
    this.pcapBytes += pcapRecordHeaderBytes + length;
    this.frames++;
    if (this.pcapng === null) return;
    if (this.pcapngUsed + enhancedPacketBlockLength(length) > chunkBytes) this.flushPcapng();
    const blockLength = writeEnhancedPacketBlock(this.pcapngChunk, this.pcapngUsed, 0, micros, data, length);
    this.pcapngUsed += blockLength;
    this.pcapngBytes += blockLength;
  }

  flushPcap() {
    // Copy out: the chunk buffer is reused at once, while the stream may still hold the data.
    if (!this.pcap.write(Buffer.from(this.pcapChunk.subarray(0, this.pcapUsed)))) {
      this.pendingDrains.push(once(this.pcap, "drain").then(() => undefined));
    }
    this.pcapUsed = 0;
  }

  flushPcapng() {
    if (this.pcapng === null) return;
    if (!this.pcapng.write(Buffer.from(this.pcapngChunk.subarray(0, this.pcapngUsed)))) {
      this.pendingDrains.push(once(this.pcapng, "drain").then(() => undefined));
    }
    this.pcapngUsed = 0;
  }

  /** Waits for the streams when they asked for it (backpressure); call between conversations. */
  async drain() {
    if (this.pendingDrains.length === 0) return;
    const drains = this.pendingDrains;
    this.pendingDrains = [];
    await Promise.all(drains);
  }

  async close() {
    this.flushPcap();
    this.flushPcapng();
    await this.drain();
    const closing = [new Promise((resolve, reject) => { this.pcap.end(() => { resolve(undefined); }); this.pcap.on("error", reject); })];
    const pcapng = this.pcapng;
    if (pcapng !== null) {
      closing.push(new Promise((resolve, reject) => { pcapng.end(() => { resolve(undefined); }); pcapng.on("error", reject); }));
    }
    await Promise.all(closing);
  }
}

/** Builds Ethernet + IPv4 + TCP/UDP headers in place in a scratch buffer (payload after them). */
class FrameBuilder {
  constructor() {
    this.buffer = Buffer.alloc(maxFrameBytes);
    // Ethernet: fixed locally administered MACs, EtherType IPv4.
    writeEthernetHeader(this.buffer, 0, etherType.ipv4, exampleMacs.first, exampleMacs.second);
    this.ipId = 0;
  }

  /**
   * @param {number} protocol 6 or 17
   * @param {number} srcIp
   * @param {number} dstIp
   * @param {number} ipPayloadBytes
   */
  ipv4(protocol, srcIp, dstIp, ipPayloadBytes) {
    writeIpv4Header(this.buffer, 14, { protocol, src: srcIp, dst: dstIp, totalLength: 20 + ipPayloadBytes, identification: this.ipId });
    this.ipId = (this.ipId + 1) & 0xffff;
  }

  /**
   * TCP header; TCP checksums are left zero (captures from offloading NICs look like that too).
   * @returns {number} frame length
   */
  tcp(/** @type {number} */ srcIp, /** @type {number} */ dstIp, /** @type {number} */ srcPort, /** @type {number} */ dstPort,
    /** @type {number} */ seq, /** @type {number} */ ack, /** @type {number} */ flags, /** @type {number} */ payloadBytes) {
    this.ipv4(6, srcIp, dstIp, 20 + payloadBytes);
    return 34 + writeTcpHeader(this.buffer, 34, { srcPort, dstPort, seq, ack, flags }) + payloadBytes;
  }

  /** @returns {number} frame length */
  udp(/** @type {number} */ srcIp, /** @type {number} */ dstIp, /** @type {number} */ srcPort, /** @type {number} */ dstPort, /** @type {number} */ payloadBytes) {
    this.ipv4(17, srcIp, dstIp, 8 + payloadBytes);
    return 34 + writeUdpHeader(this.buffer, 34, srcPort, dstPort, payloadBytes) + payloadBytes;
  }
}

/** One TCP endpoint pair with running sequence numbers, for writing a conversation. */
class Connection {
  /**
   * @param {CaptureWriter} out @param {FrameBuilder} builder
   * @param {number} clientIp @param {number} clientPort @param {number} serverIp @param {number} serverPort
   * @param {number} seed
   */
  constructor(out, builder, clientIp, clientPort, serverIp, serverPort, seed) {
    this.out = out;
    this.b = builder;
    this.clientIp = clientIp;
    this.clientPort = clientPort;
    this.serverIp = serverIp;
    this.serverPort = serverPort;
    this.clientSeq = (seed * 2654435761) >>> 0;
    this.serverSeq = (seed * 40503 + 12345) >>> 0;
  }

  open() {
    this.client(tcpFlags.syn, 0, -1);
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.server(tcpFlags.syn | tcpFlags.ack, 0);
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.client(tcpFlags.ack, 0, -1);
  }

  close() {
    this.client(tcpFlags.fin | tcpFlags.ack, 0, -1);
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.server(tcpFlags.fin | tcpFlags.ack, 0);
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.client(tcpFlags.ack, 0, -1);
  }

  /** @param {string} text @param {"whole" | "split" | "out-of-order"} shape */
  request(text, shape) {
    if (shape === "whole") {
      this.clientData(text, 0, text.length, this.clientSeq);
    } else {
      const cut = splitOffset(text);
      if (shape === "split") {
        this.clientData(text, 0, cut, this.clientSeq);
        this.clientData(text, cut, text.length, this.clientSeq + cut);
      } else {
        this.clientData(text, cut, text.length, this.clientSeq + cut);
        this.clientData(text, 0, cut, this.clientSeq);
      }
    }
    this.clientSeq = (this.clientSeq + text.length) >>> 0;
  }

  /** @param {string} text */
  respond(text) {
    const length = this.b.buffer.write(text, 54, "latin1");
    this.server(tcpFlags.psh | tcpFlags.ack, length);
    this.serverSeq = (this.serverSeq + length) >>> 0;
    this.client(tcpFlags.ack, 0, -1);
  }

  /** @param {string} text @param {number} from @param {number} to @param {number} seq */
  clientData(text, from, to, seq) {
    const length = this.b.buffer.write(text.slice(from, to), 54, "latin1");
    this.client(tcpFlags.psh | tcpFlags.ack, length, seq >>> 0);
  }

  /** @param {number} flags @param {number} payloadBytes @param {number} seq -1: the running one */
  client(flags, payloadBytes, seq) {
    const ack = flags === tcpFlags.syn ? 0 : this.serverSeq;
    const length = this.b.tcp(this.clientIp, this.serverIp, this.clientPort, this.serverPort, seq === -1 ? this.clientSeq : seq, ack, flags, payloadBytes);
    this.out.frame(this.b.buffer, length);
  }

  /** @param {number} flags @param {number} payloadBytes */
  server(flags, payloadBytes) {
    const length = this.b.tcp(this.serverIp, this.clientIp, this.serverPort, this.clientPort, this.serverSeq, this.clientSeq, flags, payloadBytes);
    this.out.frame(this.b.buffer, length);
  }
}

/** The IMDS conversation shapes, in the order they rotate. */
const imdsConversations = /** @type {const} */ (["v1", "token+v2", "v1-split", "v2-out-of-order", "token-out-of-order"]);

/**
 * Writes one IMDS connection and counts its requests.
 * @param {CaptureWriter} out @param {FrameBuilder} builder @param {number} index @param {GenerateManifest} manifest
 */
function writeImdsConversation(out, builder, index, manifest) {
  const clientIp = (10 << 24) | (1 << 16) | ((index >>> 8) & 0xff) << 8 | ((index & 0xff) || 1);
  const clientPort = 32768 + ((index * 7) % 28000);
  const connection = new Connection(out, builder, clientIp, clientPort, imdsIpv4, 80, index + 1);
  const shape = imdsConversations[index % imdsConversations.length];
  const counts = manifest.requests;
  connection.open();
  switch (shape) {
    case "v1":
      connection.request(requestTexts.v1, "whole");
      connection.respond(responseTexts.get);
      counts.v1++;
      break;
    case "token+v2":
      connection.request(requestTexts.token, "whole");
      connection.respond(responseTexts.token);
      connection.request(requestTexts.v2, "whole");
      connection.respond(responseTexts.get);
      counts.tokenRequests++;
      counts.v2++;
      break;
    case "v1-split":
      connection.request(requestTexts.v1, "split");
      connection.respond(responseTexts.get);
      counts.v1++;
      manifest.splitRequests++;
      break;
    case "v2-out-of-order":
      connection.request(requestTexts.v2, "out-of-order");
      connection.respond(responseTexts.get);
      counts.v2++;
      manifest.splitRequests++;
      manifest.outOfOrderRequests++;
      break;
    case "token-out-of-order":
      connection.request(requestTexts.token, "out-of-order");
      connection.respond(responseTexts.token);
      counts.tokenRequests++;
      manifest.splitRequests++;
      manifest.outOfOrderRequests++;
      break;
    case undefined:
      throw new Error("unreachable: index modulo the table length");
  }
  connection.close();
  counts.total = counts.v1 + counts.v2 + counts.tokenRequests;
  manifest.imdsConnections++;
}

/** Non-IMDS background: long-lived bulk TCP flows, their ACKs, DNS, QUIC-sized UDP, decoy HTTP. */
class BackgroundTraffic {
  /** @param {CaptureWriter} out */
  constructor(out) {
    this.out = out;
    this.b = new FrameBuilder();
    // A fixed payload pattern for data frames, written once.
    for (let i = 54; i < maxFrameBytes; i++) this.b.buffer[i] = (i * 31) & 0xff;
    this.flowCount = 16;
    this.flowSeq = Array.from({ length: this.flowCount }, (_, i) => (i * 0x10001000) >>> 0);
    this.step = 0;
    this.decoyBuilder = new FrameBuilder();
    this.decoyIndex = 0;
  }

  /** Writes one frame of background traffic, following a fixed 20-frame pattern. */
  next() {
    const slot = this.step % 20;
    const flow = this.step % this.flowCount;
    this.step++;
    const client = (10 << 24) | (2 << 16) | (flow + 10);
    const server = (203 << 24) | (0 << 16) | (113 << 8) | (flow + 1);
    const port = 40000 + flow;
    const b = this.b;
    if (slot < 13) {
      // Bulk download at MSS 1448: 1514-byte frames.
      const seq = this.flowSeq[flow] ?? 0;
      this.out.frame(b.buffer, b.tcp(server, client, 443, port, seq, 1, tcpFlags.ack, 1448));
      this.flowSeq[flow] = (seq + 1448) >>> 0;
    } else if (slot < 17) {
      this.out.frame(b.buffer, b.tcp(client, server, port, 443, 1, this.flowSeq[flow] ?? 0, tcpFlags.ack, 0));
    } else if (slot === 17) {
      this.out.frame(b.buffer, b.udp(client, (10 << 24) | 53, 50000 + flow, 53, 40)); // DNS query
    } else if (slot === 18) {
      this.out.frame(b.buffer, b.udp((198 << 24) | (51 << 16) | (100 << 8) | flow, client, 443, 51000 + flow, 1250)); // QUIC
    } else {
      this.decoyHttp(client);
    }
  }

  /** Plain HTTP on port 80 to a host that is not IMDS: filters must drop it. */
  decoyHttp(/** @type {number} */ client) {
    const d = this.decoyBuilder;
    const length = d.buffer.write(decoyHttpRequest, 54, "latin1");
    this.decoyIndex++;
    this.out.frame(d.buffer, d.tcp(client, (93 << 24) | (184 << 16) | (216 << 8) | 34, 45000 + (this.decoyIndex % 1000), 80,
      this.decoyIndex * 1000, 1, tcpFlags.psh | tcpFlags.ack, length));
  }
}

/**
 * SYNs from 10.x.y.z, 60,000 source ports per address: every one a distinct half-open flow.
 * @param {CaptureWriter} out
 * @param {FrameBuilder} builder
 * @param {number} count
 * @param {GenerateManifest} manifest
 */
async function writeSynFlood(out, builder, count, manifest) {
  const portsPerAddress = 60_000;
  for (let index = 0; index < count; index++) {
    const client = (10 << 24) + 1 + Math.floor(index / portsPerAddress);
    const port = 1024 + (index % portsPerAddress);
    out.frame(builder.buffer, builder.tcp(client, imdsIpv4, port, 80, index * 7919, 0, tcpFlags.syn, 0));
    manifest.synFlows++;
    if (index % 65_536 === 0) await out.drain();
  }
}

/**
 * Generates one capture (and optionally its pcapng twin) and says what is in it.
 * @param {GenerateOptions} options
 * @returns {Promise<GenerateManifest>}
 */
export async function generateCapture(options) {
  const mode = options.mode ?? "mixed";
  const imdsEveryFrames = options.imdsEveryFrames ?? 1000;
  const out = new CaptureWriter(options.pcapPath, options.pcapngPath ?? null);
  const builder = new FrameBuilder();
  const background = new BackgroundTraffic(out);
  /** @type {GenerateManifest} */
  const manifest = {
    mode, frames: 0, pcapBytes: 0, pcapngBytes: null, imdsConnections: 0,
    requests: { total: 0, v1: 0, v2: 0, tokenRequests: 0 }, splitRequests: 0, outOfOrderRequests: 0, synFlows: 0,
  };
  if (mode === "syn-flood") {
    await writeSynFlood(out, builder, options.synFlows ?? 1_000_000, manifest);
    await out.close();
    manifest.frames = out.frames;
    manifest.pcapBytes = out.pcapBytes;
    manifest.pcapngBytes = out.pcapng === null ? null : out.pcapngBytes;
    return manifest;
  }
  let conversation = 0;
  while (out.pcapBytes < options.sizeBytes) {
    if (mode === "mixed") {
      const batchEnd = out.frames + imdsEveryFrames;
      // The IMDS conversation sits in the middle of its batch, not at a file edge.
      while (out.frames < batchEnd - imdsEveryFrames / 2 && out.pcapBytes < options.sizeBytes) background.next();
      if (out.pcapBytes >= options.sizeBytes) break;
      writeImdsConversation(out, builder, conversation++, manifest);
      while (out.frames < batchEnd && out.pcapBytes < options.sizeBytes) background.next();
    } else {
      writeImdsConversation(out, builder, conversation++, manifest);
    }
    await out.drain();
  }
  await out.close();
  manifest.frames = out.frames;
  manifest.pcapBytes = out.pcapBytes;
  manifest.pcapngBytes = out.pcapng === null ? null : out.pcapngBytes;
  return manifest;
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (/** @type {string} */ name) => {
    const at = args.indexOf(name);
    if (at < 0) return null;
    const value = args[at + 1] ?? "";
    args.splice(at, 2);
    return value;
  };
  const sizeMb = Number(flag("--size-mb") ?? process.env["BENCH_SIZE_MB"] ?? "1024");
  const imdsOnlyAt = args.indexOf("--imds-only");
  if (imdsOnlyAt >= 0) args.splice(imdsOnlyAt, 1);
  const synFlows = flag("--syn-flood");
  const [pcapPath, pcapngPath] = args;
  if (pcapPath === undefined || !(sizeMb > 0)) {
    process.stderr.write("usage: node bench/generate-capture.mjs OUT.pcap [OUT.pcapng] [--size-mb N] [--imds-only | --syn-flood N]\n");
    process.exit(2);
  }
  const manifest = await generateCapture({
    pcapPath, pcapngPath: pcapngPath ?? null, sizeBytes: sizeMb * 1024 * 1024,
    mode: synFlows !== null ? "syn-flood" : imdsOnlyAt >= 0 ? "imds-only" : "mixed",
    ...(synFlows !== null ? { synFlows: Number(synFlows) } : {}),
  });
  process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
