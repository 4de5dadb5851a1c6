/** The frame-crafting helper others' tests rely on (test/helpers/packets.ts): exact bytes. */
import { describe, expect, it } from "vitest";
import {
  ethernetFrame,
  internetChecksum,
  loopFrame,
  nullFrame,
  parseIpAddress,
  sll2Frame,
  sllFrame,
  tcpPacket,
  testFrame,
} from "../helpers/packets.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("test/helpers/packets.ts", () => {
  it("internetChecksum: the RFC 1071 example, odd lengths, and split parts", () => {
    const data = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(internetChecksum(data)).toBe(0x220d); // sum 0xddf2, complemented
    expect(internetChecksum(data.subarray(0, 3), data.subarray(3))).toBe(0x220d);
    expect(internetChecksum(Uint8Array.of(0x01))).toBe(0xfeff);
  });

  it("parseIpAddress: v4, v6 with ::, embedded IPv4, and rejects junk", () => {
    expect(hex(parseIpAddress("169.254.169.254"))).toBe("a9fea9fe");
    expect(hex(parseIpAddress("fd00:ec2::254"))).toBe("fd000ec2000000000000000000000254");
    expect(hex(parseIpAddress("::ffff:1.2.3.4"))).toBe("00000000000000000000ffff01020304");
    for (const junk of ["1.2.3", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1"]) {
      expect(() => parseIpAddress(junk)).toThrow(/not an IPv[46] address/);
    }
  });

  it("tcpPacket (IPv4): exact header fields, and the header checksum verifies", () => {
    const ip = tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 40000, dstPort: 80, seq: 1, ack: 2, payload: "ab" });
    expect(ip.length).toBe(20 + 20 + 2);
    expect(hex(ip.subarray(0, 10))).toBe("4500002a000140004006");
    expect(internetChecksum(ip.subarray(0, 20))).toBe(0);
    expect(hex(ip.subarray(20, 34))).toBe("9c4000500000000100000002" + "5010");
  });

  it("link frames: header bytes as the formats define them", () => {
    const ip4 = tcpPacket({ src: "10.0.0.5", dst: "169.254.169.254", srcPort: 1, dstPort: 80 });
    const ip6 = tcpPacket({ src: "2001:db8::5", dst: "fd00:ec2::254", srcPort: 1, dstPort: 80 });
    expect(hex(ethernetFrame(ip4, { vlanTags: [{ tpid: 0x88a8, vlanId: 100, priority: 3 }, { vlanId: 10 }] }).subarray(12, 24))).toBe(
      "88a8" + "6064" + "8100" + "000a" + "0800" + "4500",
    );
    expect(ethernetFrame(ip4, { minimumLength: 60 }).length).toBe(60);
    expect(hex(sllFrame(ip6).subarray(0, 16))).toBe("0004" + "0001" + "0006" + "0200000000010000" + "86dd");
    expect(hex(sll2Frame(ip4).subarray(0, 20))).toBe("08000000" + "00000002" + "0001" + "04" + "06" + "0200000000010000");
    expect(hex(nullFrame(ip4).subarray(0, 4))).toBe("02000000");
    expect(hex(nullFrame(ip6, { byteOrder: "big" }).subarray(0, 4))).toBe("0000001e");
    expect(hex(loopFrame(ip6).subarray(0, 4))).toBe("00000018");
  });

  it("testFrame: snaplen keeps the original length", () => {
    const frame = testFrame(new Uint8Array(100), 1, { snaplen: 60 });
    expect([frame.bytes.length, frame.originalLength, frame.linkType]).toEqual([60, 100, 1]);
  });
});
