/*
 * The connect tracer without any Node-API: create the maps, load and attach the program,
 * read the ring buffer, read counters, tear everything down. addon.c wraps it for JavaScript.
 */
#ifndef IMDS_EBPF_TRACER_H
#define IMDS_EBPF_TRACER_H

#include <stddef.h>

#include "btf_offsets.h"
#include "error.h"
#include "proc_snapshot.h"
#include "record.h"

/* Connects to IMDS waiting for their handshake at once; beyond it "connecting" records are sent. */
#define PENDING_MAX_ENTRIES 4096
/* Ring buffer data area (power of two, multiple of the page size): ~700 records. */
#define RING_BUFFER_BYTES (256u * 1024u)

struct tracer {
  int pending_fd;
  int ring_fd;
  int counters_fd;
  int prog_fd;
  int perf_fd;
  /* Ring buffer mappings: the consumer page (read-write) and the producer page followed by the
   * data area mapped twice in a row (read-only), so a record that wraps reads contiguously. */
  unsigned long *consumer_pos;
  void *producer_mapping;
  size_t producer_mapping_size;
  size_t page_size;
  int tracepoint_id;
  int argv_capture;
  char argv_unavailable_reason[1024]; /* why argv_capture is 0 ("" when it is 1) */
  /* Per enum identity_field: read in the kernel or not, and why not ("" when it is). */
  int identity_capture[IDENTITY_FIELD_COUNT];
  char identity_unavailable_reason[IDENTITY_FIELD_COUNT][1024];
  unsigned long long unexpected_samples; /* ring samples that were not RECORD_SIZE bytes */
  struct proc_snapshot proc; /* the /proc reads done for each record as it is consumed */
};

/* Marks every fd as closed; call before tracer_open. */
void tracer_init(struct tracer *t);
/* Everything up to and including attaching. want_argv = 0 skips the argv capture, want_identity = 0
 * the identity fields (parent, start time, exe name). Either is also dropped, with a reason, when
 * BTF lacks what it needs or the verifier rejects it: the program then loads without it. */
int tracer_open(struct tracer *t, int want_argv, int want_identity, struct ebpf_error *err);
/* Call from one thread at a time (consumer_thread.c's ring_lock: its thread, or a drain). Copies up to max_records finished records into out (DELIVERED_RECORD_SIZE bytes each: the kernel's
 * record, then what /proc says about its process, read right here); returns the count.
 * Records that do not fit stay in the ring for the next call. */
size_t tracer_consume(struct tracer *t, unsigned char *out, size_t max_records);
/* Reads all COUNTER_* values. */
int tracer_read_counters(const struct tracer *t, unsigned long long counters[COUNTER_COUNT]);
/* Connects waiting for their handshake (entries in the pending map), or -1. */
long tracer_pending_count(const struct tracer *t);
/* Detaches and releases everything; safe to call twice. */
void tracer_close(struct tracer *t);
/* Can this process load the tracer? Reads the tracepoint, creates a ring buffer, loads a
 * two-instruction tracepoint program; attaches nothing. */
int tracer_probe(struct ebpf_error *err);

#endif
