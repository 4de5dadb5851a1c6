/**
 * A kernel connect record as the eBPF tracer delivers it, for Attributor unit tests: curl (pid
 * 4242, child of pid 1) connecting to IMDS from CLIENTPORT, connected now (CLOCK_MONOTONIC, as
 * the kernel stamps it) unless told otherwise.
 */
import type { ConnectRecord } from "../../src/attribution/ebpf-record.js";

export function connectRecordOf(clientPort: number, overrides: Partial<ConnectRecord> = {}): ConnectRecord {
  const connectTimeNs = overrides.connectTimeNs ?? process.hrtime.bigint();
  return {
    pid: 4242, tid: 4242, uid: 0, gid: 0, comm: "curl", cgroupId: 1n, ipVersion: 4,
    clientAddress: "10.0.0.10", clientPort, serverAddress: "169.254.169.254", serverPort: 80,
    connectTimeNs, endTimeNs: connectTimeNs + 1000n, outcome: "established",
    argv: ["curl", "http://169.254.169.254/latest/meta-data/"], argvTruncated: false,
    parentPid: 1, parentComm: "systemd", startTimeTicks: 5000, exeName: "curl",
    exePath: "/usr/bin/curl", cgroupPath: "/system.slice/test.service", procSnapshot: "confirmed",
    ...overrides,
  };
}
