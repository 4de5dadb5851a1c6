import { describeLinkType } from "../decode/link-types.js";
import type { AnalysisSummary, LiveCaptureSummary } from "../summary.js";

/** The human summary written to stderr after an analysis. Plain text, no colours. */
export function formatSummaryText(summary: AnalysisSummary): string {
  const lines: string[] = [];
  const { requests } = summary;
  lines.push(
    `imds-analyzer: ${summary.sources.length} file(s), ${summary.framesRead} frames, ${formatBytes(summary.bytesRead)} read`,
  );
  for (const source of summary.sources) {
    const kind = source.format === null ? "unreadable" : `${source.format}${source.compressed ? " (gzip)" : ""}`;
    const problem = source.error ? `  ERROR: ${source.error.message}` : source.truncated ? "  (truncated at the end)" : "";
    const links = source.linkTypes.length > 0 ? ` (link ${source.linkTypes.map(describeLinkType).join(", ")})` : "";
    lines.push(`  ${source.path}: ${kind}${links}, ${source.frames} frames${problem}`);
  }
  lines.push(
    `IMDS requests: ${requests.total} (v1: ${requests.v1}, v2: ${requests.v2}, token requests: ${requests.tokenRequests})`,
  );
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
