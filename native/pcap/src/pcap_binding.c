/*
 * imds_pcap: a small Node-API binding to libpcap for live capture.
 *
 * Why our own binding: the `cap` package gives neither packet timestamps nor pcap_stats, and the
 * readiness verdict needs both (capture time for the event order, drop counts to know whether
 * "no v1 seen" can be trusted).
 *
 * Shape (wrapped by src/live/pcap-source.ts, which is the only intended caller):
 *   open(device, { filter, snaplenBytes?, bufferSizeBytes?, maxBatchPackets?,
 *                  networkNamespacePath? }) -> PcapHandle
 *   handle.start(onBatch(records: Buffer, packets: number), onError(error: Error))
 *   handle.pause() / handle.resume()   stop / restart reading (output backpressure)
 *   handle.stats() -> { received, droppedByKernel, droppedByInterface, droppedByAddon }
 *   handle.close() -> the final stats: stops reading, delivers what is still buffered, closes
 *   properties: device, linkType, linkTypeName, timePrecisionDigits, warning, snaplenBytes,
 *               bufferSizeBytes, maxBatchPackets
 *   dropCapabilities(keep: string[]) -> { kept, threads, threadsNotDropped, problem }
 *               keep only the named capabilities (CAP_SYS_PTRACE, ...) on every thread (`kept`:
 *               those of them the calling thread really holds afterwards), with
 *               no_new_privs: called once capture is set up (capabilities.c)
 *   reserveFileSpace(fd, offset, length) -> 0 or errno: fallocate(FALLOC_FL_KEEP_SIZE) for the
 *               events file, so a full disk refuses whole lines
 *
 * Reading never blocks Node: libpcap's selectable fd is watched with a uv_poll handle on Node's
 * own loop, and when it is readable pcap_dispatch (non-blocking) runs in batches. Each batch is
 * copied into ONE Buffer (libpcap reuses its ring slots once pcap_dispatch returns) and handed to
 * JS in one call. Records in that Buffer, all integers little-endian u32:
 *   [0] seconds since the epoch   [4] nanoseconds within the second
 *   [8] captured length           [12] original (wire) length
 *   [16 ..] captured bytes, zero-padded to a multiple of 4
 *
 * Errors thrown to JS are Error objects with a `code` (E_PCAP_*); wrong argument types are
 * TypeErrors, out-of-range numbers RangeErrors. Nothing a caller passes can crash the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <net/if.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <node_api.h>
#include <pcap/pcap.h>
#include <uv.h>

#include "capabilities.h"

/* ------------------------------------------------------------------------------------------ */
/* Limits                                                                                       */
/* ------------------------------------------------------------------------------------------ */
#define RECORD_HEADER_BYTES 16u
/* Enough for an IMDS request head, even on lo with its 64 KiB MTU segments. */
#define DEFAULT_SNAPLEN_BYTES 65535u
#define MIN_SNAPLEN_BYTES 64u
#define MAX_SNAPLEN_BYTES 262144u
/* The kernel ring: what absorbs a burst while JS is busy. */
#define DEFAULT_BUFFER_SIZE_BYTES (8u * 1024u * 1024u)
#define MIN_BUFFER_SIZE_BYTES (64u * 1024u)
#define MAX_BUFFER_SIZE_BYTES (1024u * 1024u * 1024u)
/* Packets per pcap_dispatch call, i.e. per JS callback. */
/* Longest a captured packet waits in a ring block before it is handed over (see pcap_activate). */
#define RING_BLOCK_TIMEOUT_MS 20
/* How often a capture on a named interface checks that the name still stands for the interface
 * it is bound to (see on_device_check): the kernel's own report can be missed. */
#define DEVICE_CHECK_INTERVAL_MS 1000
#define DEFAULT_BATCH_PACKETS 64u
#define MAX_BATCH_PACKETS 4096u
/* The batch buffer holds a whole batch of snaplen-sized packets; this caps its size (the packet
 * count per batch is lowered to fit). */
#define MAX_BATCH_BYTES (16u * 1024u * 1024u)
/* Batches read per wakeup before giving the event loop back (level-triggered: it calls again). */
#define MAX_BATCHES_PER_WAKEUP 8
/* close() drains at most this many batches, so a flood cannot keep close() from returning. */
#define MAX_DRAIN_BATCHES 4096
#define MAX_DEVICE_NAME_BYTES 255u
#define MAX_FILTER_BYTES 65536u
#define MAX_PATH_BYTES 4096u
#define MESSAGE_BYTES 1024u

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                       */
/* ------------------------------------------------------------------------------------------ */
typedef enum { ERROR_PLAIN, ERROR_TYPE, ERROR_RANGE } error_kind;

static void throw_formatted(napi_env env, error_kind kind, const char *code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static void throw_formatted(napi_env env, error_kind kind, const char *code, const char *format, ...) {
  char message[MESSAGE_BYTES];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  switch (kind) {
    case ERROR_TYPE: napi_throw_type_error(env, code, message); break;
    case ERROR_RANGE: napi_throw_range_error(env, code, message); break;
    default: napi_throw_error(env, code, message); break;
  }
}

/* A Node-API call failed (out of memory, a bug): throw unless something is already thrown. */
static void throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *detail = info != NULL && info->error_message != NULL ? info->error_message : "unknown error";
  char message[MESSAGE_BYTES];
  snprintf(message, sizeof message, "Node-API call failed: %s: %s", call, detail);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "E_PCAP_INTERNAL", message);
}

