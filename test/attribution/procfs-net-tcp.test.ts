import { describe, expect, it } from "vitest";
import {
  decodeProcNetAddress,
  encodeProcNetAddress,
  indexSocketTable,
  socketKey,
  ipv4MappedBytes,
  parseIpv4Text,
  parseIpv6Text,
  parseProcNetTcpLine,
} from "../../src/attribution/procfs-net-tcp.js";
import { tcp6TableHeader, tcpTableHeader } from "../helpers/fake-procfs.js";
import { realTcp6Lines, realTcpLines, realTimeWaitTcpLine } from "./real-tables.js";

describe("parseProcNetTcpLine on real kernel lines", () => {
  it("reads addresses, state, uid and inode of an IPv4 connection", () => {
    expect(parseProcNetTcpLine(realTcpLines[2])).toEqual({
      localHex: "0100007F:9430",
      remoteHex: "0100007F:8E2D",
      state: 1,
      uid: 0,
      inode: 88814,
    });
  });

  it("reads a listener (state 0A) and an IPv6 line", () => {
    expect(parseProcNetTcpLine(realTcpLines[1])).toMatchObject({ state: 10, inode: 88811 });
    expect(parseProcNetTcpLine(realTcp6Lines[4])).toEqual({
      localHex: "00000000000000000000000001000000:B82E",
      remoteHex: "00000000000000000000000001000000:A249",
      state: 1,
      uid: 0,
      inode: 88816,
    });
  });

  it("reads TIME_WAIT with inode 0 (its line is shorter)", () => {
    expect(parseProcNetTcpLine(realTimeWaitTcpLine)).toEqual({
      localHex: "0100007F:8A6A",
      remoteHex: "0100007F:963D",
      state: 6,
      uid: 0,
      inode: 0,
    });
  });

  it.each([
    ["tcp header", tcpTableHeader],
    ["tcp6 header", tcp6TableHeader],
    ["empty", ""],
    ["truncated line", "   2: 0100007F:9430 0100007F:8E2D 01"],
    ["bad address", "   2: 0100007G:9430 0100007F:8E2D 01 00000000:00000000 00:00000000 00000000     0        0 88814"],
    ["odd-length address", "   2: 0100007:9430 0100007F:8E2D 01 00000000:00000000 00:00000000 00000000     0        0 88814"],
  ])("rejects %s", (_name, line) => {
    expect(parseProcNetTcpLine(line)).toBeNull();
  });
});

describe("decodeProcNetAddress: host-order words, big-endian port", () => {
  it.each([
    ["0100007F:9430", { ipVersion: 4, address: "127.0.0.1", port: 37936 }],
    ["00000000:07E8", { ipVersion: 4, address: "0.0.0.0", port: 2024 }],
    // Hand-encoded IMDS: 169.254.169.254 is bytes A9 FE A9 FE, printed as the LE word FEA9FEA9.
    ["FEA9FEA9:0050", { ipVersion: 4, address: "169.254.169.254", port: 80 }],
    ["020200C0:D49C", { ipVersion: 4, address: "192.0.2.2", port: 54428 }],
    ["00000000000000000000000001000000:A249", { ipVersion: 6, address: "::1", port: 41545 }],
    ["0000000000000000FFFF00000100007F:D49A", { ipVersion: 6, address: "::ffff:127.0.0.1", port: 54426 }],
    // fd00:ec2::254 = fd 00 0e c2 | 0 | 0 | 00 00 02 54: each word's bytes reversed.
    ["C20E00FD000000000000000054020000:0050", { ipVersion: 6, address: "fd00:ec2::254", port: 80 }],
    ["0000000000000000FFFF0000FEA9FEA9:0050", { ipVersion: 6, address: "::ffff:169.254.169.254", port: 80 }],
  ])("%s", (hex, expected) => {
    expect(decodeProcNetAddress(hex)).toEqual(expected);
    expect(decodeProcNetAddress(hex.toLowerCase())).toEqual(expected);
  });

  it("rejects malformed text", () => {
    expect(decodeProcNetAddress("0100007F")).toBeNull();
    expect(decodeProcNetAddress("0100007F:94301")).toBeNull();
    expect(decodeProcNetAddress("01000007F:9430")).toBeNull();
  });
});

