/*
 * dropCapabilities(keep: string[]): after live capture is set up (the pcap handle and the eBPF
 * program and ring buffer are open: reading their fds needs no capability), the process keeps
 * only the capabilities named in `keep`, on EVERY thread:
 *   - ambient set cleared, bounding set reduced to `keep` (PR_CAPBSET_DROP, needs CAP_SETPCAP,
 *     so it runs before capset), PR_SET_NO_NEW_PRIVS (no setuid/file-capability gain by exec);
 *   - capset: effective = permitted = (permitted & keep), inheritable = 0.
 * No libcap: raw capget/capset with <linux/capability.h> (linux-libc-dev).
 *
 * Why every thread: Linux credentials are per thread, and capset/prctl change only the caller.
 * Node runs several threads (libuv's pool, V8's workers, the inspector's signal thread, the eBPF
 * addon's consumer thread), some of which block every signal they can. Like glibc's own
 * setuid() broadcast, each thread is made to run the drop itself from a signal handler. The
 * signal used is glibc's internal SIGSETXID (33): glibc strips it from every mask set through
 * sigprocmask/pthread_sigmask, so every thread can receive it. Its handler is swapped with raw
 * rt_sigaction for the duration only; ours runs the drop only for a signal queued by this call
 * (SI_QUEUE with our magic value, from our pid) and passes anything else to glibc's handler,
 * which in turn ignores a late one of ours (it acts only on SI_TKILL). Afterwards
 * /proc/self/task/N/status of every thread is read back to count the threads that still hold
 * more than `keep`.
 */
#include "capabilities.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

#define MAX_CAPABILITY 63
#define MAX_KEEP_NAMES 64
#define MAX_NAME_BYTES 64
/* glibc's SIGSETXID (__SIGRTMIN + 1); see the file comment. */
#define BROADCAST_SIGNAL 33
#define BROADCAST_MAGIC 0x494d4453 /* "IMDS" */
#define BROADCAST_ROUNDS 4
#define BROADCAST_WAIT_MS 2000
#define STATUS_BYTES 4096

typedef struct {
  const char *name;
  int number;
} capability_name;

static const capability_name capability_names[] = {
    {"CAP_CHOWN", 0}, {"CAP_DAC_OVERRIDE", 1}, {"CAP_DAC_READ_SEARCH", 2}, {"CAP_FOWNER", 3},
    {"CAP_FSETID", 4}, {"CAP_KILL", 5}, {"CAP_SETGID", 6}, {"CAP_SETUID", 7},
    {"CAP_SETPCAP", 8}, {"CAP_LINUX_IMMUTABLE", 9}, {"CAP_NET_BIND_SERVICE", 10}, {"CAP_NET_BROADCAST", 11},
    {"CAP_NET_ADMIN", 12}, {"CAP_NET_RAW", 13}, {"CAP_IPC_LOCK", 14}, {"CAP_IPC_OWNER", 15},
    {"CAP_SYS_MODULE", 16}, {"CAP_SYS_RAWIO", 17}, {"CAP_SYS_CHROOT", 18}, {"CAP_SYS_PTRACE", 19},
    {"CAP_SYS_PACCT", 20}, {"CAP_SYS_ADMIN", 21}, {"CAP_SYS_BOOT", 22}, {"CAP_SYS_NICE", 23},
    {"CAP_SYS_RESOURCE", 24}, {"CAP_SYS_TIME", 25}, {"CAP_SYS_TTY_CONFIG", 26}, {"CAP_MKNOD", 27},
    {"CAP_LEASE", 28}, {"CAP_AUDIT_WRITE", 29}, {"CAP_AUDIT_CONTROL", 30}, {"CAP_SETFCAP", 31},
    {"CAP_MAC_OVERRIDE", 32}, {"CAP_MAC_ADMIN", 33}, {"CAP_SYSLOG", 34}, {"CAP_WAKE_ALARM", 35},
    {"CAP_BLOCK_SUSPEND", 36}, {"CAP_AUDIT_READ", 37}, {"CAP_PERFMON", 38}, {"CAP_BPF", 39},
    {"CAP_CHECKPOINT_RESTORE", 40},
};
#define CAPABILITY_NAME_COUNT (sizeof capability_names / sizeof capability_names[0])

