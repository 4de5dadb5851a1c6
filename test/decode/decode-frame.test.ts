import { describe, expect, it } from "vitest";
import { FrameDecoder } from "../../src/decode/decode-frame.js";
import { maxIpv6ExtensionHeaders } from "../../src/decode/ipv6.js";
import { maxVlanTags } from "../../src/decode/link-layer.js";
import { createTcpSegment } from "../../src/decode/segment.js";
import { Diagnostics } from "../../src/diagnostics.js";
import {
  ethernetFrame,
  ipv4Packet,
  ipv6Packet,
  LinkType,
  linkFrame,
  loopFrame,
  nullFrame,
  rawFrame,
  sll2Frame,
  sllFrame,
  TcpFlag,
  tcpPacket,
  testFrame,
  udpPacket,
  type Ipv6ExtensionHeader,
  type TcpPacketOptions,
  type VlanTag,
} from "../helpers/packets.js";
import { decodeOnce, describeSegment } from "./decode-harness.js";

const request = "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";

const v4Request = {
  src: "10.0.0.5",
  dst: "169.254.169.254",
  srcPort: 40000,
  dstPort: 80,
  seq: 1000,
  ack: 2000,
  flags: TcpFlag.psh | TcpFlag.ack,
  payload: request,
} as const satisfies TcpPacketOptions;

const v6Request = { ...v4Request, src: "2001:db8::5", dst: "fd00:ec2::254" } as const satisfies TcpPacketOptions;

const v4Expected = {
  ipVersion: 4,
  sourceAddress: "10.0.0.5",
  destinationAddress: "169.254.169.254",
  sourcePort: 40000,
  destinationPort: 80,
  toServer: true,
  sequence: 1000,
  acknowledgement: 2000,
  flags: 0x18,
  payload: request,
  missingPayloadBytes: 0,
};

const v6Expected = { ...v4Expected, ipVersion: 6, sourceAddress: "2001:db8::5", destinationAddress: "fd00:ec2::254" };

function decodeIp(ip: Uint8Array, linkType: LinkType = LinkType.ethernet) {
  return decodeOnce(testFrame(linkFrame(linkType, ip), linkType));
}

