/*
 * Reading a capture: each pcap_dispatch (non-blocking) fills ONE batch buffer, copied into one
 * Buffer (libpcap reuses its ring slots once pcap_dispatch returns) and handed to JS in one
 * call. The packet path never allocates: the buffer is sized at open (capture_open.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "error.h"

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
  size_t needed = capture_record_bytes(captured);
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

int capture_read_batch(capture *c) {
  c->batch_used = 0;
  c->batch_count = 0;
  return libpcap.dispatch(c->pcap, (int)c->batch_packets, on_packet, (u_char *)c);
}

void capture_wait_for_open_block(const capture *c) {
  usleep((c->block_timeout_ms + 10u) * 1000u);
}

void capture_read_error_message(capture *c, int status, char *out, size_t size) {
  snprintf(out, size, "reading packets from %s failed: %s", c->device,
           status == PCAP_ERROR ? libpcap.geterr(c->pcap) : libpcap.statustostr(status));
}

bool capture_deliver_batch(capture *c, bool from_event_loop) {
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

void capture_report_error(capture *c, const char *code, const char *message) {
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

static void free_handle(uv_handle_t *handle) { free(handle); }

void capture_close_native(capture *c) {
  capture_stop_polling(c);
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
    if (libpcap.stats(c->pcap, &stats) == 0) {
      c->final_stats = stats;
      c->have_final_stats = true;
    }
    libpcap.close(c->pcap);
    c->pcap = NULL;
  }
}

void capture_release_js(capture *c) {
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

static void on_env_cleanup(void *arg) {
  capture *c = (capture *)arg;
  c->cleanup_hook_added = false;
  capture_close_native(c);
}

void capture_add_cleanup_hook(capture *c) {
  if (napi_add_env_cleanup_hook(c->env, on_env_cleanup, c) == napi_ok) c->cleanup_hook_added = true;
}

void capture_remove_cleanup_hook(capture *c) {
  if (c->cleanup_hook_added) {
    napi_remove_env_cleanup_hook(c->env, on_env_cleanup, c);
    c->cleanup_hook_added = false;
  }
}
