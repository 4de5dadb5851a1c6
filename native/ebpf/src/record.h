/*
 * The connect record: the value of the pending-connects hash map (filled at CLOSE -> SYN_SENT)
 * and, byte for byte, the sample the program writes to the ring buffer when the connect ends;
 * then the delivered record: that sample plus what the consumer read from /proc (DELIVERED_*).
 * src/attribution/ebpf-record.ts decodes the delivered layout; the addon exports these numbers and
 * the TypeScript side refuses to run when they differ from its own.
 * All integers are in host byte order except the address bytes (network order, as on the wire).
 */
#ifndef IMDS_EBPF_RECORD_H
#define IMDS_EBPF_RECORD_H

#define RECORD_CONNECT_TIME_NS 0 /* u64 bpf_ktime_get_ns() at CLOSE -> SYN_SENT */
#define RECORD_PID_TGID 8        /* u64 tgid << 32 | pid (thread id) */
#define RECORD_UID_GID 16        /* u64 gid << 32 | uid */
#define RECORD_CGROUP_ID 24      /* u64 cgroup v2 id of the connecting task */
#define RECORD_END_TIME_NS 32    /* u64 bpf_ktime_get_ns() when the record was emitted */
#define RECORD_COMM 40           /* char[16] thread name, NUL-padded */
#define RECORD_COMM_SIZE 16
#define RECORD_FAMILY 56         /* u16 AF_INET / AF_INET6 (the socket's family) */
#define RECORD_SPORT 58          /* u16 client port (0 in "connecting" records) */
#define RECORD_DPORT 60          /* u16 server port */
#define RECORD_OUTCOME 62        /* u8 RECORD_OUTCOME_* */
#define RECORD_ARGV_STATUS 63    /* u8 ARGV_STATUS_* */
#define RECORD_SADDR 64          /* u8[4] IPv4 source (also set for v4-mapped IPv6 sockets) */
#define RECORD_DADDR 68          /* u8[4] IPv4 destination */
#define RECORD_SADDR_V6 72       /* u8[16] IPv6 source (v4-mapped for AF_INET sockets) */
#define RECORD_DADDR_V6 88       /* u8[16] IPv6 destination */
#define RECORD_ARGV_LENGTH 104   /* u32 bytes of argv captured */
#define RECORD_RESERVED 108      /* u32 zero */
#define RECORD_ARGV 112          /* char[RECORD_ARGV_SIZE] NUL-separated argv, zero-filled after */
#define RECORD_ARGV_SIZE 256
/* Process identity, read in the kernel at connect time (IDENTITY_STATUS_* says which are valid). */
#define RECORD_START_BOOTTIME_NS 368 /* u64 group leader's start_boottime (stat field 22 in ns) */
#define RECORD_PARENT_TGID 376       /* u32 real_parent->tgid of the group leader */
#define RECORD_PARENT_STATUS 380     /* u8 IDENTITY_STATUS_* of RECORD_PARENT_TGID */
#define RECORD_PARENT_COMM_STATUS 381 /* u8 IDENTITY_STATUS_* of RECORD_PARENT_COMM */
#define RECORD_START_STATUS 382      /* u8 IDENTITY_STATUS_* of RECORD_START_BOOTTIME_NS */
#define RECORD_EXE_NAME_STATUS 383   /* u8 IDENTITY_STATUS_* of RECORD_EXE_NAME */
#define RECORD_PARENT_COMM 384       /* char[16] the parent thread's comm, NUL-terminated */
#define RECORD_PARENT_COMM_SIZE 16
#define RECORD_EXE_NAME 400          /* char[RECORD_EXE_NAME_SIZE] mm->exe_file basename, NUL-terminated */
#define RECORD_EXE_NAME_SIZE 64      /* longer names keep their first 63 bytes */
#define RECORD_SIZE 464

