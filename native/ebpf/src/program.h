/*
 * The eBPF program, hand-assembled: it runs on every sock:inet_sock_set_state event and lets
 * only TCP connects to IMDS (169.254.169.254:80, [fd00:ec2::254]:80) leave the kernel.
 *
 *   CLOSE -> SYN_SENT      (in the connecting task: pid, uid, comm, cgroup, argv, parent,
 *                           start time, exe name are its own)
 *       record the task in the pending map, keyed by the socket address (skaddr);
 *       when the map is full, emit a "connecting" record at once (client port still 0).
 *   SYN_SENT/SYN_RECV -> ESTABLISHED | CLOSE   (softirq: the current task means nothing here)
 *       look the socket up, complete the record with the final 4-tuple, emit it to the ring
 *       buffer as "established" or "failed", delete the entry.
 *   SYN_SENT -> SYN_RECV   (simultaneous open) keeps the entry for the next transition.
 */
#ifndef IMDS_EBPF_PROGRAM_H
#define IMDS_EBPF_PROGRAM_H

#include "bpf_asm.h"
#include "btf_offsets.h"
#include "tracepoint_format.h"

struct program_params {
  struct tp_format format;
  int pending_map_fd;
  int ring_map_fd;
  int counters_map_fd;
  int argv_capture; /* read argv in the kernel (needs `argv`) */
  struct argv_offsets argv;
  /* Read the identity fields whose identity.available[field] is 1 (0: none of them). */
  int identity_capture;
  struct identity_offsets identity;
};

/* Assembles the program into `a`; returns NULL or an error. */
const char *program_build(struct bpf_asm *a, const struct program_params *params);

#endif
