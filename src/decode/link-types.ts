/**
 * LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) the decoder reads, and names for
 * common ones it does not, so a warning can say "127 (IEEE802_11_RADIOTAP)" instead of a bare
 * number the user has to look up.
 */
export const LinkType = {
  null: 0,
  ethernet: 1,
  /** DLT_RAW as BSD and some other platforms number it; raw IPv4/IPv6. */
  rawBsd12: 12,
  /** DLT_RAW as OpenBSD numbers it; raw IPv4/IPv6. */
  rawOpenBsd14: 14,
  raw: 101,
  loop: 108,
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;
export type LinkType = (typeof LinkType)[keyof typeof LinkType];

/** Names as the tcpdump link-type list spells them (without the LINKTYPE_ prefix). */
const linkTypeNames: ReadonlyMap<number, string> = new Map<number, string>([
  [0, "NULL"],
  [1, "ETHERNET"],
  [6, "IEEE802_5"],
  [8, "SLIP"],
  [9, "PPP"],
  [10, "FDDI"],
  [12, "RAW (DLT 12)"],
  [14, "RAW (DLT 14)"],
  [50, "PPP_HDLC"],
  [51, "PPP_ETHER"],
  [100, "ATM_RFC1483"],
  [101, "RAW"],
  [104, "C_HDLC"],
  [105, "IEEE802_11"],
  [107, "FRELAY"],
  [108, "LOOP"],
  [113, "LINUX_SLL"],
  [117, "PFLOG"],
  [119, "IEEE802_11_PRISM"],
  [127, "IEEE802_11_RADIOTAP"],
  [143, "DOCSIS"],
  [163, "IEEE802_11_AVS"],
  [189, "USB_LINUX"],
  [192, "PPI"],
  [197, "ERF"],
  [201, "BLUETOOTH_HCI_H4_WITH_PHDR"],
  [215, "IEEE802_15_4_NOFCS"],
  [220, "USB_LINUX_MMAPPED"],
  [226, "IPNET"],
  [228, "IPV4"],
  [229, "IPV6"],
  [239, "NFLOG"],
  [240, "NETANALYZER"],
  [243, "MPEG_2_TS"],
  [249, "USBPCAP"],
  [252, "WIRESHARK_UPPER_PDU"],
  [253, "NETLINK"],
  [271, "VSOCK"],
  [276, "LINUX_SLL2"],
]);

/** "127 (IEEE802_11_RADIOTAP)", or just the number when it has no name here. */
export function describeLinkType(linkType: number): string {
  const name = linkTypeNames.get(linkType);
  return name === undefined ? String(linkType) : `${linkType} (${name})`;
}
