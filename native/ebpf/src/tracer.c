#include "tracer.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpf_sys.h"
#include "btf_offsets.h"
#include "program.h"

#define PROGRAM_NAME "imds_connect"
/* Verifier log for a rejected program; the error message keeps its end (where the reason is). */
#define VERIFIER_LOG_BYTES (1u << 20)
#define VERIFIER_LOG_TAIL_BYTES 12000
#define PERMISSION_HINT "run as root (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)"

void tracer_init(struct tracer *t) {
  memset(t, 0, sizeof *t);
  t->pending_fd = t->ring_fd = t->counters_fd = t->prog_fd = t->perf_fd = -1;
}

static int close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
  return 0;
}

void tracer_close(struct tracer *t) {
  /* Closing the perf event detaches the program first: no more records after this. */
  if (t->perf_fd >= 0) ioctl(t->perf_fd, PERF_EVENT_IOC_DISABLE, 0);
  close_fd(&t->perf_fd);
  close_fd(&t->prog_fd);
  if (t->consumer_pos != NULL) munmap(t->consumer_pos, t->page_size);
  t->consumer_pos = NULL;
  if (t->producer_mapping != NULL) munmap(t->producer_mapping, t->producer_mapping_size);
  t->producer_mapping = NULL;
  close_fd(&t->ring_fd);
  close_fd(&t->pending_fd);
  close_fd(&t->counters_fd);
}

static int create_ring_buffer(unsigned bytes, struct ebpf_error *err) {
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, bytes, 0, "imds_events");
  if (fd < 0) {
    int saved = errno;
    if (saved == EPERM || saved == EACCES) {
      ebpf_fail(err, EBPF_ERR_PERMISSION, "bpf(BPF_MAP_CREATE): %s: " PERMISSION_HINT, strerror(saved));
    } else if (saved == EINVAL) {
      ebpf_fail(err, EBPF_ERR_RINGBUF, "bpf(BPF_MAP_CREATE, BPF_MAP_TYPE_RINGBUF): %s: kernel too old for BPF ring buffers (Linux >= 5.8 needed)",
                strerror(saved));
    } else {
      ebpf_fail(err, EBPF_ERR_SYSTEM, "bpf(BPF_MAP_CREATE, BPF_MAP_TYPE_RINGBUF): %s", strerror(saved));
    }
  }
  return fd;
}

static int create_map(enum bpf_map_type type, unsigned key_size, unsigned value_size, unsigned max_entries,
                      const char *name, struct ebpf_error *err) {
  int fd = bpf_map_create(type, key_size, value_size, max_entries, 0, name);
  if (fd < 0) {
    int saved = errno;
    ebpf_fail(err, ebpf_code_for_errno(saved, EBPF_ERR_SYSTEM), "bpf(BPF_MAP_CREATE) for %s: %s%s", name,
              strerror(saved), saved == EPERM || saved == EACCES ? ": " PERMISSION_HINT : "");
  }
  return fd;
}

/*
 * Loads the program. The first try runs without a log (a log that does not fit makes the load
 * fail); only when that fails is it loaded again with the log, for the error message.
 */
static int load_program(const struct program_params *params, struct ebpf_error *err) {
  struct bpf_asm *a = malloc(sizeof *a);
  if (a == NULL) return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  const char *problem = program_build(a, params);
  if (problem != NULL) {
    free(a);
    return ebpf_fail(err, EBPF_ERR_VERIFIER, "assembling the program failed: %s", problem);
  }
  int fd = bpf_prog_load_tracepoint(a->insns, (unsigned)a->count, PROGRAM_NAME, NULL, 0);
  if (fd >= 0) {
    free(a);
    return fd;
  }
  int saved = errno;
  /* EPERM is a missing capability; EACCES is what the verifier returns for unsafe code. */
  if (saved == EPERM) {
    free(a);
    return ebpf_fail(err, EBPF_ERR_PERMISSION, "bpf(BPF_PROG_LOAD): %s: " PERMISSION_HINT, strerror(saved));
  }
  char *log = malloc(VERIFIER_LOG_BYTES);
  if (log == NULL) {
    free(a);
    return ebpf_fail(err, EBPF_ERR_VERIFIER, "bpf(BPF_PROG_LOAD): %s", strerror(saved));
  }
  fd = bpf_prog_load_tracepoint(a->insns, (unsigned)a->count, PROGRAM_NAME, log, VERIFIER_LOG_BYTES);
  if (fd >= 0) {
    /* Loaded with the log on: keep it (the first failure was transient). */
    free(log);
    free(a);
    return fd;
  }
  saved = errno;
  log[VERIFIER_LOG_BYTES - 1] = '\0';
  size_t length = strlen(log);
  const char *tail = length > VERIFIER_LOG_TAIL_BYTES ? log + length - VERIFIER_LOG_TAIL_BYTES : log;
  ebpf_fail(err, EBPF_ERR_VERIFIER, "bpf(BPF_PROG_LOAD) of %d instructions: %s; verifier log%s:\n%s", a->count,
            strerror(saved), tail == log ? "" : " (end)", tail);
  free(log);
  free(a);
  return -1;
}