describe("encodeProcNetAddress is the inverse, matching real lines", () => {
  it.each([
    ["127.0.0.1", 37936, "0100007F:9430"],
    ["169.254.169.254", 80, "FEA9FEA9:0050"],
    ["10.1.2.3", 1, "0302010A:0001"],
  ])("IPv4 %s:%i", (address, port, hex) => {
    expect(encodeProcNetAddress(parseIpv4Text(address)!, port)).toBe(hex);
  });

  it.each([
    ["::1", 47150, "00000000000000000000000001000000:B82E"],
    ["fd00:ec2::254", 80, "C20E00FD000000000000000054020000:0050"],
    ["fd00:ec2:0:0:0:0:0:254", 80, "C20E00FD000000000000000054020000:0050"],
    ["::ffff:127.0.0.1", 54426, "0000000000000000FFFF00000100007F:D49A"],
    ["::FFFF:7f00:1", 54426, "0000000000000000FFFF00000100007F:D49A"],
  ])("IPv6 %s:%i", (address, port, hex) => {
    expect(encodeProcNetAddress(parseIpv6Text(address)!, port)).toBe(hex);
  });

  it("maps an IPv4 address into IPv6 the way tcp6 lists dual-stack sockets", () => {
    expect(encodeProcNetAddress(ipv4MappedBytes(parseIpv4Text("127.0.0.1")!), 39513)).toBe("0000000000000000FFFF00000100007F:9A59");
  });
});

describe("address text parsers", () => {
  it.each(["1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "", "1.2.3.04444"])("rejects IPv4 %j", (text) => {
    expect(parseIpv4Text(text)).toBeNull();
  });

  it.each([
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["1::", [1, 0, 0, 0, 0, 0, 0, 0]],
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["1::8", [1, 0, 0, 0, 0, 0, 0, 8]],
    ["::1.2.3.4", [0, 0, 0, 0, 0, 0, 0x102, 0x304]],
    ["1:2:3:4:5:6:1.2.3.4", [1, 2, 3, 4, 5, 6, 0x102, 0x304]],
  ])("parses IPv6 %s", (text, groups) => {
    const bytes = parseIpv6Text(text)!;
    expect(Array.from({ length: 8 }, (_unused, index) => (bytes[index * 2]! << 8) | bytes[index * 2 + 1]!)).toEqual(groups);
  });

  it.each(["1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::g", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", ":::"])(
    "rejects IPv6 %j",
    (text) => {
      expect(parseIpv6Text(text)).toBeNull();
    },
  );
});

describe("indexSocketTable", () => {
  const tcpText = [tcpTableHeader, ...realTcpLines].join("\n") + "\n";
  const tcp6Text = [tcp6TableHeader, ...realTcp6Lines].join("\n") + "\n";
  const inodeOf = (text: string, local: string, remote: string, maxLines = 1000): number | undefined =>
    indexSocketTable(text, maxLines).sockets.get(socketKey(local, remote))?.inode;

  it("finds the client end of a connection, not the server end or the listener", () => {
    expect(inodeOf(tcpText, "0100007F:9430", "0100007F:8E2D")).toBe(88814);
    expect(inodeOf(tcpText, "0100007F:8E2D", "0100007F:9430")).toBe(88815);
    expect(inodeOf(tcpText, "0100007F:8E2D", "0100007F:9999")).toBeUndefined();
  });

  it("finds a v4-mapped dual-stack socket in tcp6", () => {
    expect(inodeOf(tcp6Text, "0000000000000000FFFF00000100007F:D49A", "0000000000000000FFFF00000100007F:9A59")).toBe(88818);
  });

  it("prefers a live socket over a TIME_WAIT entry with the same tuple, whatever the order", () => {
    const live = "   5: 0100007F:8A6A 0100007F:963D 01 00000000:00000000 00:00000000 00000000     0        0 77777 1 0000000000000000 20 0 0 10 -1";
    for (const lines of [[realTimeWaitTcpLine, live], [live, realTimeWaitTcpLine]]) {
      expect(inodeOf([tcpTableHeader, ...lines].join("\n"), "0100007F:8A6A", "0100007F:963D")).toBe(77777);
    }
    expect(inodeOf([tcpTableHeader, realTimeWaitTcpLine].join("\n"), "0100007F:8A6A", "0100007F:963D")).toBe(0);
  });

  it("stops at the line limit and says so", () => {
    expect(indexSocketTable(tcpText, 4)).toMatchObject({ linesRead: 4, hitLineLimit: true });
    expect(inodeOf(tcpText, "0100007F:D49C", "0100007F:9A59", 4)).toBeUndefined();
    expect(inodeOf(tcpText, "0100007F:D49C", "0100007F:9A59", 6)).toBe(88820);
    expect(indexSocketTable(tcpText, 1000)).toMatchObject({ linesRead: realTcpLines.length + 1, hitLineLimit: false });
  });
});