describe("FrameDecoder: link types", () => {
  const cases: { name: string; linkType: number; v4: Uint8Array | null; v6: Uint8Array | null }[] = [
    {
      name: "ETHERNET",
      linkType: LinkType.ethernet,
      v4: ethernetFrame(tcpPacket(v4Request)),
      v6: ethernetFrame(tcpPacket(v6Request)),
    },
    {
      name: "LINUX_SLL",
      linkType: LinkType.linuxSll,
      v4: sllFrame(tcpPacket(v4Request)),
      v6: sllFrame(tcpPacket(v6Request)),
    },
    {
      name: "LINUX_SLL2",
      linkType: LinkType.linuxSll2,
      v4: sll2Frame(tcpPacket(v4Request)),
      v6: sll2Frame(tcpPacket(v6Request)),
    },
    {
      name: "NULL little-endian",
      linkType: LinkType.null,
      v4: nullFrame(tcpPacket(v4Request), { byteOrder: "little" }),
      v6: nullFrame(tcpPacket(v6Request), { byteOrder: "little" }),
    },
    {
      name: "NULL big-endian",
      linkType: LinkType.null,
      v4: nullFrame(tcpPacket(v4Request), { byteOrder: "big" }),
      v6: nullFrame(tcpPacket(v6Request), { byteOrder: "big" }),
    },
    {
      name: "NULL AF_INET6 = 24 (NetBSD/OpenBSD)",
      linkType: LinkType.null,
      v4: null,
      v6: nullFrame(tcpPacket(v6Request), { family: 24 }),
    },
    {
      name: "NULL AF_INET6 = 28 (FreeBSD), big-endian",
      linkType: LinkType.null,
      v4: null,
      v6: nullFrame(tcpPacket(v6Request), { family: 28, byteOrder: "big" }),
    },
    {
      name: "LOOP",
      linkType: LinkType.loop,
      v4: loopFrame(tcpPacket(v4Request)),
      v6: loopFrame(tcpPacket(v6Request)),
    },
    { name: "RAW (101)", linkType: 101, v4: rawFrame(tcpPacket(v4Request)), v6: rawFrame(tcpPacket(v6Request)) },
    { name: "RAW (DLT 12)", linkType: 12, v4: rawFrame(tcpPacket(v4Request)), v6: rawFrame(tcpPacket(v6Request)) },
    { name: "RAW (DLT 14)", linkType: 14, v4: rawFrame(tcpPacket(v4Request)), v6: rawFrame(tcpPacket(v6Request)) },
    { name: "IPV4", linkType: 228, v4: rawFrame(tcpPacket(v4Request)), v6: null },
    { name: "IPV6", linkType: 229, v4: null, v6: rawFrame(tcpPacket(v6Request)) },
  ];
  for (const testCase of cases) {
    if (testCase.v4 !== null) {
      const bytes = testCase.v4;
      it(`${testCase.name}: IPv4 client -> IMDS`, () => {
        const outcome = decodeOnce(testFrame(bytes, testCase.linkType));
        expect(outcome.decoded).toBe(true);
        expect(describeSegment(outcome.segment)).toEqual(v4Expected);
      });
    }
    if (testCase.v6 !== null) {
      const bytes = testCase.v6;
      it(`${testCase.name}: IPv6 client -> IMDS`, () => {
        const outcome = decodeOnce(testFrame(bytes, testCase.linkType));
        expect(outcome.decoded).toBe(true);
        expect(describeSegment(outcome.segment)).toEqual(v6Expected);
      });
    }
  }

  it("the payload is a view into the frame, not a copy", () => {
    const frame = testFrame(ethernetFrame(tcpPacket(v4Request)), LinkType.ethernet);
    const { segment } = decodeOnce(frame);
    expect(segment.payload.buffer).toBe(frame.bytes.buffer);
    expect(segment.payload.byteOffset).toBe(14 + 20 + 20);
  });

  it.each([
    ["IPV4 link type holding IPv6", 228, tcpPacket(v6Request), "framesMalformed"],
    ["IPV6 link type holding IPv4", 229, tcpPacket(v4Request), "framesMalformed"],
    ["Ethernet 0x0800 holding IPv6", 1, ethernetFrame(tcpPacket(v6Request), { etherType: 0x0800 }), "framesMalformed"],
    ["Ethernet ARP", 1, ethernetFrame(new Uint8Array(28), { etherType: 0x0806 }), "framesNotIp"],
    ["Ethernet 802.3 length field", 1, ethernetFrame(new Uint8Array(46), { etherType: 46 }), "framesNotIp"],
    ["SLL protocol 0x0003", 113, sllFrame(tcpPacket(v4Request), { protocol: 0x0003 }), "framesNotIp"],
    ["SLL2 ARP", 276, sll2Frame(new Uint8Array(28), { protocol: 0x0806 }), "framesNotIp"],
    ["NULL family 7", 0, nullFrame(tcpPacket(v4Request), { family: 7 }), "framesNotIp"],
    ["NULL family 10 (Linux AF_INET6 is not a NULL value)", 0, nullFrame(tcpPacket(v6Request), { family: 10 }), "framesNotIp"],
    ["LOOP family 2 little-endian (LOOP is always big-endian)", 108, nullFrame(tcpPacket(v4Request)), "framesNotIp"],
    ["RAW version 5", 101, Uint8Array.of(0x50, ...new Uint8Array(39)), "framesNotIp"],
    ["RAW empty", 101, new Uint8Array(0), "framesMalformed"],
    ["Ethernet shorter than its header", 1, new Uint8Array(13), "framesMalformed"],
  ] as const)("%s -> %s", (_name, linkType, bytes, counter) => {
    const outcome = decodeOnce(testFrame(bytes, linkType));
    expect(outcome.decoded).toBe(false);
    expect(outcome.counter).toBe(counter);
  });

  it("unknown link type: counted, warned once per link type, with its number and name", () => {
    const diagnostics = new Diagnostics();
    const decoder = new FrameDecoder(diagnostics);
    const heard: string[] = [];
    diagnostics.onWarning((warning) => heard.push(warning.code));
    const radiotap = testFrame(new Uint8Array(64), 127);
    const private147 = testFrame(new Uint8Array(64), 147);
    for (let i = 0; i < 3; i++) expect(decodeOnce(radiotap, decoder, diagnostics).counter).toBe("framesUnknownLinkType");
    expect(decodeOnce(private147, decoder, diagnostics).counter).toBe("framesUnknownLinkType");
    expect(diagnostics.counters.framesUnknownLinkType).toBe(4);
    expect(heard).toEqual(["unknown-link-type:127", "unknown-link-type:147"]);
    const [first, second] = diagnostics.warnings;
    expect(first?.message).toBe(
      "Link type 127 (IEEE802_11_RADIOTAP) is not supported: its frames are skipped (counted in " +
        "framesUnknownLinkType). Supported: ETHERNET (with VLAN tags), LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP.",
    );
    expect(first?.count).toBe(1);
    expect(second?.message).toMatch(/^Link type 147 is not supported: its frames are skipped/);
  });
});

