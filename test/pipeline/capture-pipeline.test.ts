import { describe, expect, it } from "vitest";
import { Diagnostics } from "../../src/diagnostics.js";
import { CapturePipeline } from "../../src/pipeline/capture-pipeline.js";
import { createFrame } from "../../src/source/frame.js";
import { TcpConversation } from "../helpers/conversation.js";
import { testFrame } from "../helpers/packets.js";

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

describe("CapturePipeline connection end hook (live capture forgets a connection's attribution by it)", () => {
  it("says each connection's end with the number of events it made, before or after they leave", () => {
    const diagnostics = new Diagnostics();
    const events: { clientPort: number; requestOnConnection: number }[] = [];
    const ends: [clientPort: number, events: number, reason: string][] = [];
    const pipeline = new CapturePipeline("live:test", (event) => events.push(event), diagnostics, undefined, {
      onFlowEnd: (endpoints, count, reason) => ends.push([endpoints.clientPort, count, reason]),
    });
    const request = "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n";
    const answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const keepAlive = new TcpConversation({ clientPort: 40001 }).handshake().send(request).reply(answer).send(request).reply(answer).close();
    // A connection that never sent a request, and one whose only request has no answer yet when it is reset.
    const silent = new TcpConversation({ clientPort: 40002 }).handshake().close();
    const unanswered = new TcpConversation({ clientPort: 40003 }).handshake().send(request).reset();
    for (const frame of [...keepAlive.frames, ...silent.frames, ...unanswered.frames]) {
      pipeline.onFrame(testFrame(frame.bytes, frame.linkType, { timestampSeconds: frame.timestampSeconds, timestampNanos: frame.timestampNanos }));
    }
    pipeline.finish();
    expect(ends).toEqual([[40001, 2, "fin"], [40002, 0, "fin"], [40003, 1, "rst"]]);
    expect(events.map((event) => [event.clientPort, event.requestOnConnection])).toEqual([[40001, 1], [40001, 2], [40003, 1]]);
  });
});
