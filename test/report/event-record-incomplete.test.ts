/**
 * Requests seen in part in event records (`kind: "unclassified"`, `incomplete`): read when well
 * formed, refused when not; events written before the field read as seen whole. A live caller
 * of an unclassified request is listed by the report with its process. Also `responseMissing`
 * (why an event has no status), read the same way.
 */
import { describe, expect, it } from "vitest";
import { ReportBuilder } from "../../src/report/aggregate.js";
import { parseEventRecord } from "../../src/report/event-record.js";
import { attributedOk, event, processInfo } from "./event-factory.js";

const cut = { cause: "snaplen", snaplen: 96, parseError: null, pathComplete: false } as const;

describe("incomplete requests in event records", () => {
  it("an event written before the field reads as seen whole", () => {
    const { incomplete: _dropped, ...older } = event();
    const parsed = parseEventRecord(older);
    if (typeof parsed === "string") throw new Error(parsed);
    expect(parsed.incomplete).toBeNull();
  });

  it("reads an unclassified event with its cause, and a version cut off", () => {
    const parsed = parseEventRecord(event({ kind: "unclassified", path: "/latest/meta-da", httpVersion: null, userAgent: null, status: null, incomplete: cut }));
    if (typeof parsed === "string") throw new Error(parsed);
    expect([parsed.kind, parsed.incomplete]).toEqual(["unclassified", cut]);
  });

  it.each([
    ["unclassified without incomplete", { kind: "unclassified", incomplete: null }],
    ["an unknown cause", { kind: "unclassified", incomplete: { ...cut, cause: "guess" } }],
    ["a snaplen of the wrong type", { kind: "unclassified", incomplete: { ...cut, snaplen: "96" } }],
    ["pathComplete missing", { kind: "unclassified", incomplete: { cause: "gap", snaplen: null, parseError: null } }],
    ["a null version on a whole request", { httpVersion: null }],
    ["an unknown kind", { kind: "v3" }],
  ])("refuses %s", (_name, fields) => {
    expect(typeof parseEventRecord({ ...event(), ...fields })).toBe("string");
  });

  it("the report lists unclassified requests with their live process, in no caller, and the host is UNKNOWN", () => {
    const builder = new ReportBuilder({ minimumWindowSeconds: 0 });
    const process = processInfo();
    builder.addEvent(event({ kind: "v2", process, attribution: attributedOk }), "host-a");
    builder.addEvent(event({ kind: "unclassified", process, attribution: attributedOk, path: "/latest/meta-da", status: null, incomplete: cut }), "host-a");
    const report = builder.build();
    expect(report.verdict).toBe("UNKNOWN");
    expect(report.totals).toEqual({ v1: 0, v2: 1, tokenRequests: 0 });
    expect(report.callers.map((caller) => [caller.v1, caller.v2, caller.tokenRequests])).toEqual([[0, 1, 0]]);
    expect(report.hosts[0]!.capture.unclassifiedRequests).toMatchObject({
      total: 1,
      snaplenBytes: 96,
      examples: [{ method: "GET", path: "/latest/meta-da", pathComplete: false, cause: "snaplen", process: `${process.comm} (pid ${process.pid})` }],
    });
  });
});

describe("responseMissing in event records", () => {
  it("an event written before the field reads it as null; each cause reads as written", () => {
    const { responseMissing: _dropped, ...older } = event({ status: null });
    const parsed = parseEventRecord(older);
    if (typeof parsed === "string") throw new Error(parsed);
    expect(parsed.responseMissing).toBeNull();
    for (const cause of ["no-answer", "timeout", "unobserved"] as const) {
      const read = parseEventRecord(event({ status: null, responseMissing: cause }));
      if (typeof read === "string") throw new Error(read);
      expect(read.responseMissing).toBe(cause);
    }
  });

  it.each([["an unknown cause", "lost"], ["a number", 0]])("refuses %s", (_name, value) => {
    expect(parseEventRecord({ ...event({ status: null }), responseMissing: value })).toMatch(/responseMissing/);
  });
});
