import { describeLinkType } from "../decode/link-types.js";
import type { IncompleteCause } from "../events.js";
import { incompleteCauses } from "../events.js";
import type { AnalysisSummary, IncompleteRequestsSummary, LiveCaptureSummary } from "../summary.js";

/** The human summary written to stderr after an analysis. Plain text, no colours. */
export function formatSummaryText(summary: AnalysisSummary): string {
  const lines: string[] = [];
  const { requests } = summary;
  // What could not be observed comes first: it decides whether the counts below can be trusted.
  if (summary.incompleteRequests !== undefined) lines.push(...formatIncompleteLines(summary.incompleteRequests, requests.total, summary.live !== null));
  lines.push(
    `imds-analyzer: ${summary.sources.length} file(s), ${summary.framesRead} frames, ${formatBytes(summary.bytesRead)} read`,
  );
  for (const source of summary.sources) {
    const kind = source.format === null ? "unreadable" : `${source.format}${source.compressed ? " (gzip)" : ""}`;
    const problem = source.error ? `  ERROR: ${source.error.message}` : source.truncated ? "  (truncated at the end)" : "";
    const links = source.linkTypes.length > 0 ? ` (link ${source.linkTypes.map(describeLinkType).join(", ")})` : "";
    lines.push(`  ${source.path}: ${kind}${links}, ${source.frames} frames${problem}`);
  }
  const unclassified = requests.unclassified ?? 0;
  lines.push(
    `IMDS requests: ${requests.total} (v1: ${requests.v1}, v2: ${requests.v2}, token requests: ${requests.tokenRequests}` +
      `${unclassified > 0 ? `, unclassified: ${unclassified}` : ""})`,
  );
  const parseErrors = summary.httpParseErrors;
  if (parseErrors !== undefined) {
    for (const [direction, byReason] of [["requests", parseErrors.requests], ["responses", parseErrors.responses]] as const) {
      const reasons = Object.entries(byReason);
      if (reasons.length > 0) lines.push(`HTTP ${direction} that failed to parse: ${reasons.map(([reason, count]) => `${reason} ${count}`).join(", ")}`);
    }
  }
  if (summary.instanceId !== null) lines.push(`Instance: ${summary.instanceId} (as IMDS named it in this capture)`);
  if (summary.live !== null) lines.push(...formatLiveLines(summary.live));
  if (summary.clients.length > 0) {
    lines.push("Requests per client (address, User-Agent):");
    for (const client of summary.clients) {
      const statuses = Object.entries(client.statuses)
        .map(([status, count]) => `${status}\u00d7${count}`)
        .join(" ");
      lines.push(
        `  ${client.clientIp}  ${client.userAgent === null ? "(no User-Agent)" : JSON.stringify(client.userAgent)}  ` +
          `v1=${client.v1} v2=${client.v2} token=${client.tokenRequests}  status ${statuses}`,
      );
    }
    if (summary.callsFromUntrackedClients > 0) {
      lines.push(`  (${summary.callsFromUntrackedClients} calls from further clients not listed)`);
    }
  }
  const counters = Object.entries(summary.diagnostics.counters);
  if (counters.length > 0) {
    lines.push("Diagnostics: " + counters.map(([name, value]) => `${name}=${value}`).join(", "));
  }
  for (const warning of summary.diagnostics.warnings) {
    lines.push(`warning: ${warning.message}${warning.count > 1 ? ` (${warning.count} times)` : ""}`);
  }
  return lines.join("\n") + "\n";
}

/** Why requests were seen only in part, as the summary says it ("N: ..."). */
function causeText(cause: IncompleteCause, snaplenBytes: number | null): string {
  switch (cause) {
    case "snaplen":
      return `packets cut at ${snaplenBytes === null ? "the snaplen" : `${snaplenBytes} bytes`} by the capture's snaplen, so their headers were not captured`;
    case "gap":
      return "bytes of their heads missing from the capture (packets not captured)";
    case "ended":
      return "the connection or the capture ended inside their heads";
    case "parse-error":
      return "malformed after the request line";
  }
}

/**
 * Requests seen only in part, said before anything else: how many could not be classified and
 * why, and how to capture them whole.
 */
