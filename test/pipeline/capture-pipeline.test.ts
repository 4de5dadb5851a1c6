import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import { CapturePipeline } from "../../src/pipeline/capture-pipeline.js";
import { createFrame } from "../../src/source/frame.js";

describe("CapturePipeline per-frame accounting (the same for files and live capture)", () => {
  it("counts every frame, and the frames the snaplen cut with where it cut them", () => {
    const diagnostics = new Diagnostics();
    const pipelines = [new CapturePipeline("a.pcap", () => undefined, diagnostics), new CapturePipeline("b.pcap", () => undefined, diagnostics)];
    const frame = createFrame();
    frame.linkType = 147; // a user link type: decoding stops at once, the accounting is all there is
    const lengths: [captured: number, original: number][] = [[60, 60], [96, 1514], [96, 96], [40, 1500]];
    for (const [index, [captured, original]] of lengths.entries()) {
      frame.setData(new Uint8Array(captured), 0, captured);
      frame.originalLength = original;
      pipelines[index % 2]!.onFrame(frame);
    }
    expect(pipelines.map((pipeline) => pipeline.frames)).toEqual([2, 2]);
    expect(diagnostics.counters.framesRead).toBe(4);
    expect(diagnostics.counters.framesSnaplenCut).toBe(2);
    expect(pipelines.map((pipeline) => pipeline.snaplenCutAtBytes)).toEqual([null, 96]);
  });
});
