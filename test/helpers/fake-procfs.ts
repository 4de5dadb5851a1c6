/**
 * A fake /proc (and /etc) tree in a temp dir, for attribution unit tests: the code under test
 * gets `procRoot`/`etcRoot` pointing here and reads real files with real fs calls.
 *
 *   const fake = await FakeProcfs.create({ bootTimeSeconds: 1_700_000_000 });
 *   await fake.addProcess({ pid: 42, ppid: 1, comm: "curl", cmdline: ["curl", "http://169.254.169.254/"] });
 *   await fake.setSocketTables(defaultNetns, { tcp: [tcpLine(...)] });
 *   ... readProcessIdentity(42, { procRoot: fake.procRoot, etcRoot: fake.etcRoot }) ...
 *   await fake.cleanup();
 *
 * Per process: stat (the kernel's 52-field format), status, comm, cmdline (NUL-terminated args),
 * exe (symlink; dangling is fine, readlink does not follow it), cwd (symlink, when given),
 * cgroup, ns/net -> "net:[N]", fd/N -> "socket:[I]" or a path, and net/tcp + net/tcp6 holding
 * its namespace's table.
 */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir } from "./temp-dir.js";

/** The host network namespace inode on many kernels; any number works. */
export const defaultNetns = 4026531840;

/** Headers exactly as the kernel prints them (copied from this machine). */
export const tcpTableHeader =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     ";
export const tcp6TableHeader =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

export interface FakeProcess {
  readonly pid: number;
  readonly ppid?: number;
  /** Default "proc<pid>". */
  readonly comm?: string;
  /** stat state letter; default "S". */
  readonly state?: string;
  /** stat field 22; default 1000 + pid. */
  readonly startTimeTicks?: number;
  /** Effective uid in status; default 0. Real uid is written as `realUid` (default same). */
  readonly uid?: number;
  readonly realUid?: number;
  /** argv; default [comm]. An empty array writes an empty cmdline (kernel thread, zombie). */
  readonly cmdline?: readonly string[];
  /** Raw cmdline file content; overrides `cmdline` (e.g. a setproctitle'd one with no NULs). */
  readonly cmdlineRaw?: string;
  /** Symlink target of exe; null writes no exe (ENOENT, like a kernel thread). Default "/usr/bin/<comm>". */
  readonly exe?: string | null;
  /** Write exe as a regular file: readlink fails with EINVAL, standing in for an unreadable link. */
  readonly exeNotALink?: boolean;
  /** cgroup file content; default "0::/\n". */
  readonly cgroup?: string;
  /** Target of the cwd link (a runtime shim's bundle directory); default none. */
  readonly cwd?: string;
  /** Network namespace inode (its net/tcp{,6} hold that namespace's tables). Default `defaultNetns`. */
  readonly netns?: number;
  /** false writes no ns/net link, as a non-root reader sees another user's process. Default true. */
  readonly nsLinkReadable?: boolean;
  /** fd number -> link target, e.g. { 3: "socket:[88814]", 0: "/dev/null" }. */
  readonly fds?: Readonly<Record<number, string>>;
}

export interface SocketTables {
  readonly tcp?: readonly string[];
  readonly tcp6?: readonly string[];
}

export class FakeProcfs {
  readonly procRoot: string;
  readonly etcRoot: string;
  private readonly namespaceOfPid = new Map<number, number>();
  private readonly tablesByNamespace = new Map<number, SocketTables>();

  private constructor(readonly root: string) {
    this.procRoot = join(root, "proc");
    this.etcRoot = join(root, "etc");
  }

  static async create(options: { bootTimeSeconds?: number; passwd?: string } = {}): Promise<FakeProcfs> {
    const fake = new FakeProcfs(makeTempDir("fake-procfs-"));
    await mkdir(fake.procRoot);
    await mkdir(fake.etcRoot);
    await writeFile(
      join(fake.procRoot, "stat"),
      "cpu  10 0 20 3000 0 0 0 0 0 0\ncpu0 10 0 20 3000 0 0 0 0 0 0\nintr 12345 0 0\nctxt 99999\n" +
        `btime ${options.bootTimeSeconds ?? 1_700_000_000}\nprocesses 5000\nprocs_running 1\nprocs_blocked 0\n`,
    );
    await fake.writePasswd(
      options.passwd ??
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
          "ssm-user:x:1001:1001::/home/ssm-user:/bin/sh\nec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/bash\n",
    );
    return fake;
  }

  async writePasswd(text: string): Promise<void> {
    await writeFile(join(this.etcRoot, "passwd"), text);
  }