describe("FrameDecoder: VLAN tags", () => {
  const tag = (tpid: number, vlanId: number): VlanTag => ({ tpid, vlanId, priority: 5 });
  it.each([
    ["802.1Q", [tag(0x8100, 10)]],
    ["802.1ad", [tag(0x88a8, 10)]],
    ["QinQ 0x9100 over 802.1Q", [tag(0x9100, 100), tag(0x8100, 10)]],
    ["802.1ad over 802.1Q", [tag(0x88a8, 100), tag(0x8100, 4095)]],
    [`${maxVlanTags} tags (the limit)`, Array.from({ length: maxVlanTags }, (_, i) => tag(0x8100, i + 1))],
  ] as const)("%s, IPv4 and IPv6", (_name, vlanTags) => {
    const v4 = decodeOnce(testFrame(ethernetFrame(tcpPacket(v4Request), { vlanTags }), LinkType.ethernet));
    expect(describeSegment(v4.segment)).toEqual(v4Expected);
    const v6 = decodeOnce(testFrame(ethernetFrame(tcpPacket(v6Request), { vlanTags }), LinkType.ethernet));
    expect(describeSegment(v6.segment)).toEqual(v6Expected);
  });

  it(`more than ${maxVlanTags} tags is malformed`, () => {
    const vlanTags = Array.from({ length: maxVlanTags + 1 }, (_, i) => tag(0x8100, i + 1));
    const outcome = decodeOnce(testFrame(ethernetFrame(tcpPacket(v4Request), { vlanTags }), LinkType.ethernet));
    expect(outcome.counter).toBe("framesMalformed");
  });

  it("a tagged ARP frame is not IP", () => {
    const frame = ethernetFrame(new Uint8Array(28), { vlanTags: [{ vlanId: 3 }], etherType: 0x0806 });
    expect(decodeOnce(testFrame(frame, LinkType.ethernet)).counter).toBe("framesNotIp");
  });

  it("tags after an SLL and an SLL2 header (as libpcap re-inserts them)", () => {
    const vlanTags = [tag(0x8100, 7)];
    const sll = decodeOnce(testFrame(sllFrame(tcpPacket(v4Request), { vlanTags }), LinkType.linuxSll));
    expect(describeSegment(sll.segment)).toEqual(v4Expected);
    const sll2 = decodeOnce(testFrame(sll2Frame(tcpPacket(v6Request), { vlanTags }), LinkType.linuxSll2));
    expect(describeSegment(sll2.segment)).toEqual(v6Expected);
  });
});

