/*
 * The ring buffer consumer on its own thread. It sleeps in epoll on the ring fd, takes each
 * record out the moment the kernel writes it and reads /proc for it (tracer_consume), whatever
 * the JavaScript event loop is doing: a one-shot curl lives ~1 ms past its handshake, less than
 * one busy turn of the loop. Finished records go to a bounded queue; uv_async_send wakes the loop,
 * which takes the whole queue at once (consumer_take). When the queue is full the thread waits
 * (records then wait in the ring, and the kernel counts what the ring has no room for).
 */
#ifndef IMDS_EBPF_CONSUMER_THREAD_H
#define IMDS_EBPF_CONSUMER_THREAD_H

#include <pthread.h>
#include <stddef.h>
#include <uv.h>

#include "error.h"
#include "record.h"
#include "tracer.h"

/* Records queued for JavaScript at most (the 256 KiB ring holds ~550 records). */
#define CONSUMER_QUEUE_RECORDS 512
/* Records the thread takes from the ring per tracer_consume call (then queues them). */
#define CONSUMER_CHUNK_RECORDS 32
/* Records the ring can hold at most (each takes its 8-byte header plus RECORD_SIZE, 8-aligned). */
#define CONSUMER_RING_RECORDS_MAX (RING_BUFFER_BYTES / (RECORD_SIZE + 8) + 1)
/* What consumer_drain can hand over at once: the whole queue and the whole ring. */
#define CONSUMER_DRAIN_RECORDS (CONSUMER_QUEUE_RECORDS + CONSUMER_RING_RECORDS_MAX)

struct consumer_thread {
  struct tracer *tracer;
  uv_async_t *wake; /* uv_async_send'ed when records were queued */
  pthread_t thread;
  int started; /* consumer_start succeeded and consumer_stop has not run */
  int epoll_fd;
  int stop_fd; /* eventfd: written once to stop the thread */
  /*
   * Held by whoever reads the ring: the thread, from taking a chunk until it is queued, or
   * consumer_drain. Never held while waiting for room, so a drain never waits for the thread
   * to be given room. Taken before `lock` when both are held.
   */
  pthread_mutex_t ring_lock;
  pthread_mutex_t lock;
  pthread_cond_t room; /* signalled when consumer_take or consumer_drain empties the queue, and at stop */
  /* Guarded by lock: */
  int stopping;
  unsigned char *queue; /* filled by the thread */
  size_t queued;
  unsigned char *spare; /* handed to JavaScript by consumer_take; swapped with queue */
  /* The thread's own: */
  unsigned char *chunk;
  /* consumer_drain's (loop thread), CONSUMER_DRAIN_RECORDS records, allocated on first use. */
  unsigned char *drained;
};

/* Starts the thread (the tracer must be open); returns 0, or -1 with err set and nothing to stop. */
int consumer_start(struct consumer_thread *c, struct tracer *tracer, uv_async_t *wake, struct ebpf_error *err);
/* Loop thread: takes everything queued; *records stays valid until the next call. */
size_t consumer_take(struct consumer_thread *c, const unsigned char **records);
/*
 * Loop thread: takes, synchronously and in order, every record queued and every finished record
 * still in the ring (reading /proc for those, as the thread would). For a loop that fell behind
 * (a starved process: the thread ran late too) and must not wait for the next wakeup before
 * falling back to costlier attribution. *records stays valid until the next call; returns the
 * count (0 when stopped or out of memory).
 */
size_t consumer_drain(struct consumer_thread *c, const unsigned char **records);
/* Stops and joins the thread; frees the queues. Idempotent; safe on a zeroed (never started) one. */
void consumer_stop(struct consumer_thread *c);

#endif
