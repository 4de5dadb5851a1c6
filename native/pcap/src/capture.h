/*
 * One live capture: a libpcap handle read in batches on Node's event loop, for the PcapHandle
 * objects of js_capture.c.
 *   capture_open.c   opening: network namespace, pcap_create .. pcap_activate, the filter;
 *   capture_read.c   reading: pcap_dispatch into one batch buffer, handing it to JS, closing;
 *   capture_watch.c  waiting: a uv_poll on libpcap's fd, and the check that the interface is
 *                    still the one the capture is bound to.
 * Batch records, all integers little-endian u32 (src/live/pcap-addon.ts pcapRecordLayout):
 *   [0] seconds since the epoch   [4] nanoseconds within the second
 *   [8] captured length           [12] original (wire) length
 *   [16 ..] captured bytes, zero-padded to a multiple of 4
 */
#ifndef IMDS_PCAP_CAPTURE_H
#define IMDS_PCAP_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>
#include <uv.h>

#include "libpcap.h"

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
/* Longest a captured packet waits in a ring block before it is handed over (see pcap_activate):
 * each handover is a wakeup of the event loop, so a longer wait batches the packets of calls
 * made at a low rate (the caller chooses; the latency of /proc attribution wants it short). */
#define DEFAULT_BLOCK_TIMEOUT_MS 20u
#define MIN_BLOCK_TIMEOUT_MS 1u
#define MAX_BLOCK_TIMEOUT_MS 1000u
/* How often a capture on a named interface checks that the name still stands for the interface
 * it is bound to (see on_device_check): the kernel's own report can be missed. */
#define DEVICE_CHECK_INTERVAL_MS 1000
/* Packets per pcap_dispatch call, i.e. per JS callback. */
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

/* Bytes one packet of `captured` bytes takes in the batch buffer: header, bytes, padding. */
static inline size_t capture_record_bytes(size_t captured) {
  return RECORD_HEADER_BYTES + ((captured + 3u) & ~(size_t)3u);
}

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
  uint32_t block_timeout_ms;
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

typedef struct capture_options {
  const char *device;
  const char *filter;
  const char *netns_path; /* NULL: the caller's own network namespace */
  uint32_t snaplen;
  uint32_t buffer_size;
  uint32_t batch_packets;
  uint32_t block_timeout_ms;
} capture_options;

/* capture_open.c */
/* Loads libpcap (libpcap.h), opens, activates and filters the device; NULL with a JS error
 * thrown. `warning` gets activation warnings and the microsecond fallback (empty when none). */
capture *capture_open(napi_env env, const capture_options *options, char *warning, size_t warning_size);
/* Frees what capture_open allocated (close it first). */
void capture_free(capture *c);

/* capture_read.c */
/* One pcap_dispatch into the batch buffer: packets read, 0 when none is waiting, < 0 on error. */
int capture_read_batch(capture *c);
/* The message for a failed capture_read_batch. */
void capture_read_error_message(capture *c, int status, char *out, size_t size);
/* Sleeps until the ring block being filled has surely been handed over (block_timeout_ms after
 * its first packet, and a margin): what a drain waits, once, before its last read. */
void capture_wait_for_open_block(const capture *c);
/*
 * Hands the batch buffer to onBatch. From the event loop (from_event_loop) it goes through
 * napi_make_callback, so microtasks run after it and a throw becomes an uncaught exception; from
 * close() it is a plain call and a throw stays pending for close() to return. Returns false when
 * the callback threw.
 */
bool capture_deliver_batch(capture *c, bool from_event_loop);
/* Calls onError(error) from the event loop (not from a JS call). */
void capture_report_error(capture *c, const char *code, const char *message);
/* Closes libpcap and the event loop handles, keeping the final statistics; no JS. Idempotent. */
void capture_close_native(capture *c);
/* Drops the references to the callbacks and to the handle itself. */
void capture_release_js(capture *c);
/* Registers / removes the environment cleanup hook that closes a capture left open at exit. */
void capture_add_cleanup_hook(capture *c);
void capture_remove_cleanup_hook(capture *c);

/* capture_watch.c */
/* start(): creates the poll handle (and the device check on a named interface) and polls
 * unless paused; false with a JS error thrown. */
bool capture_watch_start(napi_env env, capture *c, uv_loop_t *loop);
/* resume(): polls again; false with a JS error thrown. */
bool capture_watch_resume(napi_env env, capture *c);
/* pause() and closing: stops polling (the handles stay until capture_close_native). */
void capture_stop_polling(capture *c);

/* interface_index.c */
/* The index of interface `device` in the namespace of socket `fd`: > 0, 0 when no interface
 * has that name, -1 when unknown. */
int interface_index_of_name(int fd, const char *device);
/* The interface the packet socket is bound to (libpcap binds it by index at activation); 0 when
 * unbound ("any") or unknown. */
int interface_index_bound(int fd);

#endif