/*
 * What the consumer (tracer.c) hands to JavaScript: the kernel record followed by what it read
 * from /proc the moment the record left the ring buffer (often before a one-shot client exits).
 */
#define DELIVERED_START_TIME_TICKS 464 /* u64 RECORD_START_BOOTTIME_NS in clock ticks (stat units) */
#define DELIVERED_PROC_STATUS 472      /* u8 PROC_SNAPSHOT_* */
#define DELIVERED_EXE_PATH_LENGTH 474  /* u16 bytes in DELIVERED_EXE_PATH, 0: none */
#define DELIVERED_CGROUP_PATH_LENGTH 476 /* u16 bytes in DELIVERED_CGROUP_PATH, 0: none */
#define DELIVERED_EXE_PATH 480         /* char[DELIVERED_PATH_SIZE] readlink /proc/PID/exe */
#define DELIVERED_CGROUP_PATH 992      /* char[DELIVERED_PATH_SIZE] the "0::" line of /proc/PID/cgroup */
#define DELIVERED_PATH_SIZE 512        /* longer paths are dropped (length 0), never cut short */
#define DELIVERED_RECORD_SIZE 1504

/* Why the record was emitted. */
#define RECORD_OUTCOME_ESTABLISHED 1 /* SYN_SENT -> ESTABLISHED */
#define RECORD_OUTCOME_FAILED 2      /* SYN_SENT -> CLOSE: refused, timed out, unreachable */
#define RECORD_OUTCOME_CONNECTING 3  /* emitted at SYN_SENT: the pending map was full */

/* What became of the argv capture. */
#define ARGV_STATUS_DISABLED 0  /* the program was loaded without argv capture */
#define ARGV_STATUS_OK 1
#define ARGV_STATUS_TRUNCATED 2 /* longer than RECORD_ARGV_SIZE: the first bytes are kept */
#define ARGV_STATUS_FAILED 3    /* a kernel or user memory read failed */
#define ARGV_STATUS_NO_MM 4     /* a kernel thread: no user memory */

/* What became of one identity field. */
#define IDENTITY_STATUS_DISABLED 0 /* loaded without it (no BTF offset, or the verifier said no) */
#define IDENTITY_STATUS_OK 1
#define IDENTITY_STATUS_FAILED 2   /* a kernel memory read failed or a pointer was NULL */

/* What the consumer's /proc reads found (DELIVERED_PROC_STATUS). */
#define PROC_SNAPSHOT_CONFIRMED 1 /* stat's start time equals the kernel's: paths are this process's */
#define PROC_SNAPSHOT_UNVERIFIED 2 /* no kernel start time to compare with: paths kept, unconfirmed */
#define PROC_SNAPSHOT_EXITED 3    /* /proc/PID/stat unreadable: the process was gone; no paths */
#define PROC_SNAPSHOT_PID_REUSED 4 /* stat's start time differs: another process; no paths */

/* Counters: one u64 each in an array map, added to atomically by the program. */
#define COUNTER_TRACKED 0      /* CLOSE -> SYN_SENT to IMDS stored in the pending map */
#define COUNTER_ESTABLISHED 1  /* SYN_SENT -> ESTABLISHED found in the pending map */
#define COUNTER_FAILED 2       /* SYN_SENT -> CLOSE found in the pending map */
#define COUNTER_MAP_FULL 3     /* the pending map refused an entry ("connecting" record sent) */
#define COUNTER_RING_LOST 4    /* bpf_ringbuf_output failed: the ring buffer was full */
#define COUNTER_UNMATCHED 5    /* SYN_SENT -> * to IMDS with no pending entry (began before open) */
#define COUNTER_ARGV_FAILED 6  /* argv capture was on but the reads failed */
#define COUNTER_EMITTED 7      /* records written to the ring buffer */
#define COUNTER_IDENTITY_FAILED 8 /* identity field reads that failed (one per field) */
#define COUNTER_COUNT 9

#endif
