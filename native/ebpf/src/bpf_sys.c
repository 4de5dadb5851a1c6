#include "bpf_sys.h"

#include <linux/perf_event.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

static void copy_name(char *dst, const char *name) {
  /* BPF_OBJ_NAME_LEN includes the NUL; allowed characters are [A-Za-z0-9_.]. */
  strncpy(dst, name, BPF_OBJ_NAME_LEN - 1);
}

int bpf_map_create(enum bpf_map_type type, unsigned key_size, unsigned value_size, unsigned max_entries,
                   unsigned flags, const char *name) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = type;
  attr.key_size = key_size;
  attr.value_size = value_size;
  attr.max_entries = max_entries;
  attr.map_flags = flags;
  copy_name(attr.map_name, name);
  return (int)sys_bpf(BPF_MAP_CREATE, &attr);
}

int bpf_prog_load_tracepoint(const struct bpf_insn *insns, unsigned count, const char *name, char *log_buf,
                             unsigned log_size) {
  static const char license[] = "GPL"; /* bpf_probe_read_* and friends are GPL-only helpers */
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = count;
  attr.license = (uint64_t)(uintptr_t)license;
  if (log_buf != NULL && log_size > 0) {
    log_buf[0] = '\0';
    attr.log_buf = (uint64_t)(uintptr_t)log_buf;
    attr.log_size = log_size;
    attr.log_level = 1;
  }
  copy_name(attr.prog_name, name);
  return (int)sys_bpf(BPF_PROG_LOAD, &attr);
}

int bpf_map_lookup(int map_fd, const void *key, void *value) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_fd = (uint32_t)map_fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.value = (uint64_t)(uintptr_t)value;
  return (int)sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr);
}

int bpf_map_next_key(int map_fd, const void *key, void *next_key) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_fd = (uint32_t)map_fd;
  attr.key = (uint64_t)(uintptr_t)key;
  attr.next_key = (uint64_t)(uintptr_t)next_key;
  return (int)sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr);
}

int perf_tracepoint_open(int tracepoint_id, int cpu) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof attr;
  attr.config = (uint64_t)tracepoint_id;
  attr.sample_period = 1;
  attr.wakeup_events = 1;
  return (int)syscall(__NR_perf_event_open, &attr, -1 /* every process */, cpu, -1 /* no group */,
                      PERF_FLAG_FD_CLOEXEC);
}