describe("FrameDecoder: addresses, ports and direction", () => {
  it("server -> client (IPv4) is decoded with toServer false", () => {
    const ip = tcpPacket({ ...v4Request, src: "169.254.169.254", dst: "10.0.0.5", srcPort: 80, dstPort: 40000 });
    const { segment } = decodeIp(ip);
    expect(describeSegment(segment)).toEqual({
      ...v4Expected,
      sourceAddress: "169.254.169.254",
      destinationAddress: "10.0.0.5",
      sourcePort: 80,
      destinationPort: 40000,
      toServer: false,
    });
  });

  it("server -> client (IPv6) is decoded with toServer false", () => {
    const ip = tcpPacket({ ...v6Request, src: "fd00:ec2::254", dst: "2001:db8::5", srcPort: 80, dstPort: 40000 });
    const { segment } = decodeIp(ip);
    expect(describeSegment(segment)).toEqual({
      ...v6Expected,
      sourceAddress: "fd00:ec2::254",
      destinationAddress: "2001:db8::5",
      sourcePort: 80,
      destinationPort: 40000,
      toServer: false,
    });
  });

  it.each([
    ["IPv4, neither address is IMDS", { ...v4Request, dst: "169.254.169.253" }],
    ["IPv4, IMDS address but port 8080", { ...v4Request, dstPort: 8080 }],
    ["IPv4, IMDS address but port 443", { ...v4Request, dstPort: 443 }],
    ["IPv4, client port 80 to IMDS port 81", { ...v4Request, srcPort: 80, dstPort: 81 }],
    ["IPv4, IMDS as source from port 8080", { ...v4Request, src: "169.254.169.254", dst: "10.0.0.5", srcPort: 8080, dstPort: 80 }],
    ["IPv6, neither address is IMDS", { ...v6Request, dst: "fd00:ec2::253" }],
    ["IPv6, one bit off in the first byte", { ...v6Request, dst: "fc00:ec2::254" }],
    ["IPv6, IMDS address but port 8080", { ...v6Request, dstPort: 8080 }],
    ["IPv4-mapped IMDS address is not the IPv6 endpoint", { ...v6Request, dst: "::ffff:169.254.169.254" }],
  ] as const)("%s -> framesNotImds", (_name, options) => {
    const outcome = decodeIp(tcpPacket(options));
    expect(outcome.decoded).toBe(false);
    expect(outcome.counter).toBe("framesNotImds");
  });

  it("IMDS to itself on port 80 counts as client -> server", () => {
    const ip = tcpPacket({ ...v4Request, src: "169.254.169.254", srcPort: 80 });
    const { segment } = decodeIp(ip);
    expect(segment.sourceAddress).toBe("169.254.169.254");
    expect(segment.destinationAddress).toBe("169.254.169.254");
    expect(segment.toServer).toBe(true);
  });

  it("the peer address text is right across frames with different peers (string reuse)", () => {
    const diagnostics = new Diagnostics();
    const decoder = new FrameDecoder(diagnostics);
    const peers = ["10.0.0.5", "10.0.0.5", "10.0.0.6", "2001:db8::5", "2001:db8::5", "2001:db8::6", "10.0.0.6"];
    for (const peer of peers) {
      const imds = peer.includes(":") ? "fd00:ec2::254" : "169.254.169.254";
      const ip = tcpPacket({ ...v4Request, src: imds, dst: peer, srcPort: 80, dstPort: 40000 });
      const { segment } = decodeOnce(testFrame(ethernetFrame(ip), LinkType.ethernet), decoder, diagnostics);
      expect([segment.sourceAddress, segment.destinationAddress]).toEqual([imds, peer]);
    }
    expect(diagnostics.counters.imdsSegments).toBe(peers.length);
  });

  it("sequence and acknowledgement numbers are unsigned 32-bit", () => {
    const { segment } = decodeIp(tcpPacket({ ...v4Request, seq: 0xfffffff0, ack: 0x80000000 }));
    expect(segment.sequence).toBe(4294967280);
    expect(segment.acknowledgement).toBe(2147483648);
  });

  it("flags come through as the whole flags byte (SYN+ECE+CWR here)", () => {
    const { segment } = decodeIp(tcpPacket({ ...v4Request, payload: "", flags: TcpFlag.syn | 0x40 | 0x80 }));
    expect(segment.flags).toBe(0xc2);
    expect(segment.payload.length).toBe(0);
  });

  it("a wrong TCP checksum does not matter (offload)", () => {
    const { segment } = decodeIp(tcpPacket({ ...v4Request, badChecksum: true }));
    expect(describeSegment(segment)).toEqual(v4Expected);
  });

  it("leaves `out` untouched when it rejects a frame", () => {
    const diagnostics = new Diagnostics();
    const decoder = new FrameDecoder(diagnostics);
    const out = createTcpSegment();
    expect(decoder.decode(testFrame(ethernetFrame(tcpPacket(v4Request)), 1), out)).toBe(true);
    const snapshot = describeSegment(out);
    const rejected = [
      tcpPacket({ ...v4Request, dstPort: 81, seq: 5 }),
      tcpPacket({ ...v6Request, dataOffsetWords: 4 }),
      udpPacket({ src: "10.0.0.9", dst: "169.254.169.254", srcPort: 5, dstPort: 80 }),
    ];
    for (const ip of rejected) expect(decoder.decode(testFrame(ethernetFrame(ip), 1), out)).toBe(false);
    expect(describeSegment(out)).toEqual(snapshot);
  });
});

