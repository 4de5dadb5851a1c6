/*
 * Raw bpf(2) and perf_event_open(2) calls (no libbpf). Each returns what the system call
 * returns (-1 with errno on failure).
 */
#ifndef IMDS_EBPF_BPF_SYS_H
#define IMDS_EBPF_BPF_SYS_H

#include <linux/bpf.h>
#include <stddef.h>

int bpf_map_create(enum bpf_map_type type, unsigned key_size, unsigned value_size, unsigned max_entries,
                   unsigned flags, const char *name);
/* Loads a tracepoint program; log_buf may be NULL (log_size 0) for a quiet first attempt. */
int bpf_prog_load_tracepoint(const struct bpf_insn *insns, unsigned count, const char *name, char *log_buf,
                             unsigned log_size);
int bpf_map_lookup(int map_fd, const void *key, void *value);
/* Next key after `key` (NULL: the first key); -1 with ENOENT at the end. */
int bpf_map_next_key(int map_fd, const void *key, void *next_key);
/* A perf event for tracepoint `id`, all processes, on `cpu`. */
int perf_tracepoint_open(int tracepoint_id, int cpu);

#endif