#define NAPI_CALL(env, call)                       \
  do {                                             \
    if ((call) != napi_ok) {                       \
      throw_napi_failure((env), #call);            \
      return NULL;                                 \
    }                                              \
  } while (0)

/* ------------------------------------------------------------------------------------------ */
/* The capture                                                                                  */
/* ------------------------------------------------------------------------------------------ */
typedef struct capture {
  napi_env env;
  pcap_t *pcap; /* NULL once closed */
  char *device;
  int fd;
  int ifindex; /* the interface the socket is bound to; 0 on "any" or when unknown */
  /* Heap-allocated: uv_close finishes on a later loop turn, possibly after this struct is freed
   * by the wrapper's finalizer. */
  uv_poll_t *poll;
  uv_timer_t *device_check; /* NULL on "any"; heap-allocated like poll */
  bool started;
  bool polling;
  bool paused;
  bool failed;     /* a read error stopped polling for good */
  bool delivering; /* inside the JS batch callback: close() must wait */
  bool cleanup_hook_added;
  bool nano;
  uint32_t snaplen;
  uint32_t buffer_size;
  uint32_t batch_packets;
  napi_ref self_ref; /* strong while started: a running capture is not garbage */
  napi_ref on_batch_ref;
  napi_ref on_error_ref;
  napi_async_context async_context;
  uint8_t *batch;
  size_t batch_capacity;
  size_t batch_used;
  uint32_t batch_count;
  /* Packets that did not fit the batch buffer (cannot happen while libpcap keeps caplen <=
   * snaplen and count <= cnt; counted rather than trusted). */
  uint64_t dropped_by_addon;
  struct pcap_stat final_stats;
  bool have_final_stats;
} capture;

typedef struct module_data {
  napi_ref constructor_ref;
} module_data;

static size_t padded_to_4(size_t length) { return (length + 3u) & ~(size_t)3u; }

static void put_u32_le(uint8_t *out, uint32_t value) {
  out[0] = (uint8_t)value;
  out[1] = (uint8_t)(value >> 8);
  out[2] = (uint8_t)(value >> 16);
  out[3] = (uint8_t)(value >> 24);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes) {
  capture *c = (capture *)user;
  uint32_t captured = header->caplen;
  if (captured > c->snaplen) captured = c->snaplen;
  size_t needed = RECORD_HEADER_BYTES + padded_to_4(captured);
  if (c->batch_used + needed > c->batch_capacity) {
    c->dropped_by_addon++;
    return;
  }
  uint8_t *record = c->batch + c->batch_used;
  /* With nanosecond precision libpcap puts nanoseconds in tv_usec. */
  uint32_t fraction = c->nano ? (uint32_t)header->ts.tv_usec : (uint32_t)header->ts.tv_usec * 1000u;
  put_u32_le(record, (uint32_t)header->ts.tv_sec);
  put_u32_le(record + 4, fraction);
  put_u32_le(record + 8, captured);
  put_u32_le(record + 12, header->len);
  memcpy(record + RECORD_HEADER_BYTES, bytes, captured);
  memset(record + RECORD_HEADER_BYTES + captured, 0, needed - RECORD_HEADER_BYTES - captured);
  c->batch_used += needed;
  c->batch_count++;
}

/* One pcap_dispatch into the batch buffer: packets read, 0 when none is waiting, < 0 on error. */
static int read_batch(capture *c) {
  c->batch_used = 0;
  c->batch_count = 0;
  return pcap_dispatch(c->pcap, (int)c->batch_packets, on_packet, (u_char *)c);
}

static void read_error_message(capture *c, int status, char *out, size_t size) {
  snprintf(out, size, "reading packets from %s failed: %s", c->device,
           status == PCAP_ERROR ? pcap_geterr(c->pcap) : pcap_statustostr(status));
}

static void free_handle(uv_handle_t *handle) { free(handle); }

static void stop_polling(capture *c) {
  if (c->polling) {
    uv_poll_stop(c->poll);
    c->polling = false;
  }
}

/* Closes libpcap and the poll handle; no JS. Safe to call more than once. */
static void close_native(capture *c) {
  stop_polling(c);
  if (c->poll != NULL) {
    c->poll->data = NULL;
    uv_close((uv_handle_t *)c->poll, free_handle);
    c->poll = NULL;
  }
  if (c->device_check != NULL) {
    uv_timer_stop(c->device_check);
    c->device_check->data = NULL;
    uv_close((uv_handle_t *)c->device_check, free_handle);
    c->device_check = NULL;
  }
  if (c->pcap != NULL) {
    struct pcap_stat stats;
    if (pcap_stats(c->pcap, &stats) == 0) {
      c->final_stats = stats;
      c->have_final_stats = true;
    }
    pcap_close(c->pcap);
    c->pcap = NULL;
  }
}

static void on_env_cleanup(void *arg) {
  capture *c = (capture *)arg;
  c->cleanup_hook_added = false;
  close_native(c);
}

static void release_js(capture *c) {
  napi_env env = c->env;
  if (c->on_batch_ref != NULL) napi_delete_reference(env, c->on_batch_ref);
  if (c->on_error_ref != NULL) napi_delete_reference(env, c->on_error_ref);
  if (c->self_ref != NULL) napi_delete_reference(env, c->self_ref);
  if (c->async_context != NULL) napi_async_destroy(env, c->async_context);
  c->on_batch_ref = NULL;
  c->on_error_ref = NULL;
  c->self_ref = NULL;
  c->async_context = NULL;
}

static void remove_cleanup_hook(capture *c) {
  if (c->cleanup_hook_added) {
    napi_remove_env_cleanup_hook(c->env, on_env_cleanup, c);
    c->cleanup_hook_added = false;
  }
}

static void finalize_capture(napi_env env, void *data, void *hint) {
  capture *c = (capture *)data;
  close_native(c);
  remove_cleanup_hook(c);
  free(c->batch);
  free(c->device);
  free(c);
}

/* Calls onError(error) from the event loop (not from a JS call). */
static void report_error_async(capture *c, const char *code, const char *message) {
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value code_value, message_value, error, callback, self;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) == napi_ok &&
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) == napi_ok &&
      napi_create_error(env, code_value, message_value, &error) == napi_ok &&
      napi_get_reference_value(env, c->on_error_ref, &callback) == napi_ok &&
      napi_get_reference_value(env, c->self_ref, &self) == napi_ok) {
    napi_status status = napi_make_callback(env, c->async_context, self, callback, 1, &error, NULL);
    if (status == napi_pending_exception) {
      napi_value thrown;
      napi_get_and_clear_last_exception(env, &thrown);
      napi_fatal_exception(env, thrown);
    }
  }
  napi_close_handle_scope(env, scope);
}

