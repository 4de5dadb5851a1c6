/*
 * What /proc says about a record's process, read synchronously the moment the record leaves the
 * ring buffer (before JavaScript runs): a one-shot curl exits ~1 ms after its handshake, too soon
 * for asynchronous reads, but these take microseconds. Fills the DELIVERED_* part of a record.
 *
 *   /proc/PID/exe     readlink: the full path of the executable
 *   /proc/PID/cgroup  the cgroup v2 ("0::") path
 *   /proc/PID/stat    field 22 (start time), read LAST: if it equals the kernel's start time, the
 *                     process held the pid during the two reads above, so they describe it; if it
 *                     differs (pid reused) or stat is gone (exited), both paths are dropped.
 * An exe path whose file name differs from the kernel's exe name (the process exec'd something
 * else since it connected) is dropped too. Paths longer than DELIVERED_PATH_SIZE are dropped,
 * never cut short. Assumes the reader shares the kernel's view of pids (the initial pid namespace)
 * and boot time (no time namespace offset); otherwise records come out "pid-reused" without paths.
 */
#ifndef IMDS_EBPF_PROC_SNAPSHOT_H
#define IMDS_EBPF_PROC_SNAPSHOT_H

struct proc_snapshot_counters {
  unsigned long long confirmed;   /* PROC_SNAPSHOT_CONFIRMED */
  unsigned long long unverified;  /* PROC_SNAPSHOT_UNVERIFIED */
  unsigned long long exited;      /* PROC_SNAPSHOT_EXITED */
  unsigned long long pid_reused;  /* PROC_SNAPSHOT_PID_REUSED */
  unsigned long long exe_mismatch; /* exe path dropped: its name differs from the kernel's */
  unsigned long long too_long;    /* a path dropped for not fitting DELIVERED_PATH_SIZE */
};

struct proc_snapshot {
  const char *proc_root;      /* "/proc" */
  unsigned long long clock_ticks_per_second; /* sysconf(_SC_CLK_TCK), USER_HZ */
  struct proc_snapshot_counters counters;
};

void proc_snapshot_init(struct proc_snapshot *s, const char *proc_root);
/* Kernel start_boottime (ns) -> /proc/PID/stat field 22 units, as the kernel's nsec_to_clock_t. */
unsigned long long proc_snapshot_ticks(const struct proc_snapshot *s, unsigned long long ns);
/* `record` holds DELIVERED_RECORD_SIZE bytes whose first RECORD_SIZE are the kernel's record. */
void proc_snapshot_fill(struct proc_snapshot *s, unsigned char *record);
/* A consistent-enough copy of the counters from another thread (each one read atomically). */
void proc_snapshot_read_counters(const struct proc_snapshot *s, struct proc_snapshot_counters *out);

#endif