/* The kernel's struct sigaction for rt_sigaction (x86-64 and arm64 share this layout). */
typedef struct {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
} kernel_sigaction;

static uint64_t broadcast_keep_mask;
static int broadcast_last_capability;
static kernel_sigaction previous_action;
static atomic_int broadcast_acks;
static atomic_int broadcast_failures;

int capability_number(const char *name) {
  for (size_t i = 0; i < CAPABILITY_NAME_COUNT; i++) {
    if (strcmp(capability_names[i].name, name) == 0) return capability_names[i].number;
  }
  return -1;
}

const char *capability_name_of(int number) {
  for (size_t i = 0; i < CAPABILITY_NAME_COUNT; i++) {
    if (capability_names[i].number == number) return capability_names[i].name;
  }
  return NULL;
}

/* /proc/sys/kernel/cap_last_cap, or the highest number known here. */
static int last_capability(void) {
  int last = (int)CAPABILITY_NAME_COUNT - 1;
  FILE *file = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (file != NULL) {
    int value;
    if (fscanf(file, "%d", &value) == 1 && value >= 0 && value <= MAX_CAPABILITY) last = value;
    fclose(file);
  }
  return last;
}

/* Runs on the calling thread only; async-signal-safe (raw syscalls, no allocation). 0 or -1. */
static int drop_on_this_thread(uint64_t keep, int last) {
  int result = 0;
  if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) result = -1;
  for (int cap = 0; cap <= last; cap++) {
    if ((keep >> cap) & 1u) continue;
    if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) result = -1;
  }
  if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) result = -1;
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &header, data) != 0) return -1;
  uint64_t permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
  uint64_t target = permitted & keep;
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(target >> (32 * i));
    data[i].permitted = (uint32_t)(target >> (32 * i));
    data[i].inheritable = 0;
  }
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  if (syscall(SYS_capset, &header, data) != 0) result = -1;
  return result;
}

uint64_t capabilities_permitted(void) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &header, data) != 0) return 0;
  return (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
}

static void on_broadcast_signal(int signal_number, siginfo_t *info, void *context) {
  int saved_errno = errno;
  if (info != NULL && info->si_code == SI_QUEUE && info->si_value.sival_int == BROADCAST_MAGIC && info->si_pid == getpid()) {
    if (drop_on_this_thread(broadcast_keep_mask, broadcast_last_capability) != 0) atomic_fetch_add(&broadcast_failures, 1);
    atomic_fetch_add(&broadcast_acks, 1);
  } else if (previous_action.handler != (void *)SIG_DFL && previous_action.handler != (void *)SIG_IGN) {
    /* Not ours: what glibc installed gets it, as if we were not here. */
    if (previous_action.flags & SA_SIGINFO) {
      ((void (*)(int, siginfo_t *, void *))previous_action.handler)(signal_number, info, context);
    } else {
      ((void (*)(int))previous_action.handler)(signal_number);
    }
  }
  errno = saved_errno;
}

static long raw_sigaction(int signal_number, const kernel_sigaction *action, kernel_sigaction *old) {
  return syscall(SYS_rt_sigaction, signal_number, action, old, sizeof(uint64_t));
}

static uint64_t parse_hex_field(const char *status, const char *field, bool *found) {
  const char *at = strstr(status, field);
  if (at == NULL) {
    *found = false;
    return 0;
  }
  *found = true;
  return strtoull(at + strlen(field), NULL, 16);
}

/* Whether thread `tid` holds nothing beyond `keep` (permitted, effective, bounding). */
static bool thread_complies(pid_t tid, uint64_t keep) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  FILE *file = fopen(path, "re");
  if (file == NULL) return true; /* the thread has exited */
  char status[STATUS_BYTES];
  size_t length = fread(status, 1, sizeof status - 1, file);
  fclose(file);
  status[length] = '\0';
  bool found_permitted, found_effective, found_bounding;
  uint64_t permitted = parse_hex_field(status, "\nCapPrm:\t", &found_permitted);
  uint64_t effective = parse_hex_field(status, "\nCapEff:\t", &found_effective);
  uint64_t bounding = parse_hex_field(status, "\nCapBnd:\t", &found_bounding);
  if (!found_permitted || !found_effective || !found_bounding) return false;
  return (permitted & ~keep) == 0 && (effective & ~keep) == 0 && (bounding & ~keep) == 0;
}

