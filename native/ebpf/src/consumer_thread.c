#include "consumer_thread.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "record.h"

/*
 * Waits until the queue has room for a whole chunk; returns 0 when stopping. Only this thread
 * adds to the queue, so the room is still there when the chunk is queued.
 */
static int wait_for_room(struct consumer_thread *c) {
  pthread_mutex_lock(&c->lock);
  while (!c->stopping && c->queued + CONSUMER_CHUNK_RECORDS > CONSUMER_QUEUE_RECORDS) pthread_cond_wait(&c->room, &c->lock);
  int go_on = !c->stopping;
  pthread_mutex_unlock(&c->lock);
  return go_on;
}

static void *consumer_main(void *arg) {
  struct consumer_thread *c = arg;
  for (;;) {
    if (!wait_for_room(c)) break;
    /* From the ring to the queue under ring_lock: a drain sees every record in one place or the other. */
    pthread_mutex_lock(&c->ring_lock);
    size_t count = tracer_consume(c->tracer, c->chunk, CONSUMER_CHUNK_RECORDS);
    if (count > 0) {
      pthread_mutex_lock(&c->lock);
      memcpy(c->queue + c->queued * DELIVERED_RECORD_SIZE, c->chunk, count * DELIVERED_RECORD_SIZE);
      c->queued += count;
      pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&c->ring_lock);
    if (count > 0) {
      /* Coalesces: one loop wakeup takes whatever is queued by then. */
      uv_async_send(c->wake);
      continue;
    }
    /* Level-triggered: a record written after the empty consume above still wakes us. */
    struct epoll_event events[2];
    int ready = epoll_wait(c->epoll_fd, events, 2, -1);
    if (ready < 0 && errno != EINTR) break;
    int stop = 0;
    for (int i = 0; i < ready; i++) {
      if (events[i].data.fd == c->stop_fd) stop = 1;
    }
    if (stop) break;
  }
  return NULL;
}

static int add_to_epoll(int epoll_fd, int fd) {
  struct epoll_event event;
  memset(&event, 0, sizeof event);
  event.events = EPOLLIN;
  event.data.fd = fd;
  return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

static void release(struct consumer_thread *c) {
  if (c->epoll_fd >= 0) close(c->epoll_fd);
  if (c->stop_fd >= 0) close(c->stop_fd);
  c->epoll_fd = c->stop_fd = -1;
  free(c->queue);
  free(c->spare);
  free(c->chunk);
  free(c->drained);
  c->queue = c->spare = c->chunk = c->drained = NULL;
}

int consumer_start(struct consumer_thread *c, struct tracer *tracer, uv_async_t *wake, struct ebpf_error *err) {
  memset(c, 0, sizeof *c);
  c->tracer = tracer;
  c->wake = wake;
  c->epoll_fd = c->stop_fd = -1;
  pthread_mutex_init(&c->ring_lock, NULL);
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->room, NULL);
  c->queue = malloc((size_t)CONSUMER_QUEUE_RECORDS * DELIVERED_RECORD_SIZE);
  c->spare = malloc((size_t)CONSUMER_QUEUE_RECORDS * DELIVERED_RECORD_SIZE);
  c->chunk = malloc((size_t)CONSUMER_CHUNK_RECORDS * DELIVERED_RECORD_SIZE);
  if (c->queue == NULL || c->spare == NULL || c->chunk == NULL) {
    release(c);
    pthread_mutex_destroy(&c->ring_lock);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->room);
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  }
  c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->epoll_fd < 0 || c->stop_fd < 0 || add_to_epoll(c->epoll_fd, tracer->ring_fd) != 0 ||
      add_to_epoll(c->epoll_fd, c->stop_fd) != 0) {
    int saved = errno;
    release(c);
    pthread_mutex_destroy(&c->ring_lock);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->room);
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "epoll on the ring buffer: %s", strerror(saved));
  }
  /* Signals are the loop thread's business (Node's handlers): none for the consumer. */
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  int failed = pthread_create(&c->thread, NULL, consumer_main, c);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  if (failed != 0) {
    release(c);
    pthread_mutex_destroy(&c->ring_lock);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->room);
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "pthread_create (ring buffer consumer): %s", strerror(failed));
  }
  c->started = 1;
  return 0;
}

size_t consumer_take(struct consumer_thread *c, const unsigned char **records) {
  pthread_mutex_lock(&c->lock);
  size_t count = c->queued;
  unsigned char *full = c->queue;
  c->queue = c->spare;
  c->spare = full;
  c->queued = 0;
  pthread_cond_broadcast(&c->room);
  pthread_mutex_unlock(&c->lock);
  *records = full;
  return count;
}

size_t consumer_drain(struct consumer_thread *c, const unsigned char **records) {
  *records = NULL;
  if (!c->started) return 0;
  if (c->drained == NULL) {
    c->drained = malloc((size_t)CONSUMER_DRAIN_RECORDS * DELIVERED_RECORD_SIZE);
    if (c->drained == NULL) return 0;
  }
  pthread_mutex_lock(&c->ring_lock);
  /* Queued records first: they left the ring before those still in it. */
  pthread_mutex_lock(&c->lock);
  size_t count = c->queued;
  memcpy(c->drained, c->queue, count * DELIVERED_RECORD_SIZE);
  c->queued = 0;
  pthread_cond_broadcast(&c->room);
  pthread_mutex_unlock(&c->lock);
  while (count < CONSUMER_DRAIN_RECORDS) {
    size_t taken = tracer_consume(c->tracer, c->drained + count * DELIVERED_RECORD_SIZE, CONSUMER_DRAIN_RECORDS - count);
    if (taken == 0) break;
    count += taken;
  }
  pthread_mutex_unlock(&c->ring_lock);
  *records = c->drained;
  return count;
}

void consumer_stop(struct consumer_thread *c) {
  if (!c->started) return; /* never started, or already stopped: nothing is held */
  {
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->lock);
    uint64_t one = 1;
    ssize_t written;
    do {
      written = write(c->stop_fd, &one, sizeof one);
    } while (written < 0 && errno == EINTR);
    pthread_join(c->thread, NULL);
  }
  c->started = 0;
  pthread_mutex_destroy(&c->ring_lock);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->room);
  release(c);
}