describe("FrameDecoder: IPv4", () => {
  it("header options (router alert) are skipped", () => {
    const ip = tcpPacket({ ...v4Request, ipv4: { options: Uint8Array.of(0x94, 0x04, 0x00, 0x00) } });
    expect(describeSegment(decodeIp(ip).segment)).toEqual(v4Expected);
  });

  it("40 bytes of options (the maximum)", () => {
    const options = new Uint8Array(40).fill(1); // NOPs
    const ip = tcpPacket({ ...v4Request, ipv4: { options } });
    expect(describeSegment(decodeIp(ip).segment)).toEqual(v4Expected);
  });

  it("TCP options are skipped", () => {
    const tcpOptions = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2); // NOP NOP timestamps
    expect(describeSegment(decodeIp(tcpPacket({ ...v4Request, tcpOptions })).segment)).toEqual(v4Expected);
  });

  it("Ethernet padding after a small packet is not payload", () => {
    const syn = tcpPacket({ ...v4Request, payload: "", flags: TcpFlag.syn });
    const frame = ethernetFrame(syn, { minimumLength: 60 });
    expect(frame.length).toBe(60);
    frame.fill(0xee, 54); // non-zero padding, as some NICs send
    const { segment } = decodeOnce(testFrame(frame, LinkType.ethernet));
    expect(segment.payload.length).toBe(0);
    expect(segment.missingPayloadBytes).toBe(0);
    expect(segment.flags).toBe(TcpFlag.syn);
  });

  it("an Ethernet trailer (FCS) after the packet is not payload", () => {
    const frame = ethernetFrame(tcpPacket(v4Request), { trailer: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) });
    expect(describeSegment(decodeOnce(testFrame(frame, LinkType.ethernet)).segment)).toEqual(v4Expected);
  });

  it("IPv6 payload length also bounds the payload (trailer ignored)", () => {
    const frame = ethernetFrame(tcpPacket(v6Request), { trailer: Uint8Array.of(1, 2, 3, 4), minimumLength: 200 });
    expect(describeSegment(decodeOnce(testFrame(frame, LinkType.ethernet)).segment)).toEqual(v6Expected);
  });

  it("total length larger than the (uncut) frame: trust the bytes that exist", () => {
    const ip = tcpPacket({ ...v4Request, ipv4: { totalLength: 40 + request.length + 100 } });
    const { segment } = decodeIp(ip);
    expect(describeSegment(segment)).toEqual(v4Expected);
  });

  it("total length 0 (TSO capture): the frame's length is the packet's", () => {
    const ip = tcpPacket({ ...v4Request, ipv4: { totalLength: 0 } });
    expect(describeSegment(decodeIp(ip).segment)).toEqual(v4Expected);
  });

  it.each([
    ["header length 4 words", { headerWords: 4 }, "framesMalformed"],
    ["header length beyond total length", { headerWords: 15, totalLength: 40 }, "framesMalformed"],
    ["total length below the header", { totalLength: 19 }, "framesMalformed"],
    ["total length ends inside the TCP header", { totalLength: 30 }, "framesMalformed"],
    ["version 5 in an IPv4 EtherType", { version: 5 }, "framesMalformed"],
  ] as const)("%s -> %s", (_name, ipv4, counter) => {
    expect(decodeIp(tcpPacket({ ...v4Request, ipv4 })).counter).toBe(counter);
  });

  it.each([
    ["more-fragments set (first fragment)", { moreFragments: true }, "ipFragmentsSkipped"],
    ["offset set (last fragment)", { fragmentOffsetBytes: 1480 }, "ipFragmentsSkipped"],
    ["offset and more-fragments (middle)", { fragmentOffsetBytes: 8, moreFragments: true, dontFragment: false }, "ipFragmentsSkipped"],
    ["don't-fragment alone is not a fragment", { dontFragment: true }, "imdsSegments"],
    ["no flags at all", { dontFragment: false }, "imdsSegments"],
  ] as const)("%s -> %s", (_name, ipv4, counter) => {
    expect(decodeIp(tcpPacket({ ...v4Request, ipv4 })).counter).toBe(counter);
  });

  it("a fragment between other hosts counts as not IMDS", () => {
    const ip = tcpPacket({ ...v4Request, dst: "10.0.0.6", ipv4: { moreFragments: true } });
    expect(decodeIp(ip).counter).toBe("framesNotImds");
  });

  it("UDP: to IMDS is not TCP; between other hosts is not IMDS", () => {
    const toImds = udpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 5353, dstPort: 80, payload: "x" });
    expect(decodeIp(toImds).counter).toBe("framesNotTcp");
    const other = udpPacket({ src: "10.0.0.5", dst: "10.0.0.53", srcPort: 5353, dstPort: 53, payload: "x" });
    expect(decodeIp(other).counter).toBe("framesNotImds");
  });

  it("ICMP to IMDS is not TCP", () => {
    const ip = ipv4Packet({ src: "10.0.0.5", dst: "169.254.169.254", protocol: 1, payload: new Uint8Array(8) });
    expect(decodeIp(ip).counter).toBe("framesNotTcp");
  });
});