static void sleep_ms(long ms) {
  struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
  }
}

/* Signals every thread that does not comply yet; returns how many were signalled. */
static int signal_other_threads(pid_t self, uint64_t keep, int *threads_seen) {
  DIR *tasks = opendir("/proc/self/task");
  if (tasks == NULL) return -1;
  int signalled = 0;
  int seen = 0;
  struct dirent *entry;
  while ((entry = readdir(tasks)) != NULL) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    pid_t tid = (pid_t)atoi(entry->d_name);
    seen++;
    if (tid == self || thread_complies(tid, keep)) continue;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = BROADCAST_SIGNAL;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = BROADCAST_MAGIC;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, BROADCAST_SIGNAL, &info) == 0) signalled++;
  }
  closedir(tasks);
  *threads_seen = seen;
  return signalled;
}

/* Counts threads that hold more than `keep`. */
static int count_noncompliant_threads(uint64_t keep, int *threads) {
  DIR *tasks = opendir("/proc/self/task");
  if (tasks == NULL) return -1;
  int bad = 0;
  int seen = 0;
  struct dirent *entry;
  while ((entry = readdir(tasks)) != NULL) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    seen++;
    if (!thread_complies((pid_t)atoi(entry->d_name), keep)) bad++;
  }
  closedir(tasks);
  *threads = seen;
  return bad;
}

int drop_capabilities_everywhere(uint64_t keep, capability_drop_result *result, char *problem, size_t problem_bytes) {
  memset(result, 0, sizeof *result);
  int last = last_capability();
  broadcast_keep_mask = keep;
  broadcast_last_capability = last;
  pid_t self = (pid_t)syscall(SYS_gettid);

  /* Install our handler over glibc's SIGSETXID handler, keeping its flags and restorer. */
  kernel_sigaction ours;
  bool installed = false;
  if (raw_sigaction(BROADCAST_SIGNAL, NULL, &previous_action) == 0) {
#if defined(__x86_64__)
    bool usable = (previous_action.flags & SA_RESTORER) != 0 && previous_action.restorer != NULL;
#elif defined(__aarch64__)
    bool usable = true;
#else
    bool usable = false;
#endif
    if (usable) {
      ours = previous_action;
      ours.handler = (void *)on_broadcast_signal;
      ours.flags |= SA_SIGINFO | SA_RESTART;
      installed = raw_sigaction(BROADCAST_SIGNAL, &ours, NULL) == 0;
    }
  }

  if (installed) {
    for (int round = 0; round < BROADCAST_ROUNDS; round++) {
      atomic_store(&broadcast_acks, 0);
      int threads_seen = 0;
      int signalled = signal_other_threads(self, keep, &threads_seen);
      if (signalled <= 0) break;
      for (long waited = 0; waited < BROADCAST_WAIT_MS && atomic_load(&broadcast_acks) < signalled; waited++) sleep_ms(1);
    }
    raw_sigaction(BROADCAST_SIGNAL, &previous_action, NULL);
  }
  result->thread_failures = atomic_load(&broadcast_failures);

  /* This thread last: it needs its CAP_SETPCAP no longer, and a failure here is reported. */
  if (drop_on_this_thread(keep, last) != 0) {
    snprintf(problem, problem_bytes, "dropping capabilities on the calling thread failed: %s", strerror(errno));
    return -1;
  }
  int threads = 0;
  int noncompliant = count_noncompliant_threads(keep, &threads);
  result->threads = threads;
  result->threads_not_dropped = noncompliant < 0 ? threads : noncompliant;
  if (!installed) snprintf(problem, problem_bytes, "could not reach the other threads (no usable signal handler to borrow)");
  return 0;
}
