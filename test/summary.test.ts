import { describe, expect, it } from "vitest";
import { Diagnostics } from "../src/diagnostics.js";
import { SummaryBuilder } from "../src/summary.js";
import { event } from "./report/event-factory.js";

describe("SummaryBuilder clients", () => {
  it("counts per (address, User-Agent): no User-Agent and an empty one differ, runs and interleavings agree", () => {
    const builder = new SummaryBuilder();
    const calls = [
      event({ clientIp: "10.0.0.1", userAgent: "curl/8.0", kind: "v1" }),
      event({ clientIp: "10.0.0.1", userAgent: "aws-cli/2.9", kind: "token-request" }),
      event({ clientIp: "10.0.0.1", userAgent: "curl/8.0", kind: "v1", status: 401 }),
      event({ clientIp: "10.0.0.1", userAgent: null, kind: "v1" }),
      event({ clientIp: "10.0.0.1", userAgent: "", kind: "v1" }),
      event({ clientIp: "10.0.0.2", userAgent: "curl/8.0", kind: "v2" }),
      event({ clientIp: "10.0.0.1", userAgent: "aws-cli/2.9", kind: "v2" }),
    ];
    for (const call of calls) builder.addEvent(call);
    const summary = builder.build(new Diagnostics());
    const rows = summary.clients.map((client) => [client.clientIp, client.userAgent, client.v1, client.v2, client.tokenRequests, client.statuses]);
    // The order among clients with equal v1 counts is not specified: compare as sets.
    const byText = (rowsToSort: unknown[][]): string[] => rowsToSort.map((row) => JSON.stringify(row)).sort();
    expect(byText(rows)).toEqual(byText([
      ["10.0.0.1", "curl/8.0", 2, 0, 0, { "200": 1, "401": 1 }],
      ["10.0.0.1", null, 1, 0, 0, { "200": 1 }],
      ["10.0.0.1", "", 1, 0, 0, { "200": 1 }],
      ["10.0.0.1", "aws-cli/2.9", 0, 1, 1, { "200": 2 }],
      ["10.0.0.2", "curl/8.0", 0, 1, 0, { "200": 1 }],
    ]));
    expect(rows[0]).toEqual(["10.0.0.1", "curl/8.0", 2, 0, 0, { "200": 1, "401": 1 }]);
    expect(summary.requests).toEqual({ total: 7, v1: 4, v2: 2, tokenRequests: 1, unclassified: 0 });
  });

  it("stops listing clients at 10,000 and counts the calls of the rest", () => {
    const builder = new SummaryBuilder();
    for (let index = 0; index < 10_002; index++) {
      builder.addEvent(event({ clientIp: `10.${index >> 16}.${(index >> 8) & 255}.${index & 255}` }));
    }
    builder.addEvent(event({ clientIp: "10.0.0.0" })); // a listed client: still counted
    const summary = builder.build(new Diagnostics());
    expect([summary.clients.length, summary.callsFromUntrackedClients, summary.requests.total]).toEqual([10_000, 2, 10_003]);
    expect(summary.clients.find((client) => client.clientIp === "10.0.0.0")?.v1).toBe(2);
  });
});