function formatIncompleteLines(incomplete: IncompleteRequestsSummary, requestsTotal: number, live: boolean): string[] {
  const lines: string[] = [];
  if (incomplete.unclassified > 0) {
    const causes = incompleteCauses
      .filter((cause) => incomplete.unclassifiedByCause[cause] > 0)
      .map((cause) => `${incomplete.unclassifiedByCause[cause]}: ${causeText(cause, incomplete.snaplenBytes)}`);
    lines.push(
      `WARNING: ${incomplete.unclassified} of ${requestsTotal} IMDS requests could not be classified as IMDSv1 or IMDSv2 ` +
        `(${causes.join("; ")}). They are counted as neither.`,
    );
  }
  if (incomplete.connectionsWithUnreadRequestBytes > 0) {
    lines.push(
      `WARNING: ${incomplete.connectionsWithUnreadRequestBytes} IMDS connection(s) lost request bytes where no request line was visible: whole requests may be missing.`,
    );
  }
  const answeredUnseen = incomplete.requestsSeenOnlyByResponse ?? 0;
  if (answeredUnseen > 0) {
    lines.push(
      `WARNING: ${answeredUnseen} IMDS response(s) answered requests that were not seen at all (lost whole, or sent before the capture started): any of them may have been IMDSv1.`,
    );
  }
  if (incomplete.byCause.snaplen > 0 || (incomplete.connectionsWithUnreadRequestBytes > 0 && incomplete.snaplenBytes !== null)) {
    lines.push(
      live
        ? `  Packets were cut at ${incomplete.snaplenBytes ?? "the snaplen"} bytes, all the live capture keeps of a packet: a request head beyond that cannot be classified.`
        : `  Packets were cut at ${incomplete.snaplenBytes ?? "the snaplen"} bytes: recapture without a size limit (tcpdump -s 0, dumpcap -s 0).`,
    );
  }
  const classifiedInPart = incomplete.total - incomplete.unclassified;
  if (classifiedInPart > 0) {
    lines.push(
      `  ${classifiedInPart} request(s) seen in part were still classified from what was seen (token requests by their request line, v2 by a whole token header); their other headers are unknown.`,
    );
  }
  return lines;
}

/** Capture health: what a reader needs to trust (or not) an empty result. */
function formatLiveLines(live: LiveCaptureSummary): string[] {
  const lines = [
    `Live capture on ${live.device}: ${live.durationSeconds.toFixed(0)} s from ${live.startedAt}, ` +
      `${live.packetsReceived} packets, dropped ${live.packetsDroppedByKernel} by the kernel, ${live.packetsDroppedByInterface} by the interface` +
      ` and ${live.packetsDroppedByAddon ?? 0} by the capture addon`,
  ];
  if (live.bootTime !== undefined && live.bootTime !== null) {
    lines.push(`  host booted ${live.bootTime}: ${live.windowIncludesBoot === true ? "the capture includes boot" : "boot was before the capture (boot-time callers not seen)"}`);
  }
  const { attribution } = live;
  lines.push(
    `  attribution (${attribution.method}${attribution.fallbackReason === null ? "" : `: ${attribution.fallbackReason}`}): ` +
      `${attribution.attributed} of ${attribution.connections} connections, ${attribution.partial} partial, ${attribution.failed} failed` +
      ((attribution.kernelRecordsLost ?? 0) > 0 ? `; ${attribution.kernelRecordsLost ?? 0} kernel connect records lost (ring buffer full)` : ""),
  );
  if (live.interruptions !== undefined && live.interruptions.count > 0) {
    lines.push(`  interrupted ${live.interruptions.count} time(s), ${live.interruptions.secondsDown.toFixed(1)} s without capture`);
  }
  if (live.eventsNotWritten !== undefined && live.eventsNotWritten > 0) lines.push(`  ${live.eventsNotWritten} events could not be written`);
  if (live.framesNotSaved > 0) lines.push(`  ${live.framesNotSaved} frames not saved to --write-pcap`);
  if (live.capabilities !== undefined) {
    const kept = live.capabilities.kept;
    lines.push(`  capabilities kept after start: ${kept === null ? `all (${live.capabilities.problem ?? "not dropped"})` : kept.length === 0 ? "none" : kept.join(", ")}`);
  }
  return lines;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]!}`;
}