/*
 * Hands the batch buffer to onBatch. From the event loop (from_event_loop) it goes through
 * napi_make_callback, so microtasks run after it and a throw becomes an uncaught exception; from
 * close() it is a plain call and a throw stays pending for close() to return. Returns false when
 * the callback threw.
 */
static bool deliver_batch(capture *c, bool from_event_loop) {
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  bool ok = false;
  napi_value argv[2], callback, self;
  if (napi_create_buffer_copy(env, c->batch_used, c->batch, NULL, &argv[0]) == napi_ok &&
      napi_create_uint32(env, c->batch_count, &argv[1]) == napi_ok &&
      napi_get_reference_value(env, c->on_batch_ref, &callback) == napi_ok &&
      napi_get_reference_value(env, c->self_ref, &self) == napi_ok) {
    c->delivering = true;
    napi_status status = from_event_loop
                             ? napi_make_callback(env, c->async_context, self, callback, 2, argv, NULL)
                             : napi_call_function(env, self, callback, 2, argv, NULL);
    c->delivering = false;
    ok = status == napi_ok;
    if (!ok && from_event_loop) {
      napi_value thrown;
      if (napi_get_and_clear_last_exception(env, &thrown) == napi_ok) napi_fatal_exception(env, thrown);
    }
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

/* The index of interface `device` in the namespace of socket `fd` (the capture's own, even when
 * it was opened in another one): > 0, 0 when no interface has that name, -1 when unknown. */
static int ifindex_of_name(int fd, const char *device) {
  struct ifreq request;
  memset(&request, 0, sizeof request);
  size_t length = strlen(device);
  if (length >= sizeof request.ifr_name) return -1;
  memcpy(request.ifr_name, device, length + 1);
  if (ioctl(fd, SIOCGIFINDEX, &request) == 0) return request.ifr_ifindex;
  return errno == ENODEV ? 0 : -1;
}

/* The interface the packet socket is bound to (libpcap binds it by index at activation). */
static int bound_ifindex(int fd) {
  struct sockaddr_ll address;
  socklen_t length = sizeof address;
  memset(&address, 0, sizeof address);
  if (getsockname(fd, (struct sockaddr *)&address, &length) != 0 || address.sll_family != AF_PACKET) return 0;
  return address.sll_ifindex > 0 ? address.sll_ifindex : 0;
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
  int now = c->ifindex > 0 ? ifindex_of_name(c->fd, c->device) : -1;
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
 * handed over up to RING_BLOCK_TIMEOUT_MS later): deliver them before the error, as close()
 * does, or the last calls of a container that is being removed would be lost.
 */
static void drain_after_poll_error(capture *c) {
  bool waited_for_block = false;
  for (int round = 0; round < MAX_DRAIN_BATCHES; round++) {
    int read = read_batch(c);
    if (read > 0 && c->batch_count > 0 && !deliver_batch(c, true)) return;
    if (c->pcap == NULL) return;
    if (read <= 0) {
      if (waited_for_block) return;
      waited_for_block = true;
      usleep((RING_BLOCK_TIMEOUT_MS + 10) * 1000);
    }
  }
}

/* Stops reading for good: names the cause, delivers what the ring still holds, calls onError. */
static void fail_after_poll_error(capture *c, int status) {
  char message[MESSAGE_BYTES];
  stop_polling(c);
  c->failed = true;
  poll_error_message(c, status, message, sizeof message);
  drain_after_poll_error(c);
  if (c->pcap == NULL) return;
  report_error_async(c, "E_PCAP_READ", message);
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
  int now = ifindex_of_name(c->fd, c->device);
  if (now < 0 || now == c->ifindex) return;
  fail_after_poll_error(c, UV_EBADF);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  capture *c = (capture *)poll->data;
  if (c == NULL || c->pcap == NULL || !c->polling) return;
  char message[MESSAGE_BYTES];
  if (status < 0) {
    fail_after_poll_error(c, status);
    return;
  }
  for (int round = 0; round < MAX_BATCHES_PER_WAKEUP; round++) {
    int read = read_batch(c);
    if (read < 0) {
      stop_polling(c);
      c->failed = true;
      read_error_message(c, read, message, sizeof message);
      report_error_async(c, "E_PCAP_READ", message);
      return;
    }
    if (c->batch_count > 0) deliver_batch(c, true);
    /* The callback may have paused us (backpressure). close() from inside it is refused. */
    if (c->pcap == NULL || !c->polling) return;
    if ((uint32_t)read < c->batch_packets) return;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers                                                                             */
/* ------------------------------------------------------------------------------------------ */
/* Copies a JS string into a new malloc'd buffer; NULL with an exception thrown on failure. */
static char *get_string(napi_env env, napi_value value, const char *name, size_t max_bytes) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "%s must be a string", name);
    return NULL;
  }
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (length > max_bytes) {
    throw_formatted(env, ERROR_RANGE, "E_OUT_OF_RANGE", "%s is longer than %zu bytes", name, max_bytes);
    return NULL;
  }
  char *text = malloc(length + 1);
  if (text == NULL) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_INTERNAL", "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (strlen(text) != length) {
    free(text);
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_VALUE", "%s must not contain NUL characters", name);
    return NULL;
  }
  return text;
}

/* Reads options[name] when present: *present tells; returns false with an exception thrown. */
static bool get_property(napi_env env, napi_value object, const char *name, napi_value *value, bool *present) {
  bool has = false;
  if (napi_has_named_property(env, object, name, &has) != napi_ok) {
    throw_napi_failure(env, "napi_has_named_property");
    return false;
  }
  *present = false;
  if (!has) return true;
  if (napi_get_named_property(env, object, name, value) != napi_ok) {
    throw_napi_failure(env, "napi_get_named_property");
    return false;
  }
  napi_valuetype type;
  if (napi_typeof(env, *value, &type) != napi_ok) {
    throw_napi_failure(env, "napi_typeof");
    return false;
  }
  *present = type != napi_undefined;
  return true;
}

static bool get_optional_uint32(napi_env env, napi_value options, const char *name, uint32_t fallback, uint32_t min,
                                uint32_t max, uint32_t *out) {
  napi_value value;
  bool present;
  if (!get_property(env, options, name, &value, &present)) return false;
  if (!present) {
    *out = fallback;
    return true;
  }
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, value, &number) != napi_ok) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "options.%s must be a number", name);
    return false;
  }
  if (!(number >= min && number <= max) || number != (double)(uint32_t)number) {
    throw_formatted(env, ERROR_RANGE, "E_OUT_OF_RANGE", "options.%s must be an integer from %u to %u, got %g", name, min,
                    max, number);
    return false;
  }
  *out = (uint32_t)number;
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Opening                                                                                      */
/* ------------------------------------------------------------------------------------------ */
typedef struct open_options {
  const char *device;
  const char *filter;
  const char *netns_path; /* NULL: the caller's own network namespace */
  uint32_t snaplen;
  uint32_t buffer_size;
  uint32_t batch_packets;
} open_options;

