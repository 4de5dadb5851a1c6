import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { PcapWriter } from "../../src/sink/pcap-writer.js";
import { createFrame } from "../../src/source/frame.js";
import type { Frame } from "../../src/source/frame.js";
import { captureStream } from "../../src/source/capture-input.js";
import { readCapture } from "../../src/source/read-capture.js";
import { makeTempDir } from "../helpers/temp-dir.js";

describe("PcapWriter", () => {
  it("writes a nanosecond pcap (mode 0600) that the reader gives back frame for frame", async () => {
    const path = join(makeTempDir("imds-pcapw-"), "out.pcap");
    const writer = new PcapWriter(path, 276);
    const frame = createFrame();
    const written: [number, number, number[], number][] = [];
    for (let index = 0; index < 3000; index++) {
      frame.timestampSeconds = 1_700_000_000 + index;
      frame.timestampNanos = index * 333_333;
      const bytes = Uint8Array.from({ length: 60 + (index % 50) }, (_, i) => (i + index) & 0xff);
      frame.setData(bytes, 0, bytes.length);
      frame.originalLength = frame.bytes.length + (index % 2);
      writer.write(frame);
      written.push([frame.timestampSeconds, frame.timestampNanos, [...frame.bytes], frame.originalLength]);
    }
    await writer.close();
    expect(writer.framesWritten).toBe(3000);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const read: [number, number, number[], number][] = [];
    const result = await readCapture(captureStream(Readable.from([readFileSync(path)])), {
      onFrame: (f: Frame) => read.push([f.timestampSeconds, f.timestampNanos, [...f.bytes], f.originalLength]),
    }, { path });
    expect(result.format).toBe("pcap");
    expect(result.linkTypes).toEqual([276]);
    expect(read).toEqual(written);
  });
});