  async addProcess(process: FakeProcess): Promise<void> {
    const { pid } = process;
    const comm = process.comm ?? `proc${pid}`;
    const dir = join(this.procRoot, String(pid));
    await mkdir(join(dir, "fd"), { recursive: true });
    await mkdir(join(dir, "ns"));
    await mkdir(join(dir, "net"));
    await writeFile(join(dir, "stat"), statLine(pid, comm, process.state ?? "S", process.ppid ?? 1, process.startTimeTicks ?? 1000 + pid));
    await writeFile(join(dir, "status"), statusText(pid, comm, process.ppid ?? 1, process.realUid ?? process.uid ?? 0, process.uid ?? 0));
    const argv = process.cmdline ?? [comm];
    await writeFile(join(dir, "cmdline"), process.cmdlineRaw ?? argv.map((arg) => `${arg}\0`).join(""));
    if (process.exeNotALink === true) await writeFile(join(dir, "exe"), "");
    else if (process.exe !== null) await symlink(process.exe ?? `/usr/bin/${comm}`, join(dir, "exe"));
    await writeFile(join(dir, "cgroup"), process.cgroup ?? "0::/\n");
    await writeFile(join(dir, "comm"), `${comm}\n`);
    if (process.cwd !== undefined) await symlink(process.cwd, join(dir, "cwd"));
    const netns = process.netns ?? defaultNetns;
    if (process.nsLinkReadable !== false) await symlink(`net:[${netns}]`, join(dir, "ns", "net"));
    for (const [fd, target] of Object.entries(process.fds ?? {})) await symlink(target, join(dir, "fd", fd));
    this.namespaceOfPid.set(pid, netns);
    await this.writeTables(pid, this.tablesByNamespace.get(netns) ?? {});
  }

  async removeProcess(pid: number): Promise<void> {
    await rm(join(this.procRoot, String(pid)), { recursive: true, force: true });
    this.namespaceOfPid.delete(pid);
  }

  /** Adds an fd link to a process that already exists. */
  async addFd(pid: number, fd: number, target: string): Promise<void> {
    await symlink(target, join(this.procRoot, String(pid), "fd", String(fd)));
  }

  /** Sets a namespace's tcp/tcp6 table lines (without headers) for its processes, now and later. */
  async setSocketTables(netns: number, tables: SocketTables): Promise<void> {
    this.tablesByNamespace.set(netns, tables);
    for (const [pid, namespace] of this.namespaceOfPid) {
      if (namespace === netns) await this.writeTables(pid, tables);
    }
  }

  /** Makes <root>/self point at a pid and <root>/net at self/net, as in the real procfs. */
  /** A tree holding pid 1 ("systemd", start tick 2) with /proc/self pointing at it, as Attributor tests start. */
  static async withInit(options: { bootTimeSeconds?: number; passwd?: string } = {}): Promise<FakeProcfs> {
    const fake = await FakeProcfs.create(options);
    await fake.addProcess({ pid: 1, ppid: 0, comm: "systemd", startTimeTicks: 2 });
    await fake.setSelf(1);
    return fake;
  }

  async setSelf(pid: number): Promise<void> {
    await rm(join(this.procRoot, "self"), { force: true });
    await rm(join(this.procRoot, "net"), { force: true });
    await symlink(String(pid), join(this.procRoot, "self"));
    await symlink("self/net", join(this.procRoot, "net"));
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  private async writeTables(pid: number, tables: SocketTables): Promise<void> {
    const netDir = join(this.procRoot, String(pid), "net");
    await writeFile(join(netDir, "tcp"), [tcpTableHeader, ...(tables.tcp ?? [])].map((line) => `${line}\n`).join(""));
    await writeFile(join(netDir, "tcp6"), [tcp6TableHeader, ...(tables.tcp6 ?? [])].map((line) => `${line}\n`).join(""));
  }
}

/** /proc/PID/stat as the kernel writes it (fs/proc/array.c), with starttime as field 22. */
export function statLine(pid: number, comm: string, state: string, ppid: number, startTimeTicks: number): string {
  const afterComm = [
    state, ppid, pid, pid, 0, -1, 4194560, 1200, 0, 3, 0, 12, 5, 0, 0, 20, 0, 1, 0, startTimeTicks,
    12_345_678, 2345, "18446744073709551615", 94_000_000, 94_100_000, 140_000_000, 0, 0, 0, 0, 0, 0, 0, 17, 1, 0, 0, 0, 0, 0,
    94_200_000, 94_300_000, 95_000_000, 140_000_100, 140_000_200, 140_000_200, 140_000_300, 0,
  ];
  return `${pid} (${comm}) ${afterComm.join(" ")}\n`;
}

function statusText(pid: number, comm: string, ppid: number, realUid: number, effectiveUid: number): string {
  return [
    `Name:\t${comm}`, "Umask:\t0022", "State:\tS (sleeping)", `Tgid:\t${pid}`, "Ngid:\t0", `Pid:\t${pid}`, `PPid:\t${ppid}`,
    "TracerPid:\t0", `Uid:\t${realUid}\t${effectiveUid}\t${effectiveUid}\t${effectiveUid}`, "Gid:\t0\t0\t0\t0", "FDSize:\t64",
    "Groups:\t", "VmRSS:\t    1234 kB", "Threads:\t1", "",
  ].join("\n");
}

/**
 * One /proc/net/tcp{,6} line in the kernel's layout (net/ipv4/tcp_ipv4.c get_tcp4_sock).
 * `local` and `remote` are kernel hex "ADDR:PORT"; `state` is hex ("01" ESTABLISHED, "06"
 * TIME_WAIT, "0A" LISTEN).
 */
export function tcpLine(slot: number, local: string, remote: string, state: string, inode: number, uid = 0): string {
  return `${String(slot).padStart(4)}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1`;
}