static int attach(struct tracer *t, struct ebpf_error *err) {
  /* A BPF program on a tracepoint runs on every CPU however many perf events carry it: one
   * event on the first CPU that accepts it is enough (libbpf does the same). */
  long cpus = sysconf(_SC_NPROCESSORS_CONF);
  int saved = ENODEV;
  for (int cpu = 0; cpu < (cpus > 0 ? cpus : 1) && t->perf_fd < 0; cpu++) {
    t->perf_fd = perf_tracepoint_open(t->tracepoint_id, cpu);
    if (t->perf_fd < 0) saved = errno;
  }
  if (t->perf_fd < 0) {
    return ebpf_fail(err, ebpf_code_for_errno(saved, EBPF_ERR_ATTACH), "perf_event_open(tracepoint %d): %s%s",
                     t->tracepoint_id, strerror(saved), saved == EPERM || saved == EACCES ? ": " PERMISSION_HINT : "");
  }
  if (ioctl(t->perf_fd, PERF_EVENT_IOC_SET_BPF, t->prog_fd) != 0) {
    saved = errno;
    return ebpf_fail(err, ebpf_code_for_errno(saved, EBPF_ERR_ATTACH), "ioctl(PERF_EVENT_IOC_SET_BPF): %s",
                     strerror(saved));
  }
  if (ioctl(t->perf_fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
    saved = errno;
    return ebpf_fail(err, EBPF_ERR_ATTACH, "ioctl(PERF_EVENT_IOC_ENABLE): %s", strerror(saved));
  }
  return 0;
}

static int map_ring_buffer(struct tracer *t, struct ebpf_error *err) {
  t->page_size = (size_t)sysconf(_SC_PAGESIZE);
  void *consumer = mmap(NULL, t->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->ring_fd, 0);
  if (consumer == MAP_FAILED) {
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "mmap(ring buffer consumer page): %s", strerror(errno));
  }
  t->consumer_pos = consumer;
  t->producer_mapping_size = t->page_size + 2 * (size_t)RING_BUFFER_BYTES;
  void *producer = mmap(NULL, t->producer_mapping_size, PROT_READ, MAP_SHARED, t->ring_fd, (off_t)t->page_size);
  if (producer == MAP_FAILED) {
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "mmap(ring buffer data): %s", strerror(errno));
  }
  t->producer_mapping = producer;
  return 0;
}

/* The end of a verifier error (where the reason is), for a capture's "unavailable" reason. */
static void verifier_reason(char *out, size_t size, const char *what, const char *message) {
  size_t length = strlen(message);
  const char *tail = length > 400 ? message + length - 400 : message;
  snprintf(out, size, "the verifier rejected the %s: ...%.400s", what, tail);
}

/*
 * Finds the BTF offsets each wanted capture needs; a capture whose offsets are missing is off,
 * with the reason (BTF problems only turn captures off, they never stop the tracer).
 */
