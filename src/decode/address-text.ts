/**
 * Text forms of IP addresses read straight from frame bytes. Only IMDS segments pay for these
 * (the decoder matches address bytes first), and the same forms must come out wherever an
 * address is printed or joined on (events, socket tables), so every module uses these two.
 */

/** Dotted quad of the 4 bytes at `offset`. */
export function formatIpv4Address(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]!}.${bytes[offset + 1]!}.${bytes[offset + 2]!}.${bytes[offset + 3]!}`;
}

/**
 * RFC 5952 text of the 16 bytes at `offset`: lower-case hex without leading zeros, the longest
 * run of two or more zero groups shortened to "::" (the first such run on a tie, never a single
 * group), and IPv4-mapped addresses (::ffff:0:0/96) with the IPv4 part dotted (section 5), as
 * inet_ntop and tcpdump print them.
 */
export function formatIpv6Address(bytes: Uint8Array, offset: number): string {
  let bestRunStart = -1;
  let bestRunLength = 0;
  let runStart = -1;
  for (let group = 0; group < 8; group++) {
    const isZero = bytes[offset + group * 2] === 0 && bytes[offset + group * 2 + 1] === 0;
    if (isZero) {
      if (runStart < 0) runStart = group;
      const runLength = group - runStart + 1;
      if (runLength > bestRunLength) {
        bestRunStart = runStart;
        bestRunLength = runLength;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestRunLength < 2) bestRunStart = -1;

  if (bestRunStart === 0 && bestRunLength === 5 && bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff) {
    return `::ffff:${formatIpv4Address(bytes, offset + 12)}`;
  }

  let text = "";
  for (let group = 0; group < 8; group++) {
    if (group === bestRunStart) {
      text += "::";
      group += bestRunLength - 1;
      continue;
    }
    if (text.length > 0 && !text.endsWith(":")) text += ":";
    text += ((bytes[offset + group * 2]! << 8) | bytes[offset + group * 2 + 1]!).toString(16);
  }
  return text;
}