/* Activation failure -> code and message; libpcap's own text (pcap_geterr) is the detail. */
static void throw_activate_error(napi_env env, pcap_t *pcap, int status, const char *device) {
  const char *detail = pcap_geterr(pcap);
  if (detail == NULL || detail[0] == '\0') detail = pcap_statustostr(status);
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_NO_SUCH_DEVICE", "no such capture device %s: %s", device, detail);
      break;
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_PERMISSION",
                      "permission denied opening capture device %s: run as root (or with CAP_NET_RAW): %s", device,
                      detail);
      break;
    case PCAP_ERROR_IFACE_NOT_UP:
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_INTERFACE_DOWN", "capture device %s is not up: %s", device, detail);
      break;
    default:
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_ACTIVATE", "cannot open capture device %s: %s (%s)", device, detail,
                      pcap_statustostr(status));
      break;
  }
}

/*
 * pcap_create .. pcap_activate. The packet socket is created in the calling thread's network
 * namespace, so with a namespace path we enter it for these calls only and come straight back;
 * the socket keeps capturing in the namespace it was made in.
 */
static pcap_t *create_and_activate(napi_env env, const open_options *options, char *warning, size_t warning_size,
                                   bool *nano) {
  int original_ns = -1;
  int target_ns = -1;
  if (options->netns_path != NULL) {
    original_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ns < 0) {
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_NETNS", "cannot open the current network namespace: %s", strerror(errno));
      return NULL;
    }
    target_ns = open(options->netns_path, O_RDONLY | O_CLOEXEC);
    if (target_ns < 0) {
      int error = errno;
      close(original_ns);
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_NETNS", "cannot open network namespace %s: %s", options->netns_path,
                      strerror(error));
      return NULL;
    }
    if (setns(target_ns, CLONE_NEWNET) != 0) {
      int error = errno;
      close(original_ns);
      close(target_ns);
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_NETNS", "cannot enter network namespace %s: %s%s", options->netns_path,
                      strerror(error), error == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
      return NULL;
    }
    close(target_ns);
  }

  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pcap = pcap_create(options->device, errbuf);
  int activated = PCAP_ERROR;
  bool precision_set = false;
  if (pcap != NULL) {
    pcap_set_snaplen(pcap, (int)options->snaplen);
    pcap_set_promisc(pcap, 0);
    /* Not immediate mode. In immediate mode libpcap uses TPACKET_V2, one fixed snaplen-sized slot
     * per packet, so 32 MiB held only ~2,000 packets of 16 KiB snaplen (tens of ms of IMDS load).
     * TPACKET_V3 packs packets into blocks by their real size and hands a block over when it
     * is full or RING_BLOCK_TIMEOUT_MS after its first packet: the same memory holds ~100x more. */
    pcap_set_immediate_mode(pcap, 0);
    pcap_set_timeout(pcap, RING_BLOCK_TIMEOUT_MS);
    pcap_set_buffer_size(pcap, (int)options->buffer_size);
    precision_set = pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO) == 0;
    activated = pcap_activate(pcap);
  }

  if (original_ns >= 0) {
    /* Staying in the other namespace would silently move this whole thread's networking. */
    if (setns(original_ns, CLONE_NEWNET) != 0) napi_fatal_error("imds_pcap", NAPI_AUTO_LENGTH,
                                                                "cannot return to the original network namespace",
                                                                NAPI_AUTO_LENGTH);
    close(original_ns);
  }

  if (pcap == NULL) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_CREATE", "cannot open capture device %s: %s", options->device, errbuf);
    return NULL;
  }
  if (activated < 0) {
    throw_activate_error(env, pcap, activated, options->device);
    pcap_close(pcap);
    return NULL;
  }
  *nano = pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO;
  size_t used = 0;
  if (activated > 0) {
    const char *detail = activated == PCAP_WARNING ? pcap_geterr(pcap) : pcap_statustostr(activated);
    used += (size_t)snprintf(warning, warning_size, "%s: %s", options->device, detail);
  }
  if (!*nano && used < warning_size) {
    snprintf(warning + used, warning_size - used, "%s%s: nanosecond timestamps %s: using microseconds",
             used > 0 ? "; " : "", options->device, precision_set ? "not delivered" : "not supported");
  }
  return pcap;
}

