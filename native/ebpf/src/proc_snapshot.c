#include "proc_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* /proc/PID/cgroup: one line per hierarchy; the "0::" line is last on hybrid hosts (~13 lines). */
#define CGROUP_FILE_BYTES 4096
/* /proc/PID/stat up to field 22: comm (<= 64 bytes) and 20 numbers fit easily. */
#define STAT_FILE_BYTES 1024
#define STAT_START_TIME_FIELD 22
#define NS_PER_SECOND 1000000000ull
#define DELETED_SUFFIX " (deleted)"

/* Counters are bumped on the consumer thread and read on the JavaScript thread. */
#define COUNT(counter) __atomic_fetch_add(&(counter), 1, __ATOMIC_RELAXED)

void proc_snapshot_init(struct proc_snapshot *s, const char *proc_root) {
  memset(s, 0, sizeof *s);
  s->proc_root = proc_root;
  long ticks = sysconf(_SC_CLK_TCK);
  s->clock_ticks_per_second = ticks > 0 ? (unsigned long long)ticks : 100;
}

unsigned long long proc_snapshot_ticks(const struct proc_snapshot *s, unsigned long long ns) {
  unsigned long long ticks = s->clock_ticks_per_second;
  /* USER_HZ divides 10^9 on every Linux architecture: then this is exactly the kernel's division. */
  if (NS_PER_SECOND % ticks == 0) return ns / (NS_PER_SECOND / ticks);
  /* Otherwise floor(ns * ticks / 10^9) without overflowing 64 bits, split at whole seconds
   * (no 128-bit division: that would need libgcc's __udivti3, see native/common/portable.h). */
  return ns / NS_PER_SECOND * ticks + ns % NS_PER_SECOND * ticks / NS_PER_SECOND;
}

/* Reads at most size - 1 bytes of a small file (one read: procfs hands these out whole) and NUL-terminates. */
static ssize_t read_small_file(const char *path, char *buffer, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = read(fd, buffer, size - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0) return -1;
  buffer[n] = '\0';
  return n;
}