describe("FrameDecoder: TCP header", () => {
  it.each([
    ["data offset 4 words", 4],
    ["data offset 0", 0],
  ] as const)("%s -> framesMalformed", (_name, dataOffsetWords) => {
    expect(decodeIp(tcpPacket({ ...v4Request, dataOffsetWords })).counter).toBe("framesMalformed");
    expect(decodeIp(tcpPacket({ ...v6Request, dataOffsetWords })).counter).toBe("framesMalformed");
  });

  it("data offset past the end of the packet -> framesMalformed", () => {
    const ip = tcpPacket({ ...v4Request, payload: "abc", dataOffsetWords: 15 });
    expect(decodeIp(ip).counter).toBe("framesMalformed");
  });

  it("data offset exactly at the end of the packet: empty payload", () => {
    const ip = tcpPacket({ ...v4Request, payload: "", tcpOptions: new Uint8Array(40).fill(1) });
    const { segment } = decodeIp(ip);
    expect(segment.payload.length).toBe(0);
    expect(segment.missingPayloadBytes).toBe(0);
  });
});

describe("FrameDecoder: IPv6 extension headers", () => {
  const chains: [string, Ipv6ExtensionHeader[]][] = [
    ["hop-by-hop", [{ kind: "hopByHop" }]],
    ["hop-by-hop (24 bytes), routing, destination options", [{ kind: "hopByHop", bytes: 24 }, { kind: "routing" }, { kind: "destinationOptions" }]],
    ["destination options, routing, destination options", [{ kind: "destinationOptions" }, { kind: "routing", bytes: 24 }, { kind: "destinationOptions", bytes: 16 }]],
    ["authentication header", [{ kind: "ah" }]],
    ["hop-by-hop, AH, destination options", [{ kind: "hopByHop" }, { kind: "ah" }, { kind: "destinationOptions" }]],
    ["atomic fragment (offset 0, M=0)", [{ kind: "fragment" }]],
    ["routing then atomic fragment then AH", [{ kind: "routing" }, { kind: "fragment" }, { kind: "ah" }]],
    [`${maxIpv6ExtensionHeaders} destination-options headers (the limit)`, Array.from({ length: maxIpv6ExtensionHeaders }, () => ({ kind: "destinationOptions" as const }))],
  ];
  it.each(chains)("%s: decoded", (_name, extensionHeaders) => {
    const ip = tcpPacket({ ...v6Request, ipv6: { extensionHeaders } });
    expect(describeSegment(decodeIp(ip).segment)).toEqual(v6Expected);
  });

  it.each([
    ["first fragment (offset 0, M=1)", "ipFragmentsSkipped", [{ kind: "fragment", more: true }]],
    ["last fragment (offset 1232)", "ipFragmentsSkipped", [{ kind: "fragment", offsetBytes: 1232 }]],
    ["fragment after hop-by-hop", "ipFragmentsSkipped", [{ kind: "hopByHop" }, { kind: "fragment", offsetBytes: 8, more: true }]],
    ["ESP", "framesNotTcp", [{ kind: "esp" }]],
    ["hop-by-hop then ESP", "framesNotTcp", [{ kind: "hopByHop" }, { kind: "esp" }]],
    [
      `${maxIpv6ExtensionHeaders + 1} headers`,
      "framesMalformed",
      Array.from({ length: maxIpv6ExtensionHeaders + 1 }, () => ({ kind: "destinationOptions" })),
    ],
  ] as [string, string, Ipv6ExtensionHeader[]][])("%s -> %s", (_name, counter, extensionHeaders) => {
    expect(decodeIp(tcpPacket({ ...v6Request, ipv6: { extensionHeaders } })).counter).toBe(counter);
  });

  it("an extension header longer than the packet -> framesMalformed", () => {
    const ip = tcpPacket({ ...v6Request, ipv6: { extensionHeaders: [{ kind: "destinationOptions" }] } });
    ip[40 + 1] = 200; // (200 + 1) * 8 bytes: far past the end
    expect(decodeIp(ip).counter).toBe("framesMalformed");
  });

  it("payload length 0 (jumbogram) -> framesMalformed", () => {
    const ip = tcpPacket({ ...v6Request, ipv6: { payloadLength: 0 } });
    expect(decodeIp(ip).counter).toBe("framesMalformed");
  });

  it("payload length ending inside the TCP header -> framesMalformed", () => {
    expect(decodeIp(tcpPacket({ ...v6Request, ipv6: { payloadLength: 10 } })).counter).toBe("framesMalformed");
  });

  it("UDP, ICMPv6 and no-next-header to IMDS are not TCP", () => {
    const udp = udpPacket({ src: "2001:db8::5", dst: "fd00:ec2::254", srcPort: 1, dstPort: 80, payload: "x" });
    expect(decodeIp(udp).counter).toBe("framesNotTcp");
    const icmp = ipv6Packet({ src: "2001:db8::5", dst: "fd00:ec2::254", protocol: 58, payload: new Uint8Array(8) });
    expect(decodeIp(icmp).counter).toBe("framesNotTcp");
    const none = ipv6Packet({ src: "2001:db8::5", dst: "fd00:ec2::254", protocol: 59, payload: new Uint8Array(8) });
    expect(decodeIp(none).counter).toBe("framesNotTcp");
  });

  it("a fragment between other hosts counts as not IMDS", () => {
    const ip = tcpPacket({ ...v6Request, dst: "2001:db8::6", ipv6: { extensionHeaders: [{ kind: "fragment", more: true }] } });
    expect(decodeIp(ip).counter).toBe("framesNotImds");
  });

  it("version 4 in an IPv6 EtherType -> framesMalformed", () => {
    const frame = ethernetFrame(tcpPacket({ ...v6Request, ipv6: { version: 4 } }), { etherType: 0x86dd });
    expect(decodeOnce(testFrame(frame, LinkType.ethernet)).counter).toBe("framesMalformed");
  });
});

