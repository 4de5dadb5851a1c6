/*
 * Kernel struct offsets the program needs, found in the kernel's own BTF
 * (/sys/kernel/btf/vmlinux) so no headers are needed and randomized struct layouts are handled.
 * Members inside anonymous structs/unions are found (mm_struct keeps everything in one since
 * Linux 5.x), and embedded structs are followed (file.f_path.dentry, dentry.d_name.name).
 *
 * Two independent features, each with its own failure reason so one can run without the other:
 *   argv:     task_struct.mm, mm_struct.arg_start, mm_struct.arg_end
 *   identity: four fields, each found (or not) on its own -
 *     parent pid   task_struct.group_leader, .real_parent, .tgid
 *     parent comm  task_struct.group_leader, .real_parent, .comm
 *     start time   task_struct.group_leader, .start_boottime (what /proc/PID/stat field 22 is
 *                  made from since Linux 5.5: nsec_to_clock_t(leader->start_boottime))
 *     exe name     task_struct.mm, mm_struct.exe_file, file.f_path.dentry, dentry.d_name.name
 */
#ifndef IMDS_EBPF_BTF_OFFSETS_H
#define IMDS_EBPF_BTF_OFFSETS_H

#include <stddef.h>

#include "error.h"

#define VMLINUX_BTF_PATH "/sys/kernel/btf/vmlinux"
/* Room for one "unavailable because ..." reason per identity field. */
#define BTF_REASON_SIZE 256

/* A parsed BTF blob (opaque). */
struct btf_types;

/* Parses BTF bytes (a whole vmlinux BTF blob); the bytes are copied. */
int btf_types_from_bytes(const unsigned char *data, size_t size, struct btf_types **out, struct ebpf_error *err);
/* Reads and parses `path` (normally VMLINUX_BTF_PATH). */
int btf_types_load(const char *path, struct btf_types **out, struct ebpf_error *err);
void btf_types_free(struct btf_types *types);

struct argv_offsets {
  int task_mm;      /* byte offset of task_struct.mm (a pointer) */
  int mm_arg_start; /* byte offset of mm_struct.arg_start (unsigned long) */
  int mm_arg_end;   /* byte offset of mm_struct.arg_end (unsigned long) */
};

int btf_argv_offsets(const struct btf_types *types, struct argv_offsets *out, struct ebpf_error *err);

/* The identity fields the program can read, each usable on its own. */
enum identity_field {
  IDENTITY_PARENT_PID = 0,
  IDENTITY_PARENT_COMM = 1,
  IDENTITY_START_TIME = 2,
  IDENTITY_EXE_NAME = 3,
  IDENTITY_FIELD_COUNT = 4,
};

struct identity_offsets {
  int task_group_leader;   /* task_struct.group_leader (pointer) */
  int task_real_parent;    /* task_struct.real_parent (pointer) */
  int task_tgid;           /* task_struct.tgid (32-bit pid_t) */
  int task_comm;           /* task_struct.comm (char[>= 16]) */
  int task_start_boottime; /* task_struct.start_boottime (u64 ns since boot, suspend included) */
  int task_mm;             /* task_struct.mm (pointer) */
  int mm_exe_file;         /* mm_struct.exe_file (pointer) */
  int file_dentry;         /* file.f_path.dentry (pointer; f_path is embedded) */
  int dentry_name;         /* dentry.d_name.name (pointer; d_name is an embedded qstr) */
  /* 1 when every offset the field needs was found; otherwise reasons[field] says why not. */
  int available[IDENTITY_FIELD_COUNT];
  char reasons[IDENTITY_FIELD_COUNT][BTF_REASON_SIZE];
};

/* Fills what it can; never fails as a whole (see `available`). */
void btf_identity_offsets(const struct btf_types *types, struct identity_offsets *out);

#endif