static bool install_filter(napi_env env, pcap_t *pcap, const open_options *options) {
  struct bpf_program program;
  if (pcap_compile(pcap, &program, options->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_FILTER", "invalid capture filter \"%s\": %s", options->filter,
                    pcap_geterr(pcap));
    return false;
  }
  int status = pcap_setfilter(pcap, &program);
  pcap_freecode(&program);
  if (status != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_FILTER", "cannot install capture filter \"%s\" on %s: %s", options->filter,
                    options->device, pcap_geterr(pcap));
    return false;
  }
  return true;
}

static capture *open_capture(napi_env env, const open_options *options, char *warning, size_t warning_size) {
  bool nano = false;
  pcap_t *pcap = create_and_activate(env, options, warning, warning_size, &nano);
  if (pcap == NULL) return NULL;
  if (!install_filter(env, pcap, options)) {
    pcap_close(pcap);
    return NULL;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  if (pcap_setnonblock(pcap, 1, errbuf) != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "cannot make capture on %s non-blocking: %s", options->device,
                    errbuf);
    pcap_close(pcap);
    return NULL;
  }
  int fd = pcap_get_selectable_fd(pcap);
  if (fd < 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "capture on %s has no selectable file descriptor",
                    options->device);
    pcap_close(pcap);
    return NULL;
  }

  /* A batch holds batch_packets records of at most snaplen bytes; fewer packets if that would
   * exceed MAX_BATCH_BYTES. Allocated once: the packet path never allocates. */
  size_t record_max = RECORD_HEADER_BYTES + padded_to_4(options->snaplen);
  uint32_t batch_packets = options->batch_packets;
  if ((size_t)batch_packets * record_max > MAX_BATCH_BYTES) batch_packets = (uint32_t)(MAX_BATCH_BYTES / record_max);
  if (batch_packets == 0) batch_packets = 1;

  capture *c = calloc(1, sizeof *c);
  char *device = strdup(options->device);
  uint8_t *batch = malloc((size_t)batch_packets * record_max);
  if (c == NULL || device == NULL || batch == NULL) {
    free(c);
    free(device);
    free(batch);
    pcap_close(pcap);
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_INTERNAL", "out of memory");
    return NULL;
  }
  c->env = env;
  c->pcap = pcap;
  c->device = device;
  c->fd = fd;
  c->ifindex = bound_ifindex(fd);
  c->nano = nano;
  c->snaplen = options->snaplen;
  c->buffer_size = options->buffer_size;
  c->batch_packets = batch_packets;
  c->batch = batch;
  c->batch_capacity = (size_t)batch_packets * record_max;
  return c;
}

/* ------------------------------------------------------------------------------------------ */
/* JS methods                                                                                   */
/* ------------------------------------------------------------------------------------------ */
static capture *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_get_cb_info");
    return NULL;
  }
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, self, &type) != napi_ok || type != napi_object || napi_unwrap(env, self, &data) != napi_ok ||
      data == NULL) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_THIS", "method called on something that is not an open PcapHandle");
    return NULL;
  }
  return (capture *)data;
}

static napi_value make_stats(napi_env env, const struct pcap_stat *stats, uint64_t dropped_by_addon) {
  napi_value result, value;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_uint32(env, stats->ps_recv, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "received", value));
  NAPI_CALL(env, napi_create_uint32(env, stats->ps_drop, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "droppedByKernel", value));
  NAPI_CALL(env, napi_create_uint32(env, stats->ps_ifdrop, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "droppedByInterface", value));
  NAPI_CALL(env, napi_create_double(env, (double)dropped_by_addon, &value));
  NAPI_CALL(env, napi_set_named_property(env, result, "droppedByAddon", value));
  return result;
}

