/**
 * Cross-check against a real tool: crafted frames are written to classic pcap files and read back
 * with `tcpdump -r`. tcpdump must print the same addresses, ports and sequence numbers the
 * decoder produces, and must find the IPv4 header and TCP/UDP checksums correct, which shows the
 * packet helper builds what real stacks send. No live traffic is captured.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ethernetFrame,
  LinkType,
  loopFrame,
  nullFrame,
  rawFrame,
  sll2Frame,
  sllFrame,
  TcpFlag,
  tcpPacket,
  testFrame,
  udpPacket,
  type TcpPacketOptions,
} from "../helpers/packets.js";
import { writePcap } from "../../src/wire-format/pcap-file.mjs";
import { decodeOnce } from "./decode-harness.js";

const tcpdumpAvailable = spawnSync("tcpdump", ["--version"]).status === 0;
if (!tcpdumpAvailable && process.env["CI"] !== "true") {
  console.warn("tcpdump-crosscheck: skipped, tcpdump is not installed (it is required when CI=true)");
}
const describeWithTcpdump = tcpdumpAvailable || process.env["CI"] === "true" ? describe : describe.skip;

const firstSecond = 1_700_000_000;

/** A classic pcap of `frames`, frame i at second i (ties tcpdump's lines to frames). */
function pcapFile(linkType: number, frames: readonly Uint8Array[]): Uint8Array {
  return writePcap(frames.map((bytes, index) => ({ linkType, timestampSeconds: firstSecond + index, timestampNanos: 0, bytes })));
}

interface PrintedTcp {
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
  sequence: number;
}

/** Addresses, ports and first sequence number from one line of `tcpdump -nn -tt -S -e`. */
function parseTcpLine(line: string): PrintedTcp | null {
  // "10.0.0.5.40000 > 169.254.169.254.80: Flags [P.], seq 1000:1018, ..." (IPv4 and plain IPv6)
  // "fd00:ec2::254 > fe80::1: HBH DSTOPT frag (0|49) 80 > 40002: Flags [.], seq 99:128, ..." (IPv6
  // with extension headers: the ports come after them)
  const plain = / ([0-9a-f:.]+)\.(\d+) > ([0-9a-f:.]+)\.(\d+): Flags \[[^\]]*\], (?:seq (\d+))?/.exec(line);
  const withExtensions = / ([0-9a-f:]+) > ([0-9a-f:]+): .*? (\d+) > (\d+): Flags \[[^\]]*\], (?:seq (\d+))?/.exec(line);
  if (plain !== null) {
    const [, source, sourcePort, destination, destinationPort, sequence] = plain;
    return printed(source, sourcePort, destination, destinationPort, sequence);
  }
  if (withExtensions !== null) {
    const [, source, destination, sourcePort, destinationPort, sequence] = withExtensions;
    return printed(source, sourcePort, destination, destinationPort, sequence);
  }
  return null;
}

function printed(
  source: string | undefined,
  sourcePort: string | undefined,
  destination: string | undefined,
  destinationPort: string | undefined,
  sequence: string | undefined,
): PrintedTcp {
  return {
    source: source ?? "",
    sourcePort: Number(sourcePort),
    destination: destination ?? "",
    destinationPort: Number(destinationPort),
    sequence: Number(sequence ?? 0),
  };
}

/** tcpdump's output split into one block of lines per packet (each block starts with "<seconds>."). */
function packetBlocks(output: string): string[] {
  return output.split(/\n(?=\d{10}\.\d{6} )/).filter((block) => /^\d{10}\./.test(block));
}

const request: TcpPacketOptions = {
  src: "10.0.0.5",
  dst: "169.254.169.254",
  srcPort: 40000,
  dstPort: 80,
  seq: 1000,
  ack: 2000,
  flags: TcpFlag.psh | TcpFlag.ack,
  payload: "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
};
const packets = {
  v4Request: tcpPacket({ ...request, ipv4: { options: Uint8Array.of(0x94, 4, 0, 0) } }),
  v4Response: tcpPacket({
    ...request,
    src: "169.254.169.254",
    dst: "10.0.0.5",
    srcPort: 80,
    dstPort: 40000,
    seq: 0xfffffff0,
    payload: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
  }),
  v6Syn: tcpPacket({
    src: "2001:db8::5",
    dst: "fd00:ec2::254",
    srcPort: 40001,
    dstPort: 80,
    seq: 7,
    flags: TcpFlag.syn,
    payload: "",
    tcpOptions: Uint8Array.of(2, 4, 5, 0xa0),
  }),
  v6ResponseWithExtensions: tcpPacket({
    src: "fd00:ec2::254",
    dst: "fe80::202:b3ff:fe1e:8329",
    srcPort: 80,
    dstPort: 40002,
    seq: 99,
    payload: "HTTP/1.1 401 Unauthorized\r\n\r\n",
    ipv6: { extensionHeaders: [{ kind: "hopByHop" }, { kind: "destinationOptions", bytes: 16 }, { kind: "fragment" }] },
  }),
} as const;

/** Packets whose checksums tcpdump verifies (it skips TCP checksums behind IPv6 extension headers). */
const checksummed = [packets.v4Request, packets.v4Response, packets.v6Syn] as const;

