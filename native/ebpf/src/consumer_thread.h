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
#include "tracer.h"

/* Records queued for JavaScript at most (the 256 KiB ring holds ~550 records). */
#define CONSUMER_QUEUE_RECORDS 512
/* Records the thread takes from the ring per tracer_consume call (then queues them). */
#define CONSUMER_CHUNK_RECORDS 32

struct consumer_thread {
  struct tracer *tracer;
  uv_async_t *wake; /* uv_async_send'ed when records were queued */
  pthread_t thread;
  int started; /* consumer_start succeeded and consumer_stop has not run */
  int epoll_fd;
  int stop_fd; /* eventfd: written once to stop the thread */
  pthread_mutex_t lock;
  pthread_cond_t room; /* signalled when consumer_take empties the queue, and at stop */
  /* Guarded by lock: */
  int stopping;
  unsigned char *queue; /* filled by the thread */
  size_t queued;
  unsigned char *spare; /* handed to JavaScript by consumer_take; swapped with queue */
  /* The thread's own: */
  unsigned char *chunk;
};

/* Starts the thread (the tracer must be open); returns 0, or -1 with err set and nothing to stop. */
int consumer_start(struct consumer_thread *c, struct tracer *tracer, uv_async_t *wake, struct ebpf_error *err);
/* Loop thread: takes everything queued; *records stays valid until the next call. */
size_t consumer_take(struct consumer_thread *c, const unsigned char **records);
/* Stops and joins the thread; frees the queues. Idempotent; safe on a zeroed (never started) one. */
void consumer_stop(struct consumer_thread *c);

#endif
