/**
 * Builds whole TCP conversations between a client and IMDS as capture frames, for end-to-end
 * tests: handshake, data in either direction (split into segments as asked), FIN. Sequence
 * numbers, lengths and checksums are right; each frame is 1 ms after the previous one unless a
 * time is given.
 */
import type { CaptureFrame } from "../../src/wire-format/pcap-file.mjs";
import { ethernetFrame, LinkType, TcpFlag, tcpPacket } from "./packets.js";

export interface ConversationOptions {
  readonly client?: string;
  readonly clientPort?: number;
  readonly server?: string;
  readonly serverPort?: number;
  readonly clientIsn?: number;
  readonly serverIsn?: number;
  /** Capture time of the first frame, in ms since the epoch. */
  readonly startMs?: number;
}

export class TcpConversation {
  readonly client: string;
  readonly clientPort: number;
  readonly server: string;
  readonly serverPort: number;
  private clientSeq: number;
  private serverSeq: number;
  private timeMs: number;
  readonly frames: CaptureFrame[] = [];

  constructor(options: ConversationOptions = {}) {
    this.client = options.client ?? "10.0.0.5";
    this.clientPort = options.clientPort ?? 40_000;
    this.server = options.server ?? "169.254.169.254";
    this.serverPort = options.serverPort ?? 80;
    this.clientSeq = options.clientIsn ?? 1000;
    this.serverSeq = options.serverIsn ?? 5000;
    this.timeMs = options.startMs ?? Date.UTC(2026, 0, 2, 3, 4, 5);
  }

  /** Sets the capture time of the next frame. */
  at(timeMs: number): this {
    this.timeMs = timeMs;
    return this;
  }

  handshake(): this {
    this.segment(true, TcpFlag.syn, new Uint8Array(0));
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.segment(false, TcpFlag.syn | TcpFlag.ack, new Uint8Array(0));
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.segment(true, TcpFlag.ack, new Uint8Array(0));
    return this;
  }

  /** Client -> server bytes, split into segments of the given sizes (the rest in one segment). */
  send(data: string | Uint8Array, splitSizes: readonly number[] = []): this {
    for (const piece of split(toBytes(data), splitSizes)) this.data(true, piece);
    return this;
  }

  /** Server -> client bytes. */
  reply(data: string | Uint8Array, splitSizes: readonly number[] = []): this {
    for (const piece of split(toBytes(data), splitSizes)) this.data(false, piece);
    return this;
  }

  /** Both sides send FIN (client first) and ACK. */
  close(): this {
    this.segment(true, TcpFlag.fin | TcpFlag.ack, new Uint8Array(0));
    this.clientSeq = (this.clientSeq + 1) >>> 0;
    this.segment(false, TcpFlag.fin | TcpFlag.ack, new Uint8Array(0));
    this.serverSeq = (this.serverSeq + 1) >>> 0;
    this.segment(true, TcpFlag.ack, new Uint8Array(0));
    return this;
  }

  reset(fromClient = true): this {
    this.segment(fromClient, TcpFlag.rst | TcpFlag.ack, new Uint8Array(0));
    return this;
  }

  private data(fromClient: boolean, payload: Uint8Array): void {
    this.segment(fromClient, TcpFlag.psh | TcpFlag.ack, payload);
    if (fromClient) this.clientSeq = (this.clientSeq + payload.length) >>> 0;
    else this.serverSeq = (this.serverSeq + payload.length) >>> 0;
  }

  private segment(fromClient: boolean, flags: number, payload: Uint8Array): void {
    const ip = tcpPacket({
      src: fromClient ? this.client : this.server,
      dst: fromClient ? this.server : this.client,
      srcPort: fromClient ? this.clientPort : this.serverPort,
      dstPort: fromClient ? this.serverPort : this.clientPort,
      seq: fromClient ? this.clientSeq : this.serverSeq,
      ack: fromClient ? this.serverSeq : this.clientSeq,
      flags,
      payload,
    });
    this.frames.push({
      linkType: LinkType.ethernet,
      timestampSeconds: Math.floor(this.timeMs / 1000),
      timestampNanos: (this.timeMs % 1000) * 1_000_000,
      bytes: ethernetFrame(ip),
    });
    this.timeMs += 1;
  }
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data, "latin1") : data;
}

function split(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= bytes.length) break;
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.length) pieces.push(bytes.subarray(offset));
  return pieces;
}

/** Orders frames of several conversations by capture time (stable), as a capture would. */
export function interleave(...conversations: readonly TcpConversation[]): CaptureFrame[] {
  return conversations
    .flatMap((conversation) => conversation.frames)
    .map((frame, index) => ({ frame, index }))
    .sort((a, b) => a.frame.timestampSeconds - b.frame.timestampSeconds || a.frame.timestampNanos - b.frame.timestampNanos || a.index - b.index)
    .map(({ frame }) => frame);
}

/** Typical requests and responses. */
export const http = {
  getV1: (path = "/latest/meta-data/", userAgent = "curl/7.88.1"): string =>
    `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${userAgent}\r\nAccept: */*\r\n\r\n`,
  getV2: (path = "/latest/meta-data/", userAgent = "curl/7.88.1", token = "AQAEAFAKETOKEN=="): string =>
    `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${userAgent}\r\nX-aws-ec2-metadata-token: ${token}\r\n\r\n`,
  putToken: (userAgent = "curl/7.88.1", ttlSeconds = 21600): string =>
    `PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${userAgent}\r\nX-aws-ec2-metadata-token-ttl-seconds: ${ttlSeconds}\r\n\r\n`,
  response: (status: number, body = "ok"): string =>
    `HTTP/1.1 ${status} X\r\nServer: EC2ws\r\nContent-Length: ${body.length}\r\nContent-Type: text/plain\r\n\r\n${body}`,
} as const;