const cases: { name: string; linkType: number; frames: Uint8Array[]; extraArgs?: string[] }[] = [
  {
    name: "ETHERNET with 802.1ad + 802.1Q tags",
    linkType: LinkType.ethernet,
    frames: Object.values(packets).map((ip) =>
      ethernetFrame(ip, { vlanTags: [{ tpid: 0x88a8, vlanId: 100 }, { vlanId: 10 }], minimumLength: 60 }),
    ),
  },
  { name: "LINUX_SLL", linkType: LinkType.linuxSll, frames: Object.values(packets).map((ip) => sllFrame(ip)) },
  {
    name: "LINUX_SLL with an 802.1Q tag",
    linkType: LinkType.linuxSll,
    frames: Object.values(packets).map((ip) => sllFrame(ip, { vlanTags: [{ vlanId: 42 }] })),
  },
  { name: "LINUX_SLL2", linkType: LinkType.linuxSll2, frames: Object.values(packets).map((ip) => sll2Frame(ip)) },
  {
    name: "NULL, both byte orders in one file",
    linkType: LinkType.null,
    frames: Object.values(packets).map((ip, index) => nullFrame(ip, { byteOrder: index % 2 === 0 ? "little" : "big" })),
  },
  { name: "LOOP", linkType: LinkType.loop, frames: Object.values(packets).map((ip) => loopFrame(ip)) },
  { name: "RAW (101)", linkType: LinkType.raw, frames: Object.values(packets).map(rawFrame) },
  { name: "RAW (DLT 12)", linkType: 12, frames: Object.values(packets).map(rawFrame) },
  { name: "IPV4", linkType: LinkType.ipv4, frames: [packets.v4Request, packets.v4Response] },
  { name: "IPV6", linkType: LinkType.ipv6, frames: [packets.v6Syn, packets.v6ResponseWithExtensions] },
];

describeWithTcpdump("tcpdump decodes crafted frames as the decoder does", () => {
  const directory = mkdtempSync(join(tmpdir(), "imds-decode-tcpdump-"));
  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  function tcpdump(path: string, args: readonly string[]): string {
    return execFileSync("tcpdump", ["-nn", "-tt", "-S", ...args, "-r", path], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  }

  for (const { name, linkType, frames } of cases) {
    it(`${name}: same addresses, ports and sequence numbers`, () => {
      const path = join(directory, `link-${linkType}-${name.replace(/\W+/g, "-")}.pcap`);
      writeFileSync(path, pcapFile(linkType, frames));
      const blocks = packetBlocks(tcpdump(path, ["-e"]));
      expect(blocks).toHaveLength(frames.length);
      frames.forEach((bytes, index) => {
        const printed = parseTcpLine(blocks[index]!);
        const { decoded, segment } = decodeOnce(testFrame(bytes, linkType));
        expect(decoded).toBe(true);
        expect(printed).toEqual({
          source: segment.sourceAddress,
          sourcePort: segment.sourcePort,
          destination: segment.destinationAddress,
          destinationPort: segment.destinationPort,
          sequence: segment.sequence,
        });
      });
    });
  }

  it("tcpdump finds the IPv4 header, TCP and UDP checksums correct", () => {
    const udp = udpPacket({ src: "10.0.0.5", dst: "10.0.0.53", srcPort: 5353, dstPort: 9999, payload: "odd" });
    const udp6 = udpPacket({ src: "2001:db8::5", dst: "2001:db8::53", srcPort: 5353, dstPort: 9999, payload: "even" });
    const frames = [...checksummed, udp, udp6].map((ip) => ethernetFrame(ip));
    const path = join(directory, "checksums.pcap");
    writeFileSync(path, pcapFile(LinkType.ethernet, frames));
    const blocks = packetBlocks(tcpdump(path, ["-vv"]));
    expect(blocks).toHaveLength(frames.length);
    for (const block of blocks.slice(0, checksummed.length)) {
      expect(block).toMatch(/cksum 0x[0-9a-f]{4} \(correct\)/);
    }
    expect(blocks[checksummed.length]).toContain("[udp sum ok]");
    expect(blocks[checksummed.length + 1]).toContain("[udp sum ok]");
    for (const block of blocks) {
      expect(block).not.toMatch(/incorrect|bad cksum|bad udp cksum/);
    }
  });

  it("tcpdump agrees a broken checksum is broken (the check above can fail)", () => {
    const path = join(directory, "bad-checksum.pcap");
    writeFileSync(path, pcapFile(LinkType.ethernet, [ethernetFrame(tcpPacket({ ...request, badChecksum: true }))]));
    expect(tcpdump(path, ["-vv"])).toMatch(/cksum 0x[0-9a-f]{4} \(incorrect -> 0x[0-9a-f]{4}\)/);
  });

  it("tcpdump sees the fragment flags the helper sets", () => {
    const frames = [
      tcpPacket({ ...request, ipv4: { moreFragments: true } }),
      tcpPacket({ ...request, ipv4: { fragmentOffsetBytes: 1480, dontFragment: false } }),
      tcpPacket({ ...request, src: "2001:db8::5", dst: "fd00:ec2::254", ipv6: { extensionHeaders: [{ kind: "fragment", offsetBytes: 1232, more: true, identification: 0xabcd }] } }),
    ].map((ip) => ethernetFrame(ip));
    const path = join(directory, "fragments.pcap");
    writeFileSync(path, pcapFile(LinkType.ethernet, frames));
    const blocks = packetBlocks(tcpdump(path, ["-v"]));
    expect(blocks[0]).toContain("offset 0, flags [+, DF]");
    expect(blocks[1]).toContain("offset 1480, flags [none]");
    expect(blocks[2]).toContain("frag (0x0000abcd:1232|");
    for (const bytes of frames) {
      expect(decodeOnce(testFrame(bytes, LinkType.ethernet)).counter).toBe("ipFragmentsSkipped");
    }
  });
});
