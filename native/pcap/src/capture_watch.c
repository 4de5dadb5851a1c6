/*
 * Waiting for packets without blocking Node: libpcap's selectable fd is watched with a uv_poll
 * handle on Node's own loop, and when it is readable capture_read_batch runs in batches. A
 * capture on a named interface also checks, once a second, that the name still stands for the
 * interface it is bound to. A poll error or a vanished interface stops the capture for good
 * after delivering what the ring still holds; onError names the cause.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "capture.h"
#include "error.h"

void capture_stop_polling(capture *c) {
  if (c->polling) {
    uv_poll_stop(c->poll);
    c->polling = false;
  }
}

/*
 * libuv reports POLLERR as UV_EBADF, which says nothing: the real cause is the error the kernel
 * left on the socket (ENETDOWN when the bound interface goes down, and when it is deleted, which
 * takes it down first). Whether it was deleted - and maybe created again under the same name,
 * with a new index, as a recreated container's veth is - is told by looking the name up again.
 * Must run before anything reads from the socket: libpcap reads (and clears) that error itself.
 */
static void poll_error_message(capture *c, int status, char *out, size_t size) {
  int socket_error = 0;
  socklen_t length = sizeof socket_error;
  if (status != UV_EBADF || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0) socket_error = 0;
  int now = c->ifindex > 0 ? interface_index_of_name(c->fd, c->device) : -1;
  bool gone = now == 0 || (now > 0 && now != c->ifindex);
  if (socket_error == 0 && !(status == UV_EBADF && gone)) {
    snprintf(out, size, "waiting for packets on %s failed: %s", c->device, uv_strerror(status));
    return;
  }
  const char *cause = socket_error != 0 ? strerror(socket_error) : "the capture socket reported no error";
  if (now == 0) {
    snprintf(out, size, "%s no longer exists (%s)", c->device, cause);
  } else if (now > 0 && now != c->ifindex) {
    snprintf(out, size, "%s was replaced by another interface of that name (ifindex %d, now %d; %s)", c->device,
             c->ifindex, now, cause);
  } else {
    snprintf(out, size, "waiting for packets on %s failed: %s", c->device, cause);
  }
}

/*
 * After a poll error the ring may still hold packets captured before the interface went down or
 * away (libuv reports POLLERR even when the socket is also readable, and the last block is
 * handed over up to block_timeout_ms later): deliver them before the error, as close()
 * does, or the last calls of a container that is being removed would be lost.
 */
static void drain_after_poll_error(capture *c) {
  bool waited_for_block = false;
  for (int round = 0; round < MAX_DRAIN_BATCHES; round++) {
    int read = capture_read_batch(c);
    if (read > 0 && c->batch_count > 0 && !capture_deliver_batch(c, true)) return;
    if (c->pcap == NULL) return;
    if (read <= 0) {
      if (waited_for_block) return;
      waited_for_block = true;
      capture_wait_for_open_block(c);
    }
  }
}

/* Stops reading for good: names the cause, delivers what the ring still holds, calls onError. */
static void fail_after_poll_error(capture *c, int status) {
  char message[ERROR_MESSAGE_BYTES];
  capture_stop_polling(c);
  c->failed = true;
  poll_error_message(c, status, message, sizeof message);
  drain_after_poll_error(c);
  if (c->pcap == NULL) return;
  capture_report_error(c, PCAP_ERR_READ, message);
}

/*
 * The kernel tells a packet socket once (ENETDOWN) when its interface goes down or is deleted,
 * but that error can be taken before it is seen as a poll error - libpcap reads it inside a read
 * and, the interface still existing, carries on - and a socket bound to an interface that is
 * deleted while down is told nothing. Either way the capture would be bound to an index that
 * is gone, silent for good even once the name is back. So while reading, a capture on a named
 * interface looks the name up once per DEVICE_CHECK_INTERVAL_MS (one ioctl) and fails like a
 * poll error when it is gone or stands for another interface. Paused captures are not checked:
 * a pending error is still seen once they poll again.
 */
static void on_device_check(uv_timer_t *timer) {
  capture *c = (capture *)timer->data;
  if (c == NULL || c->pcap == NULL || !c->polling || c->failed || c->ifindex <= 0) return;
  int now = interface_index_of_name(c->fd, c->device);
  if (now < 0 || now == c->ifindex) return;
  fail_after_poll_error(c, UV_EBADF);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  capture *c = (capture *)poll->data;
  if (c == NULL || c->pcap == NULL || !c->polling) return;
  char message[ERROR_MESSAGE_BYTES];
  if (status < 0) {
    fail_after_poll_error(c, status);
    return;
  }
  for (int round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
    int read = capture_read_batch(c);
    if (read < 0) {
      capture_stop_polling(c);
      c->failed = true;
      capture_read_error_message(c, read, message, sizeof message);
      capture_report_error(c, PCAP_ERR_READ, message);
      return;
    }
    if (c->batch_count > 0) capture_deliver_batch(c, true);
    /* The callback may have paused us (backpressure). close() from inside it is refused. */
    if (c->pcap == NULL || !c->polling) return;
    if ((uint32_t)read < c->batch_packets) return;
  }
}

bool capture_watch_start(napi_env env, capture *c, uv_loop_t *loop) {
  uv_poll_t *poll = malloc(sizeof *poll);
  int status = poll == NULL ? UV_ENOMEM : uv_poll_init(loop, poll, c->fd);
  if (status != 0) {
    free(poll);
    capture_release_js(c);
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_SETUP, "cannot watch capture on %s: %s", c->device, uv_strerror(status));
    return false;
  }
  poll->data = c;
  c->poll = poll; /* from here on capture_close_native() owns it */
  c->started = true;
  if (c->ifindex > 0) {
    uv_timer_t *timer = malloc(sizeof *timer);
    status = timer == NULL ? UV_ENOMEM : uv_timer_init(loop, timer);
    if (status != 0) {
      free(timer);
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_SETUP, "cannot watch capture device %s: %s", c->device,
                      uv_strerror(status));
      return false;
    }
    timer->data = c;
    c->device_check = timer; /* capture_close_native() owns it too */
    uv_unref((uv_handle_t *)timer); /* a check alone does not keep Node running */
    uv_timer_start(timer, on_device_check, DEVICE_CHECK_INTERVAL_MS, DEVICE_CHECK_INTERVAL_MS);
  }
  return c->paused || capture_watch_resume(env, c);
}

bool capture_watch_resume(napi_env env, capture *c) {
  int status = uv_poll_start(c->poll, UV_READABLE, on_readable);
  if (status != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_SETUP, "cannot watch capture on %s: %s", c->device, uv_strerror(status));
    return false;
  }
  c->polling = true;
  return true;
}