/* Field 22 of a stat line, or -1. Fields count from 1; comm (field 2) may hold spaces and ')'. */
static long long stat_start_ticks(const char *text) {
  const char *after_comm = strrchr(text, ')');
  if (after_comm == NULL) return -1;
  const char *p = after_comm + 1;
  for (int field = 3; field <= STAT_START_TIME_FIELD; field++) {
    while (*p == ' ') p++;
    if (*p == '\0') return -1;
    if (field == STAT_START_TIME_FIELD) {
      char *end = NULL;
      errno = 0;
      unsigned long long value = strtoull(p, &end, 10);
      if (end == p || errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0') || value > INT64_MAX) return -1;
      return (long long)value;
    }
    while (*p != ' ' && *p != '\0') p++;
  }
  return -1;
}

/* The "0::PATH" line's PATH into out (length returned), 0 when absent, -1 when too long. */
static int cgroup_v2_path(const char *text, char *out, size_t size) {
  const char *line = text;
  while (*line != '\0') {
    const char *end = strchr(line, '\n');
    size_t length = end == NULL ? strlen(line) : (size_t)(end - line);
    if (length >= 3 && memcmp(line, "0::", 3) == 0) {
      size_t path_length = length - 3;
      if (path_length == 0) return 0;
      if (path_length >= size) return -1;
      memcpy(out, line + 3, path_length);
      return (int)path_length;
    }
    if (end == NULL) break;
    line = end + 1;
  }
  return 0;
}

/* Whether the last component of path (without " (deleted)") is `name`, or starts with it when the
 * kernel's copy was cut to RECORD_EXE_NAME_SIZE - 1 bytes. */
static int exe_name_matches(const char *path, size_t path_length, const char *name) {
  size_t suffix = strlen(DELETED_SUFFIX);
  if (path_length > suffix && memcmp(path + path_length - suffix, DELETED_SUFFIX, suffix) == 0) path_length -= suffix;
  const char *base = path;
  for (size_t i = 0; i < path_length; i++) {
    if (path[i] == '/') base = path + i + 1;
  }
  size_t base_length = path_length - (size_t)(base - path);
  size_t name_length = strnlen(name, RECORD_EXE_NAME_SIZE);
  if (name_length >= RECORD_EXE_NAME_SIZE - 1) return base_length >= name_length && memcmp(base, name, name_length) == 0;
  return base_length == name_length && memcmp(base, name, name_length) == 0;
}

/* PROC_ROOT/PID/NAME into path; 0 when it does not fit. */
static int proc_path(char *path, size_t size, const char *proc_root, unsigned pid, const char *name) {
  int length = snprintf(path, size, "%s/%u/%s", proc_root, pid, name);
  return length > 0 && (size_t)length < size;
}

static void put_u16(unsigned char *at, uint16_t value) { memcpy(at, &value, sizeof value); }

void proc_snapshot_fill(struct proc_snapshot *s, unsigned char *record) {
  memset(record + RECORD_SIZE, 0, DELIVERED_RECORD_SIZE - RECORD_SIZE);
  uint64_t pid_tgid, start_ns;
  memcpy(&pid_tgid, record + RECORD_PID_TGID, sizeof pid_tgid);
  memcpy(&start_ns, record + RECORD_START_BOOTTIME_NS, sizeof start_ns);
  unsigned pid = (unsigned)(pid_tgid >> 32);
  int have_start = record[RECORD_START_STATUS] == IDENTITY_STATUS_OK;
  unsigned long long kernel_ticks = have_start ? proc_snapshot_ticks(s, start_ns) : 0;
  memcpy(record + DELIVERED_START_TIME_TICKS, &kernel_ticks, sizeof kernel_ticks);

  char path[PATH_MAX];
  char *exe = (char *)record + DELIVERED_EXE_PATH;
  ssize_t exe_length = proc_path(path, sizeof path, s->proc_root, pid, "exe") ? readlink(path, exe, DELIVERED_PATH_SIZE) : -1;
  if (exe_length >= DELIVERED_PATH_SIZE) COUNT(s->counters.too_long);
  if (exe_length < 0 || exe_length >= DELIVERED_PATH_SIZE) exe_length = 0;

  char text[CGROUP_FILE_BYTES];
  int cgroup_length = 0;
  if (proc_path(path, sizeof path, s->proc_root, pid, "cgroup") && read_small_file(path, text, sizeof text) > 0) {
    cgroup_length = cgroup_v2_path(text, (char *)record + DELIVERED_CGROUP_PATH, DELIVERED_PATH_SIZE);
    if (cgroup_length < 0) {
      COUNT(s->counters.too_long);
      cgroup_length = 0;
    }
  }

  /* Last: it vouches for the reads above (see the header). */
  char stat[STAT_FILE_BYTES];
  int stat_read = proc_path(path, sizeof path, s->proc_root, pid, "stat") && read_small_file(path, stat, sizeof stat) > 0;
  long long proc_ticks = stat_read ? stat_start_ticks(stat) : -1;
  int status;
  if (proc_ticks < 0) {
    status = PROC_SNAPSHOT_EXITED;
    COUNT(s->counters.exited);
  } else if (!have_start) {
    status = PROC_SNAPSHOT_UNVERIFIED;
    COUNT(s->counters.unverified);
  } else if ((unsigned long long)proc_ticks != kernel_ticks) {
    status = PROC_SNAPSHOT_PID_REUSED;
    COUNT(s->counters.pid_reused);
  } else {
    status = PROC_SNAPSHOT_CONFIRMED;
    COUNT(s->counters.confirmed);
  }
  if (status == PROC_SNAPSHOT_EXITED || status == PROC_SNAPSHOT_PID_REUSED) {
    exe_length = 0;
    cgroup_length = 0;
  }
  if (exe_length > 0 && record[RECORD_EXE_NAME_STATUS] == IDENTITY_STATUS_OK &&
      !exe_name_matches(exe, (size_t)exe_length, (const char *)record + RECORD_EXE_NAME)) {
    COUNT(s->counters.exe_mismatch);
    exe_length = 0;
  }
  /* Never hand over bytes that are not part of a kept path. */
  memset(exe + exe_length, 0, DELIVERED_PATH_SIZE - (size_t)exe_length);
  memset(record + DELIVERED_CGROUP_PATH + cgroup_length, 0, DELIVERED_PATH_SIZE - (size_t)cgroup_length);
  record[DELIVERED_PROC_STATUS] = (unsigned char)status;
  put_u16(record + DELIVERED_EXE_PATH_LENGTH, (uint16_t)exe_length);
  put_u16(record + DELIVERED_CGROUP_PATH_LENGTH, (uint16_t)cgroup_length);
}

void proc_snapshot_read_counters(const struct proc_snapshot *s, struct proc_snapshot_counters *out) {
  out->confirmed = __atomic_load_n(&s->counters.confirmed, __ATOMIC_RELAXED);
  out->unverified = __atomic_load_n(&s->counters.unverified, __ATOMIC_RELAXED);
  out->exited = __atomic_load_n(&s->counters.exited, __ATOMIC_RELAXED);
  out->pid_reused = __atomic_load_n(&s->counters.pid_reused, __ATOMIC_RELAXED);
  out->exe_mismatch = __atomic_load_n(&s->counters.exe_mismatch, __ATOMIC_RELAXED);
  out->too_long = __atomic_load_n(&s->counters.too_long, __ATOMIC_RELAXED);
}
