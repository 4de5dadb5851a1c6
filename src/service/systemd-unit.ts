import { spawnSync } from "node:child_process";
import { closeSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OutputError } from "../errors.js";
import { openOutputFile, prepareOutputDirectory } from "../sink/output-path.js";

export const serviceName = "imds-analyzer.service";

export interface ServiceSettings {
  /**
   * What runs the CLI, before "capture": the installed single executable alone, or node and the
   * installed bundle (installed-program.ts), absolute paths that outlive the installing command.
   */
  readonly command: readonly string[];
  /** Environment variables of the service (NODE_OPTIONS for the single executable), if any. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly logDirectory: string;
  readonly interface: string;
  readonly rotateSize: string;
  readonly rotateKeep: number;
}

/** Quotes one argument for a systemd ExecStart= line. */
function quote(argument: string): string {
  return /^[\w@%+=:,./-]+$/.test(argument) ? argument : `"${argument.replace(/(["\\$])/g, "\\$1").replace(/%/g, "%%")}"`;
}

/**
 * The unit runs the capture as a service from early boot: before network-pre.target, and so
 * before cloud-init-local, because the IMDS calls made while an instance boots are exactly the
 * ones an operator cannot see any other way. Events go to a size-rotated file readable by root
 * only; SIGHUP (systemctl reload) reopens it for external log rotation.
 */
export function renderSystemdUnit(settings: ServiceSettings): string {
  const eventsPath = join(settings.logDirectory, "events.ndjson");
  const summaryPath = join(settings.logDirectory, "summary.json");
  const command = [
    ...settings.command, "capture",
    "--interface", settings.interface,
    "--events", eventsPath,
    "--summary-json", summaryPath,
    "--rotate-size", settings.rotateSize,
    "--rotate-keep", String(settings.rotateKeep),
    "--quiet",
  ].map(quote).join(" ");
  const environment = Object.entries(settings.environment ?? {}).map(([name, value]) => `Environment=${quote(`${name}=${value}`)}\n`).join("");
  return `# Installed by "imds-analyzer install-service"; reinstall to change it.
[Unit]
Description=imds-analyzer: record which processes call the EC2 metadata service (IMDSv1/v2)
Documentation=https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
DefaultDependencies=no
After=local-fs.target
Wants=network-pre.target
Before=network-pre.target network-online.target cloud-init-local.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=simple
${environment}ExecStart=${command}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
UMask=0077
# A clean stop writes the summary; give it time to drain libpcap and finish attributions.
KillSignal=SIGTERM
TimeoutStopSec=30s

[Install]
WantedBy=sysinit.target
`;
}

export interface InstallResult {
  readonly unitPath: string;
  readonly started: boolean;
  /** Why it was not enabled and started (no systemd running), when it was not. */
  readonly note: string | null;
}

/**
 * Writes the unit (0644, as units are), creates the log directory (0700) and, where systemd runs,
 * enables and starts it. Both go through output-path.ts like every other output: installing runs
 * as root, and a --unit-dir or --log-dir in /tmp must not be a link planted by another user.
 */
export function installService(settings: ServiceSettings, options: { unitDirectory: string; start: boolean }): InstallResult {
  const unitPath = join(options.unitDirectory, serviceName);
  prepareOutputDirectory(settings.logDirectory, "the log directory");
  const descriptor = openOutputFile(unitPath, { what: "the service unit", mode: 0o644 });
  try {
    writeFileSync(descriptor, renderSystemdUnit(settings));
  } catch (error) {
    throw new OutputError(unitPath, `cannot install the service: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  } finally {
    closeSync(descriptor);
  }
  if (!options.start) return { unitPath, started: false, note: "not started (--no-start)" };
  if (!existsSync("/run/systemd/system")) return { unitPath, started: false, note: "systemd is not running here: enable it later with systemctl enable --now imds-analyzer" };
  for (const args of [["daemon-reload"], ["enable", "--now", serviceName]]) {
    const result = spawnSync("systemctl", args, { encoding: "utf8" });
    if (result.status !== 0) throw new OutputError(unitPath, `systemctl ${args.join(" ")} failed: ${result.stderr.trim()}`);
  }
  return { unitPath, started: true, note: null };
}