describe("FrameDecoder: snaplen", () => {
  it("a cut inside the payload gives the captured part and the missing count", () => {
    const frame = ethernetFrame(tcpPacket(v4Request));
    const outcome = decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 14 + 20 + 20 + 10 }));
    expect(describeSegment(outcome.segment)).toEqual({
      ...v4Expected,
      payload: request.slice(0, 10),
      missingPayloadBytes: request.length - 10,
    });
  });

  it("a cut inside Ethernet padding loses nothing", () => {
    const syn = tcpPacket({ ...v4Request, payload: "", flags: TcpFlag.syn });
    const frame = ethernetFrame(syn, { minimumLength: 60 });
    const { segment } = decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 56 }));
    expect(segment.missingPayloadBytes).toBe(0);
  });

  it("a cut inside the TCP header -> framesTruncatedHeaders", () => {
    const frame = ethernetFrame(tcpPacket(v6Request));
    const outcome = decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 14 + 40 + 19 }));
    expect(outcome.counter).toBe("framesTruncatedHeaders");
  });

  it("a cut before the addresses of a non-IMDS packet -> framesTruncatedHeaders; after them -> framesNotImds", () => {
    const frame = ethernetFrame(tcpPacket({ ...v4Request, dst: "10.0.0.6" }));
    expect(decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 14 + 19 })).counter).toBe("framesTruncatedHeaders");
    expect(decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 14 + 20 })).counter).toBe("framesNotImds");
  });

  it("TSO total length 0 with a snaplen cut: the wire length says what is missing", () => {
    const frame = ethernetFrame(tcpPacket({ ...v4Request, ipv4: { totalLength: 0 } }));
    const { segment } = decodeOnce(testFrame(frame, LinkType.ethernet, { snaplen: 14 + 40 + 5 }));
    expect(segment.payload.length).toBe(5);
    expect(segment.missingPayloadBytes).toBe(request.length - 5);
  });
});
