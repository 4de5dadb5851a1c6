/*
 * Offsets the argv capture needs (task_struct.mm, mm_struct.arg_start, mm_struct.arg_end),
 * found in the kernel's own BTF (/sys/kernel/btf/vmlinux) so no headers are needed and
 * randomized struct layouts are handled. Members inside anonymous structs/unions are found
 * (mm_struct keeps everything in one since Linux 5.x).
 */
#ifndef IMDS_EBPF_BTF_OFFSETS_H
#define IMDS_EBPF_BTF_OFFSETS_H

#include <stddef.h>

#include "error.h"

#define VMLINUX_BTF_PATH "/sys/kernel/btf/vmlinux"

struct argv_offsets {
  int task_mm;      /* byte offset of task_struct.mm (a pointer) */
  int mm_arg_start; /* byte offset of mm_struct.arg_start (unsigned long) */
  int mm_arg_end;   /* byte offset of mm_struct.arg_end (unsigned long) */
};

/* Parses BTF bytes (a whole vmlinux BTF blob). */
int btf_argv_offsets_from_bytes(const unsigned char *data, size_t size, struct argv_offsets *out,
                                struct ebpf_error *err);
/* Reads and parses `path` (normally VMLINUX_BTF_PATH). */
int btf_argv_offsets(const char *path, struct argv_offsets *out, struct ebpf_error *err);

#endif