static void find_offsets(struct tracer *t, struct program_params *params, int want_argv, int want_identity) {
  for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
    snprintf(t->identity_unavailable_reason[field], sizeof t->identity_unavailable_reason[field],
             "process identity capture not requested");
  }
  if (!want_argv) snprintf(t->argv_unavailable_reason, sizeof t->argv_unavailable_reason, "argv capture not requested");
  if (!want_argv && !want_identity) return;

  struct ebpf_error *btf_err = malloc(sizeof *btf_err);
  struct btf_types *types = NULL;
  if (btf_err == NULL || btf_types_load(VMLINUX_BTF_PATH, &types, btf_err) != 0) {
    const char *reason = btf_err == NULL ? "out of memory" : btf_err->message;
    if (want_argv) snprintf(t->argv_unavailable_reason, sizeof t->argv_unavailable_reason, "%.1000s", reason);
    for (int field = 0; want_identity && field < IDENTITY_FIELD_COUNT; field++) {
      snprintf(t->identity_unavailable_reason[field], sizeof t->identity_unavailable_reason[field], "%.1000s", reason);
    }
    free(btf_err);
    return;
  }
  if (want_argv) {
    if (btf_argv_offsets(types, &params->argv, btf_err) == 0) {
      params->argv_capture = 1;
    } else {
      snprintf(t->argv_unavailable_reason, sizeof t->argv_unavailable_reason, "%.1000s", btf_err->message);
    }
  }
  if (want_identity) {
    btf_identity_offsets(types, &params->identity);
    for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
      if (params->identity.available[field]) {
        params->identity_capture = 1;
      } else {
        snprintf(t->identity_unavailable_reason[field], sizeof t->identity_unavailable_reason[field], "%s",
                 params->identity.reasons[field]);
      }
    }
  }
  btf_types_free(types);
  free(btf_err);
}

/*
 * Loads the program with every capture it can have. The kernel-memory parts (argv, identity)
 * are the risky ones: when the verifier rejects the program, it is loaded again without the
 * identity capture, then without argv, then without both, rather than not at all.
 */
static int load_with_fallbacks(struct tracer *t, struct program_params *params, struct ebpf_error *err) {
  const int had_argv = params->argv_capture, had_identity = params->identity_capture;
  char *first_failure = NULL;
  int fd = -1;
  unsigned tried = 0; /* bit (argv * 2 + identity) per combination loaded */
  for (int attempt = 0; attempt < 4 && fd < 0; attempt++) {
    int argv = attempt < 2 ? had_argv : 0;
    int identity = attempt % 2 == 0 ? had_identity : 0;
    unsigned combination = 1u << (argv * 2 + identity);
    if (tried & combination) continue;
    tried |= combination;
    params->argv_capture = argv;
    params->identity_capture = identity;
    fd = load_program(params, err);
    if (fd >= 0) break;
    if (strcmp(err->code, EBPF_ERR_VERIFIER) != 0 || (!had_argv && !had_identity)) break;
    if (first_failure == NULL) first_failure = strdup(err->message);
  }
  if (fd >= 0 && first_failure != NULL) {
    if (had_argv && !params->argv_capture) {
      verifier_reason(t->argv_unavailable_reason, sizeof t->argv_unavailable_reason, "argv capture", first_failure);
    }
    for (int field = 0; had_identity && !params->identity_capture && field < IDENTITY_FIELD_COUNT; field++) {
      if (!params->identity.available[field]) continue;
      verifier_reason(t->identity_unavailable_reason[field], sizeof t->identity_unavailable_reason[field],
                      "process identity capture", first_failure);
    }
  }
  free(first_failure);
  return fd;
}

int tracer_open(struct tracer *t, int want_argv, int want_identity, struct ebpf_error *err) {
  struct program_params params;
  memset(&params, 0, sizeof params);
  if (tp_format_load(&params.format, err) != 0) return -1;
  t->tracepoint_id = params.format.id;
  proc_snapshot_init(&t->proc, "/proc");
  find_offsets(t, &params, want_argv, want_identity);

  if ((t->ring_fd = create_ring_buffer(RING_BUFFER_BYTES, err)) < 0) goto fail;
  if ((t->pending_fd = create_map(BPF_MAP_TYPE_HASH, sizeof(__u64), RECORD_SIZE, PENDING_MAX_ENTRIES,
                                  "imds_pending", err)) < 0) {
    goto fail;
  }
  if ((t->counters_fd = create_map(BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), COUNTER_COUNT,
                                   "imds_counters", err)) < 0) {
    goto fail;
  }
  params.pending_map_fd = t->pending_fd;
  params.ring_map_fd = t->ring_fd;
  params.counters_map_fd = t->counters_fd;

  if ((t->prog_fd = load_with_fallbacks(t, &params, err)) < 0) goto fail;
  t->argv_capture = params.argv_capture;
  if (t->argv_capture) t->argv_unavailable_reason[0] = '\0';
  for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
    t->identity_capture[field] = params.identity_capture && params.identity.available[field];
    if (t->identity_capture[field]) t->identity_unavailable_reason[field][0] = '\0';
  }

  if (map_ring_buffer(t, err) != 0) goto fail;
  if (attach(t, err) != 0) goto fail;
  return 0;