static bool check_open(napi_env env, capture *c, const char *method) {
  if (c->pcap != NULL) return true;
  throw_formatted(env, ERROR_PLAIN, "E_PCAP_CLOSED", "%s() on capture device %s: the capture is closed", method,
                  c->device);
  return false;
}

static napi_value method_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  capture *c = unwrap_this(env, info, &argc, argv);
  if (c == NULL || !check_open(env, c, "start")) return NULL;
  if (c->started) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_STARTED", "capture on %s is already started", c->device);
    return NULL;
  }
  for (size_t index = 0; index < 2; index++) {
    napi_valuetype type = napi_undefined;
    if (index < argc) napi_typeof(env, argv[index], &type);
    if (type != napi_function) {
      throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "start(onBatch, onError): %s must be a function",
                      index == 0 ? "onBatch" : "onError");
      return NULL;
    }
  }
  uv_loop_t *loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  napi_value self, resource_name;
  NAPI_CALL(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  NAPI_CALL(env, napi_create_string_utf8(env, "imds-analyzer:pcap", NAPI_AUTO_LENGTH, &resource_name));

  if (napi_create_reference(env, argv[0], 1, &c->on_batch_ref) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &c->on_error_ref) != napi_ok ||
      napi_create_reference(env, self, 1, &c->self_ref) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &c->async_context) != napi_ok) {
    throw_napi_failure(env, "napi_create_reference");
    release_js(c);
    return NULL;
  }
  uv_poll_t *poll = malloc(sizeof *poll);
  int status = poll == NULL ? UV_ENOMEM : uv_poll_init(loop, poll, c->fd);
  if (status != 0) {
    free(poll);
    release_js(c);
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "cannot watch capture on %s: %s", c->device, uv_strerror(status));
    return NULL;
  }
  poll->data = c;
  c->poll = poll; /* from here on close_native() owns it */
  c->started = true;
  if (c->ifindex > 0) {
    uv_timer_t *timer = malloc(sizeof *timer);
    status = timer == NULL ? UV_ENOMEM : uv_timer_init(loop, timer);
    if (status != 0) {
      free(timer);
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "cannot watch capture device %s: %s", c->device,
                      uv_strerror(status));
      return NULL;
    }
    timer->data = c;
    c->device_check = timer; /* close_native() owns it too */
    uv_unref((uv_handle_t *)timer); /* a check alone does not keep Node running */
    uv_timer_start(timer, on_device_check, DEVICE_CHECK_INTERVAL_MS, DEVICE_CHECK_INTERVAL_MS);
  }
  if (!c->paused) {
    status = uv_poll_start(poll, UV_READABLE, on_readable);
    if (status != 0) {
      throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "cannot watch capture on %s: %s", c->device,
                      uv_strerror(status));
      return NULL;
    }
    c->polling = true;
  }
  return NULL;
}

static napi_value method_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  c->paused = true;
  stop_polling(c);
  return NULL;
}

static napi_value method_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  c->paused = false;
  if (c->pcap == NULL || !c->started || c->polling || c->failed) return NULL;
  int status = uv_poll_start(c->poll, UV_READABLE, on_readable);
  if (status != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_SETUP", "cannot watch capture on %s: %s", c->device, uv_strerror(status));
    return NULL;
  }
  c->polling = true;
  return NULL;
}

static napi_value method_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL || !check_open(env, c, "stats")) return NULL;
  struct pcap_stat stats;
  if (pcap_stats(c->pcap, &stats) != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_STATS", "cannot read capture statistics of %s: %s", c->device,
                    pcap_geterr(c->pcap));
    return NULL;
  }
  return make_stats(env, &stats, c->dropped_by_addon);
}

/*
 * Stops reading, delivers every packet still buffered (bounded by MAX_DRAIN_BATCHES), reads the
 * final statistics and closes. Idempotent: later calls return the same final statistics (null
 * when they could not be read). Refused from inside onBatch: the batch being delivered would be
 * overtaken by the drained ones.
 */
static napi_value method_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  if (c->delivering) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_BUSY",
                    "close() on capture device %s called from inside the packet callback: call it after it returns",
                    c->device);
    return NULL;
  }
  char read_error[MESSAGE_BYTES] = "";
  bool callback_threw = false;
  if (c->pcap != NULL) {
    stop_polling(c);
    if (c->started && !c->failed) {
      bool waited_for_block = false;
      for (int round = 0; round < MAX_DRAIN_BATCHES; round++) {
        int read = read_batch(c);
        if (read < 0) {
          read_error_message(c, read, read_error, sizeof read_error);
          break;
        }
        if (c->batch_count > 0 && !deliver_batch(c, false)) {
          callback_threw = true;
          break;
        }
        if (read == 0) {
          /* Packets in the ring block being filled become readable only when the kernel hands
           * the block over, at most RING_BLOCK_TIMEOUT_MS after its first packet: wait once. */
          if (waited_for_block) break;
          waited_for_block = true;
          usleep((RING_BLOCK_TIMEOUT_MS + 10) * 1000);
        }
      }
    }
    close_native(c);
    release_js(c);
    remove_cleanup_hook(c);
  }
  if (callback_threw) return NULL; /* the callback's exception propagates out of close() */
  if (read_error[0] != '\0') {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_READ", "%s", read_error);
    return NULL;
  }
  if (!c->have_final_stats) {
    napi_value null_value;
    NAPI_CALL(env, napi_get_null(env, &null_value));
    return null_value;
  }
  return make_stats(env, &c->final_stats, c->dropped_by_addon);
}

