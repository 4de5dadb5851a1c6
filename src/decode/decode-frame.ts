import type { Diagnostics } from "../diagnostics.js";
import { imdsEndpoints } from "../imds/endpoints.js";
import type { Frame } from "../source/frame.js";
import { formatIpv4Address, formatIpv6Address } from "./address-text.js";
import { createIpLayerResult } from "./ip-layer.js";
import { decodeIpv4 } from "./ipv4.js";
import { decodeIpv6 } from "./ipv6.js";
import { createLinkLayerResult, decodeLinkLayer } from "./link-layer.js";
import { describeLinkType } from "./link-types.js";
import type { DecodeRejection } from "./rejection.js";
import type { TcpSegment } from "./segment.js";
import { decodeTcp } from "./tcp.js";

/** Distinct link types remembered as already warned about; past it, no more warnings. */
const maxWarnedLinkTypes = 64;

/**
 * Link layer -> IP -> TCP, keeping only segments to or from an IMDS endpoint's port 80.
 *
 * Called once per frame: it reuses its scratch objects, reads bytes in place and allocates
 * nothing for a frame it rejects. Every rejected frame increments exactly one counter, the first
 * reason found in this order: unknown link type, not IP, header cut by snaplen or malformed,
 * not IMDS (address bytes, checked as soon as they are captured), fragment, not TCP, not IMDS
 * (port). So UDP or fragments between other hosts count as `framesNotImds`, not `framesNotTcp`
 * or `ipFragmentsSkipped`: those two counters are about traffic that involved IMDS.
 */
export class FrameDecoder {
  private readonly diagnostics: Diagnostics;
  private readonly counters: Diagnostics["counters"];
  private readonly link = createLinkLayerResult();
  private readonly ip = createIpLayerResult();
  private readonly warnedLinkTypes = new Set<number>();
  /** The last non-IMDS address formatted: a flow's segments all share it, so reuse the string. */
  private readonly lastPeerAddressBytes = new Uint8Array(16);
  private lastPeerAddressVersion: 0 | 4 | 6 = 0;
  private lastPeerAddressText = "";

  constructor(diagnostics: Diagnostics) {
    this.diagnostics = diagnostics;
    this.counters = diagnostics.counters;
  }

  /**
   * Fills `out` and returns true when `frame` holds a TCP segment to or from an IMDS endpoint
   * (address and port 80); `out.payload` is then a view into `frame.data`. Otherwise returns
   * false, leaves `out` as it was and counts why.
   */
  decode(frame: Frame, out: TcpSegment): boolean {
    const rejection = this.decodeFrame(frame, out);
    // The two outcomes of almost every frame are counted through named properties: a counter
    // chosen by a variable name is a slower, megamorphic property access.
    if (rejection === undefined) {
      this.counters.imdsSegments++;
      return true;
    }
    if (rejection === "framesNotImds") {
      this.counters.framesNotImds++;
      return false;
    }
    this.diagnostics.count(rejection);
    if (rejection === "framesUnknownLinkType") this.warnUnknownLinkType(frame.linkType);
    return false;
  }

  private decodeFrame(frame: Frame, out: TcpSegment): DecodeRejection | undefined {
    const bytes = frame.data;
    const start = frame.start;
    const end = frame.end;
    const snaplenCut = frame.originalLength > end - start;
    const wireEnd = snaplenCut ? start + frame.originalLength : end;
    const link = this.link;
    const ip = this.ip;

    const linkRejection = decodeLinkLayer(bytes, start, end, frame.linkType, snaplenCut, link);
    if (linkRejection !== undefined) return linkRejection;
    const ipRejection =
      link.ipVersion === 4
        ? decodeIpv4(bytes, link.ipOffset, end, wireEnd, snaplenCut, ip)
        : decodeIpv6(bytes, link.ipOffset, end, wireEnd, snaplenCut, ip);
    if (ipRejection !== undefined) return ipRejection;
    const tcpRejection = decodeTcp(bytes, end, ip, out);
    if (tcpRejection !== undefined) return tcpRejection;

    const version = link.ipVersion;
    out.ipVersion = version;
    const imdsAddress = version === 4 ? imdsEndpoints.ipv4Address : imdsEndpoints.ipv6Address;
    out.sourceAddress = ip.sourceIsImds ? imdsAddress : this.peerAddressText(bytes, ip.sourceAddressOffset, version);
    out.destinationAddress = ip.destinationIsImds
      ? imdsAddress
      : this.peerAddressText(bytes, ip.destinationAddressOffset, version);
    return undefined;
  }

  private peerAddressText(bytes: Uint8Array, offset: number, version: 4 | 6): string {
    const length = version === 4 ? 4 : 16;
    const cached = this.lastPeerAddressBytes;
    let same = version === this.lastPeerAddressVersion;
    for (let i = 0; same && i < length; i++) same = cached[i] === bytes[offset + i];
    if (same) return this.lastPeerAddressText;
    cached.set(bytes.subarray(offset, offset + length));
    this.lastPeerAddressVersion = version;
    this.lastPeerAddressText = version === 4 ? formatIpv4Address(bytes, offset) : formatIpv6Address(bytes, offset);
    return this.lastPeerAddressText;
  }

  private warnUnknownLinkType(linkType: number): void {
    // Checked here, not left to Diagnostics' own de-duplication, so repeats build no strings.
    if (this.warnedLinkTypes.has(linkType) || this.warnedLinkTypes.size >= maxWarnedLinkTypes) return;
    this.warnedLinkTypes.add(linkType);
    this.diagnostics.warn(
      `unknown-link-type:${linkType}`,
      `Link type ${describeLinkType(linkType)} is not supported: its frames are skipped ` +
        `(counted in framesUnknownLinkType). Supported: ETHERNET (with VLAN tags), LINUX_SLL, ` +
        `LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP.`,
    );
  }
}