fail:
  tracer_close(t);
  return -1;
}

/* Header length word -> bytes the record takes in the ring (header included, 8-aligned). */
static unsigned long ring_record_span(uint32_t length_word) {
  uint32_t length = length_word & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
  return ((unsigned long)length + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
}

size_t tracer_consume(struct tracer *t, unsigned char *out, size_t max_records) {
  if (t->consumer_pos == NULL || t->producer_mapping == NULL) return 0;
  const unsigned long *producer_pos = t->producer_mapping;
  const unsigned char *data = (const unsigned char *)t->producer_mapping + t->page_size;
  const unsigned long mask = RING_BUFFER_BYTES - 1;
  unsigned long consumer = __atomic_load_n(t->consumer_pos, __ATOMIC_ACQUIRE);
  size_t count = 0;
  while (count < max_records) {
    unsigned long producer = __atomic_load_n(producer_pos, __ATOMIC_ACQUIRE);
    if (consumer >= producer) break;
    const uint32_t *header = (const uint32_t *)(data + (consumer & mask));
    uint32_t length_word = __atomic_load_n(header, __ATOMIC_ACQUIRE);
    if (length_word & BPF_RINGBUF_BUSY_BIT) break; /* still being written: next wakeup */
    if ((length_word & BPF_RINGBUF_DISCARD_BIT) == 0) {
      uint32_t length = length_word & ~(uint32_t)BPF_RINGBUF_DISCARD_BIT;
      if (length == RECORD_SIZE) {
        unsigned char *record = out + count * DELIVERED_RECORD_SIZE;
        memcpy(record, (const unsigned char *)header + BPF_RINGBUF_HDR_SZ, RECORD_SIZE);
        /* Now, before anything else: a one-shot client may exit within the millisecond. */
        proc_snapshot_fill(&t->proc, record);
        count++;
      } else {
        __atomic_fetch_add(&t->unexpected_samples, 1, __ATOMIC_RELAXED); /* read on another thread */
      }
    }
    consumer += ring_record_span(length_word);
    __atomic_store_n(t->consumer_pos, consumer, __ATOMIC_RELEASE);
  }
  return count;
}

int tracer_read_counters(const struct tracer *t, unsigned long long counters[COUNTER_COUNT]) {
  for (__u32 key = 0; key < COUNTER_COUNT; key++) {
    __u64 value = 0;
    if (t->counters_fd < 0 || bpf_map_lookup(t->counters_fd, &key, &value) != 0) return -1;
    counters[key] = value;
  }
  return 0;
}

long tracer_pending_count(const struct tracer *t) {
  if (t->pending_fd < 0) return -1;
  __u64 key = 0, next = 0;
  long count = 0;
  const void *previous = NULL;
  /* Bounded: the map never holds more than PENDING_MAX_ENTRIES keys. */
  while (count <= PENDING_MAX_ENTRIES) {
    if (bpf_map_next_key(t->pending_fd, previous, &next) != 0) return errno == ENOENT ? count : -1;
    count++;
    key = next;
    previous = &key;
  }
  return count;
}

int tracer_probe(struct ebpf_error *err) {
  struct tp_format format;
  if (tp_format_load(&format, err) != 0) return -1;
  int ring = create_ring_buffer((unsigned)sysconf(_SC_PAGESIZE), err);
  if (ring < 0) return -1;
  close(ring);
  static const struct bpf_insn trivial[] = {BPF_MOV64_IMM(BPF_REG_0, 0), BPF_EXIT_INSN()};
  int prog = bpf_prog_load_tracepoint(trivial, 2, "imds_probe", NULL, 0);
  if (prog < 0) {
    int saved = errno;
    return ebpf_fail(err, saved == EPERM ? EBPF_ERR_PERMISSION : EBPF_ERR_SYSTEM, "bpf(BPF_PROG_LOAD, tracepoint): %s%s",
                     strerror(saved), saved == EPERM || saved == EACCES ? ": " PERMISSION_HINT : "");
  }
  close(prog);
  return 0;
}