/* ------------------------------------------------------------------------------------------ */
/* Construction                                                                                 */
/* ------------------------------------------------------------------------------------------ */
static bool define_value(napi_env env, napi_value object, const char *name, napi_value value) {
  napi_property_descriptor descriptor = {name, NULL, NULL, NULL, NULL, value, napi_enumerable, NULL};
  if (napi_define_properties(env, object, 1, &descriptor) != napi_ok) {
    throw_napi_failure(env, "napi_define_properties");
    return false;
  }
  return true;
}

static bool define_string(napi_env env, napi_value object, const char *name, const char *text) {
  napi_value value;
  napi_status status = text == NULL ? napi_get_null(env, &value)
                                    : napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  if (status != napi_ok) {
    throw_napi_failure(env, "napi_create_string_utf8");
    return false;
  }
  return define_value(env, object, name, value);
}

static bool define_uint32(napi_env env, napi_value object, const char *name, uint32_t number) {
  napi_value value;
  if (napi_create_uint32(env, number, &value) != napi_ok) {
    throw_napi_failure(env, "napi_create_uint32");
    return false;
  }
  return define_value(env, object, name, value);
}

/* new PcapHandle(device, options): opens and activates; see the file comment. */
static napi_value construct_handle(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, new_target;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  NAPI_CALL(env, napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_CALL", "PcapHandle must be created with open(device, options)");
    return NULL;
  }
  if (argc < 2) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "open(device, options): both arguments are required");
    return NULL;
  }
  napi_valuetype options_type;
  NAPI_CALL(env, napi_typeof(env, argv[1], &options_type));
  if (options_type != napi_object) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "open(device, options): options must be an object");
    return NULL;
  }

  open_options options = {0};
  char *device = NULL;
  char *filter = NULL;
  char *netns_path = NULL;
  capture *c = NULL;
  napi_value result = NULL;
  napi_value value;
  bool present;
  char warning[MESSAGE_BYTES] = "";

  device = get_string(env, argv[0], "device", MAX_DEVICE_NAME_BYTES);
  if (device == NULL) goto done;
  if (device[0] == '\0') {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_VALUE", "device must not be empty");
    goto done;
  }
  if (!get_property(env, argv[1], "filter", &value, &present)) goto done;
  if (!present) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "options.filter must be a string");
    goto done;
  }
  filter = get_string(env, value, "options.filter", MAX_FILTER_BYTES);
  if (filter == NULL) goto done;
  if (!get_property(env, argv[1], "networkNamespacePath", &value, &present)) goto done;
  if (present) {
    netns_path = get_string(env, value, "options.networkNamespacePath", MAX_PATH_BYTES);
    if (netns_path == NULL) goto done;
  }
  if (!get_optional_uint32(env, argv[1], "snaplenBytes", DEFAULT_SNAPLEN_BYTES, MIN_SNAPLEN_BYTES, MAX_SNAPLEN_BYTES,
                           &options.snaplen) ||
      !get_optional_uint32(env, argv[1], "bufferSizeBytes", DEFAULT_BUFFER_SIZE_BYTES, MIN_BUFFER_SIZE_BYTES,
                           MAX_BUFFER_SIZE_BYTES, &options.buffer_size) ||
      !get_optional_uint32(env, argv[1], "maxBatchPackets", DEFAULT_BATCH_PACKETS, 1, MAX_BATCH_PACKETS,
                           &options.batch_packets)) {
    goto done;
  }
  options.device = device;
  options.filter = filter;
  options.netns_path = netns_path;

  c = open_capture(env, &options, warning, sizeof warning);
  if (c == NULL) goto done;
  if (napi_wrap(env, self, c, finalize_capture, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_wrap");
    close_native(c);
    free(c->batch);
    free(c->device);
    free(c);
    goto done;
  }
  /* From here the finalizer owns c. */
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, c) == napi_ok) c->cleanup_hook_added = true;
  int link_type = pcap_datalink(c->pcap);
  if (!define_string(env, self, "device", c->device) || !define_uint32(env, self, "linkType", (uint32_t)link_type) ||
      !define_string(env, self, "linkTypeName", pcap_datalink_val_to_name(link_type)) ||
      !define_uint32(env, self, "timePrecisionDigits", c->nano ? 9 : 6) ||
      !define_string(env, self, "warning", warning[0] != '\0' ? warning : NULL) ||
      !define_uint32(env, self, "snaplenBytes", c->snaplen) ||
      !define_uint32(env, self, "bufferSizeBytes", c->buffer_size) ||
      !define_uint32(env, self, "maxBatchPackets", c->batch_packets)) {
    close_native(c);
    goto done;
  }
  result = self;

done:
  free(device);
  free(filter);
  free(netns_path);
  return result;
}

static napi_value export_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], constructor, instance;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  module_data *data = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&data));
  NAPI_CALL(env, napi_get_reference_value(env, data->constructor_ref, &constructor));
  if (napi_new_instance(env, constructor, argc, argv, &instance) != napi_ok) {
    throw_napi_failure(env, "napi_new_instance");
    return NULL;
  }
  return instance;
}

