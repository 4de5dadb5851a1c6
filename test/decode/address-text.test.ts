import { describe, expect, it } from "vitest";
import { formatIpv4Address, formatIpv6Address } from "../../src/decode/address-text.js";
import { parseIpAddress } from "../helpers/packets.js";

function groupsToBytes(groups: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

describe("formatIpv6Address (RFC 5952)", () => {
  it.each([
    ["IMDS", [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], "fd00:ec2::254"],
    ["all zeros", [0, 0, 0, 0, 0, 0, 0, 0], "::"],
    ["loopback", [0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    ["trailing run", [1, 0, 0, 0, 0, 0, 0, 0], "1::"],
    ["leading zeros dropped, lower case (4.1, 4.3)", [0x2001, 0x0db8, 0x000a, 0, 0, 0, 0xabcd, 0x0001], "2001:db8:a::abcd:1"],
    ["a single zero group is not shortened (4.2.2)", [0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"],
    ["longest run wins (4.2.3)", [0x2001, 0, 0, 1, 0, 0, 0, 1], "2001:0:0:1::1"],
    ["first run on a tie (4.2.3)", [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"],
    ["run at the end longer than one at the start", [0, 0, 1, 0, 0, 0, 0, 1], "0:0:1::1"],
    ["run of exactly two", [0x2001, 0xdb8, 1, 1, 1, 1, 0, 0], "2001:db8:1:1:1:1::"],
    ["no zeros", [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    ["link local", [0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329], "fe80::202:b3ff:fe1e:8329"],
    ["IPv4-mapped uses dotted IPv4 (section 5)", [0, 0, 0, 0, 0, 0xffff, 0xa9fe, 0xa9fe], "::ffff:169.254.169.254"],
    ["IPv4-compatible (deprecated) stays hex", [0, 0, 0, 0, 0, 0, 0x0102, 0x0304], "::102:304"],
    ["ffff in another place is not mapped", [0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304], "::ffff:0:102:304"],
  ] as const)("%s -> %s", (_name, groups, text) => {
    expect(formatIpv6Address(groupsToBytes(groups), 0)).toBe(text);
  });

  it("reads at an offset inside a larger buffer", () => {
    const buffer = new Uint8Array(40).fill(0xaa);
    buffer.set(groupsToBytes([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]), 24);
    expect(formatIpv6Address(buffer, 24)).toBe("fd00:ec2::254");
  });

  it("agrees with the WHATWG URL serializer (also RFC 5952 shortening) on 5,000 zero-heavy addresses", () => {
    let state = 0x12345678;
    const random = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 8;
    };
    for (let i = 0; i < 5000; i++) {
      const groups = Array.from({ length: 8 }, () => (random() % 3 === 0 ? random() & 0xffff : 0));
      const bytes = groupsToBytes(groups);
      const isMapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
      if (isMapped) continue; // URL writes those in hex; RFC 5952 section 5 prefers dotted
      const expected = new URL(`http://[${groups.map((group) => group.toString(16)).join(":")}]/`).hostname;
      expect(`[${formatIpv6Address(bytes, 0)}]`).toBe(expected);
    }
  });

  it("round-trips through the test helper's parser", () => {
    for (const text of ["fd00:ec2::254", "2001:db8::1:0:0:1", "::", "::1", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8"]) {
      expect(formatIpv6Address(parseIpAddress(text), 0)).toBe(text);
    }
  });
});

describe("formatIpv4Address", () => {
  it.each([
    [[169, 254, 169, 254], "169.254.169.254"],
    [[0, 0, 0, 0], "0.0.0.0"],
    [[255, 255, 255, 255], "255.255.255.255"],
    [[10, 0, 100, 7], "10.0.100.7"],
  ] as const)("%j -> %s", (bytes, text) => {
    expect(formatIpv4Address(Uint8Array.of(9, 9, ...bytes), 2)).toBe(text);
  });
});
