import { pcapMagic, swap32 } from "./pcap.js";
import { pcapngBlockType } from "./pcapng.js";
import type { CaptureFormat } from "./types.js";

export type SniffedFormat = CaptureFormat | "gzip";

/** Bytes needed to tell the formats apart. */
export const sniffBytes = 4;

/**
 * Names the format from the first bytes of a stream (at least `sniffBytes` of them), or null when
 * they match none. Decisions here are only about the magic; the parsers validate the rest.
 */
export function sniffFormat(head: Uint8Array): SniffedFormat | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length < sniffBytes) return null;
  const magic = new DataView(head.buffer, head.byteOffset, sniffBytes).getUint32(0, true);
  if (magic === pcapngBlockType.sectionHeader) return "pcapng";
  for (const candidate of [magic, swap32(magic)]) {
    if (candidate === pcapMagic.microseconds || candidate === pcapMagic.nanoseconds || candidate === pcapMagic.modified) {
      return "pcap";
    }
  }
  return null;
}

/** "magic 0x3c68746d ("<htm")": the first bytes in file order, with text shown when printable. */
export function describeMagic(head: Uint8Array): string {
  const shown = head.subarray(0, sniffBytes);
  const hex = Array.from(shown, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const printable = shown.every((byte) => byte >= 0x20 && byte < 0x7f);
  return printable ? `magic 0x${hex} ("${String.fromCharCode(...shown)}")` : `magic 0x${hex}`;
}