/* dropCapabilities(keep: string[]): see capabilities.c. */
static napi_value export_drop_capabilities(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "dropCapabilities(keep): keep must be an array of capability names");
    return NULL;
  }
  uint32_t count = 0;
  NAPI_CALL(env, napi_get_array_length(env, argv[0], &count));
  uint64_t keep = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    NAPI_CALL(env, napi_get_element(env, argv[0], i, &element));
    char *name = get_string(env, element, "a capability name", 64);
    if (name == NULL) return NULL;
    int number = capability_number(name);
    if (number < 0) {
      throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_VALUE", "unknown capability name \"%s\" (expected e.g. CAP_SYS_PTRACE)", name);
      free(name);
      return NULL;
    }
    free(name);
    keep |= (uint64_t)1 << number;
  }
  capability_drop_result result;
  char problem[MESSAGE_BYTES] = "";
  if (drop_capabilities_everywhere(keep, &result, problem, sizeof problem) != 0) {
    throw_formatted(env, ERROR_PLAIN, "E_CAPABILITIES", "%s", problem);
    return NULL;
  }
  napi_value object, kept, value;
  NAPI_CALL(env, napi_create_object(env, &object));
  NAPI_CALL(env, napi_create_array(env, &kept));
  /* What the thread really holds now: root under a capability bounding set may never have held
   * some of what it was asked to keep. */
  uint64_t held = keep & capabilities_permitted();
  uint32_t index = 0;
  for (int number = 0; number < 64; number++) {
    if (!((held >> number) & 1u)) continue;
    const char *name = capability_name_of(number);
    if (name == NULL) continue;
    NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value));
    NAPI_CALL(env, napi_set_element(env, kept, index++, value));
  }
  NAPI_CALL(env, napi_set_named_property(env, object, "kept", kept));
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)result.threads, &value));
  NAPI_CALL(env, napi_set_named_property(env, object, "threads", value));
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)result.threads_not_dropped, &value));
  NAPI_CALL(env, napi_set_named_property(env, object, "threadsNotDropped", value));
  if (problem[0] != '\0') {
    NAPI_CALL(env, napi_create_string_utf8(env, problem, NAPI_AUTO_LENGTH, &value));
  } else {
    NAPI_CALL(env, napi_get_null(env, &value));
  }
  NAPI_CALL(env, napi_set_named_property(env, object, "problem", value));
  return object;
}

/*
 * reserveFileSpace(fd, offset, length) -> 0, or the errno of the failure: fallocate with
 * FALLOC_FL_KEEP_SIZE, so the next lines of the events file have their disk blocks before they
 * are written and a full disk refuses a whole line instead of taking part of it
 * (src/sink/rotating-event-file.ts). The file's size, what readers see, does not change.
 */
static napi_value export_reserve_file_space(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  int64_t offset = -1;
  int64_t length = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok) {
    throw_formatted(env, ERROR_TYPE, "E_INVALID_ARG_TYPE", "reserveFileSpace(fd, offset, length) takes three integers");
    return NULL;
  }
  if (fd < 0 || offset < 0 || length <= 0) {
    throw_formatted(env, ERROR_RANGE, "E_OUT_OF_RANGE", "reserveFileSpace: fd and offset must be >= 0 and length > 0");
    return NULL;
  }
  int result = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0 ? 0 : errno;
  napi_value value;
  NAPI_CALL(env, napi_create_int32(env, result, &value));
  return value;
}

static void finalize_module_data(napi_env env, void *data, void *hint) {
  module_data *module = (module_data *)data;
  napi_delete_reference(env, module->constructor_ref);
  free(module);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"start", NULL, method_start, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, method_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, method_resume, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, method_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, method_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, open_function, version;
  NAPI_CALL(env, napi_define_class(env, "PcapHandle", NAPI_AUTO_LENGTH, construct_handle, NULL,
                                   sizeof methods / sizeof methods[0], methods, &constructor));
  module_data *data = calloc(1, sizeof *data);
  if (data == NULL) {
    throw_formatted(env, ERROR_PLAIN, "E_PCAP_INTERNAL", "out of memory");
    return NULL;
  }
  if (napi_create_reference(env, constructor, 1, &data->constructor_ref) != napi_ok ||
      napi_set_instance_data(env, data, finalize_module_data, NULL) != napi_ok) {
    free(data);
    throw_napi_failure(env, "napi_set_instance_data");
    return NULL;
  }
  NAPI_CALL(env, napi_create_function(env, "open", NAPI_AUTO_LENGTH, export_open, NULL, &open_function));
  NAPI_CALL(env, napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &version));
  NAPI_CALL(env, napi_set_named_property(env, exports, "open", open_function));
  napi_value drop_function;
  NAPI_CALL(env, napi_create_function(env, "dropCapabilities", NAPI_AUTO_LENGTH, export_drop_capabilities, NULL, &drop_function));
  NAPI_CALL(env, napi_set_named_property(env, exports, "dropCapabilities", drop_function));
  napi_value reserve_function;
  NAPI_CALL(env, napi_create_function(env, "reserveFileSpace", NAPI_AUTO_LENGTH, export_reserve_file_space, NULL, &reserve_function));
  NAPI_CALL(env, napi_set_named_property(env, exports, "reserveFileSpace", reserve_function));
  NAPI_CALL(env, napi_set_named_property(env, exports, "PcapHandle", constructor));
  NAPI_CALL(env, napi_set_named_property(env, exports, "libraryVersion", version));
  return exports;
}
