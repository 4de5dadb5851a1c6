/*
 * Node-API binding for the connect tracer (plain C, node_api.h only).
 *
 *   probe()                 -> { ok: true } | { ok: false, code, reason }
 *   open(onRecords, argv, identity)
 *                           -> handle { argvCapture, argvUnavailableReason, tracepointId,
 *                                       identityCapture: { parentPid, parentComm, startTime, exeName },
 *                                       identityUnavailableReasons: { same keys: string | null },
 *                                       clockTicksPerSecond }
 *                              throws Error { code: "E_EBPF_*" (error.h), message }
 *   stats(handle)           -> counters (a snapshot taken at close once closed)
 *   close(handle)           -> idempotent; detaches, closes fds, unmaps
 *   drain(handle)           -> Buffer of the records queued or still in the ring (in order,
 *                              layout.recordSize bytes each; /proc read for ring ones now),
 *                              taken synchronously; null when there are none or it is closed
 *   layout                  -> the record layout numbers (record.h) for the decoder to check
 *   fillProcSnapshot(record, procRoot)
 *                           -> fills the /proc part of a delivered record (a Buffer of
 *                              layout.recordSize bytes) from procRoot, as the consumer does;
 *                              for tests with a fake /proc tree
 *
 * The ring buffer is read on a thread of our own (consumer_thread.c), which also reads /proc for
 * each record the moment it arrives, before any JavaScript runs and whatever the event loop is
 * doing. It queues finished records and wakes Node's loop (uv_async); each wakeup calls
 * onRecords(buffer, count) once with everything queued, where buffer holds `count` records of
 * layout.recordSize (DELIVERED_RECORD_SIZE) bytes. An open tracer keeps itself (and the process)
 * alive until close(), like an open socket; at environment teardown it is closed by an async
 * cleanup hook. close() stops and joins the thread: no record is delivered after it.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "consumer_thread.h"
#include "error.h"
#include "proc_snapshot.h"
#include "record.h"
#include "tracer.h"

/* fillProcSnapshot's procRoot, at most (a test's temp directory). */
#define PROC_ROOT_MAX_BYTES 1024

struct addon_tracer {
  struct tracer tracer;
  napi_env env;
  napi_ref callback_ref;
  napi_ref self_ref;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  uv_async_t wake; /* sent by the consumer thread when it queued records */
  int wake_started;
  struct consumer_thread consumer;
  int closed;      /* kernel resources released */
  int wake_closed; /* uv_close finished (or the handle never existed) */
  int finalized;   /* the JS wrapper was collected */
  double records_delivered;
  unsigned long long final_counters[COUNTER_COUNT];
  long final_pending;
  int have_final;
};

#define CHECK(call)                                                                          \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      const napi_extended_error_info *info = NULL;                                           \
      napi_get_last_error_info(env, &info);                                                  \
      bool pending = false;                                                                  \
      napi_is_exception_pending(env, &pending);                                              \
      if (!pending) {                                                                        \
        napi_throw_error(env, EBPF_ERR_INTERNAL,                                             \
                         info && info->error_message ? info->error_message : "Node-API call failed"); \
      }                                                                                      \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

static void maybe_free(struct addon_tracer *at) {
  if (at->wake_closed && at->finalized) free(at);
}

static void on_wake_closed(uv_handle_t *handle) {
  struct addon_tracer *at = handle->data;
  at->wake_closed = 1;
  if (at->cleanup_hook != NULL) {
    napi_remove_async_cleanup_hook(at->cleanup_hook);
    at->cleanup_hook = NULL;
  }
  maybe_free(at);
}

static void close_all(struct addon_tracer *at) {
  if (at->closed) return;
  at->closed = 1;
  if (tracer_read_counters(&at->tracer, at->final_counters) == 0) {
    at->final_pending = tracer_pending_count(&at->tracer);
    at->have_final = 1;
  }
  /* First the thread (it may be waiting for room in the queue, or reading /proc), then the rest. */
  consumer_stop(&at->consumer);
  if (at->wake_started) {
    uv_close((uv_handle_t *)&at->wake, on_wake_closed);
  } else {
    at->wake_closed = 1;
    if (at->cleanup_hook != NULL) {
      napi_remove_async_cleanup_hook(at->cleanup_hook);
      at->cleanup_hook = NULL;
    }
  }
  tracer_close(&at->tracer);
  if (at->callback_ref != NULL) napi_delete_reference(at->env, at->callback_ref);
  at->callback_ref = NULL;
  if (at->self_ref != NULL) napi_delete_reference(at->env, at->self_ref);
  at->self_ref = NULL;
  if (at->async_context != NULL) napi_async_destroy(at->env, at->async_context);
  at->async_context = NULL;
}

static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  struct addon_tracer *at = arg;
  (void)handle;
  close_all(at); /* on_wake_closed (or close_all itself) removes the hook: teardown may go on */
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct addon_tracer *at = data;
  at->finalized = 1;
  close_all(at);
  maybe_free(at);
}

static void deliver(struct addon_tracer *at, const unsigned char *records, size_t count) {
  napi_env env = at->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argv[2];
  void *copy = NULL;
  if (napi_get_reference_value(env, at->callback_ref, &callback) == napi_ok && callback != NULL &&
      napi_get_global(env, &global) == napi_ok &&
      napi_create_buffer_copy(env, count * DELIVERED_RECORD_SIZE, records, &copy, &argv[0]) == napi_ok &&
      napi_create_uint32(env, (uint32_t)count, &argv[1]) == napi_ok) {
    at->records_delivered += (double)count;
    napi_status status = napi_make_callback(env, at->async_context, global, callback, 2, argv, NULL);
    if (status == napi_pending_exception) {
      /* A throwing callback is the application's bug: report it like any uncaught exception. */
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_wake(uv_async_t *handle) {
  struct addon_tracer *at = handle->data;
  if (at->closed) return;
  const unsigned char *records = NULL;
  size_t count = consumer_take(&at->consumer, &records);
  if (count > 0) deliver(at, records, count);
}

static napi_value set_named(napi_env env, napi_value object, const char *name, napi_value value) {
  CHECK(napi_set_named_property(env, object, name, value));
  return object;
}

static napi_value set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  CHECK(napi_create_double(env, number, &value));
  return set_named(env, object, name, value);
}

static napi_value set_string(napi_env env, napi_value object, const char *name, const char *text) {
  napi_value value;
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value));
  return set_named(env, object, name, value);
}

static napi_value set_bool(napi_env env, napi_value object, const char *name, bool flag) {
  napi_value value;
  CHECK(napi_get_boolean(env, flag, &value));
  return set_named(env, object, name, value);
}

static napi_value js_probe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  struct ebpf_error *err = malloc(sizeof *err);
  if (err == NULL) {
    napi_throw_error(env, EBPF_ERR_SYSTEM, "out of memory");
    return NULL;
  }
  int ok = tracer_probe(err) == 0;
  napi_value done = set_bool(env, result, "ok", ok);
  if (done != NULL && !ok) {
    done = set_string(env, result, "code", err->code);
    if (done != NULL) done = set_string(env, result, "reason", err->message);
  }
  free(err);
  return done == NULL ? NULL : result;
}

static const char *const identity_field_names[IDENTITY_FIELD_COUNT] = {
    [IDENTITY_PARENT_PID] = "parentPid",
    [IDENTITY_PARENT_COMM] = "parentComm",
    [IDENTITY_START_TIME] = "startTime",
    [IDENTITY_EXE_NAME] = "exeName",
};

/* handle.identityCapture (booleans) and handle.identityUnavailableReasons (null when captured). */
static napi_value set_identity_capture(napi_env env, napi_value handle, const struct tracer *t) {
  napi_value capture, reasons, null_value;
  CHECK(napi_create_object(env, &capture));
  CHECK(napi_create_object(env, &reasons));
  CHECK(napi_get_null(env, &null_value));
  for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
    const char *name = identity_field_names[field];
    if (set_bool(env, capture, name, t->identity_capture[field]) == NULL) return NULL;
    napi_value reason = null_value;
    if (!t->identity_capture[field]) {
      CHECK(napi_create_string_utf8(env, t->identity_unavailable_reason[field], NAPI_AUTO_LENGTH, &reason));
    }
    if (set_named(env, reasons, name, reason) == NULL) return NULL;
  }
  if (set_named(env, handle, "identityCapture", capture) == NULL) return NULL;
  return set_named(env, handle, "identityUnavailableReasons", reasons);
}

static struct addon_tracer *unwrap(napi_env env, napi_value handle) {
  void *data = NULL;
  if (napi_unwrap(env, handle, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, ERR_INVALID_THIS, "not a tracer handle");
    return NULL;
  }
  return data;
}

/* The tracer a (handle) call is given; NULL with an exception pending when it is not one. */
static struct addon_tracer *handle_argument(napi_env env, napi_callback_info info, const char *usage) {
  size_t argc = 1;
  napi_value args[1];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, ERR_INVALID_ARG_TYPE, usage);
    return NULL;
  }
  return unwrap(env, args[0]);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, args[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, ERR_INVALID_ARG_TYPE, "open(onRecords, captureArgv, captureIdentity): onRecords must be a function");
    return NULL;
  }
  bool want_argv = true;
  if (argc >= 2 && napi_get_value_bool(env, args[1], &want_argv) != napi_ok) {
    napi_throw_type_error(env, ERR_INVALID_ARG_TYPE, "open(onRecords, captureArgv, captureIdentity): captureArgv must be a boolean");
    return NULL;
  }
  bool want_identity = true;
  if (argc >= 3 && napi_get_value_bool(env, args[2], &want_identity) != napi_ok) {
    napi_throw_type_error(env, ERR_INVALID_ARG_TYPE, "open(onRecords, captureArgv, captureIdentity): captureIdentity must be a boolean");
    return NULL;
  }

  struct addon_tracer *at = calloc(1, sizeof *at);
  struct ebpf_error *err = malloc(sizeof *err);
  if (at == NULL || err == NULL) {
    free(at);
    free(err);
    napi_throw_error(env, EBPF_ERR_SYSTEM, "out of memory");
    return NULL;
  }
  at->env = env;
  tracer_init(&at->tracer);
  if (tracer_open(&at->tracer, want_argv, want_identity, err) != 0) {
    napi_throw_error(env, err->code, err->message);
    free(err);
    free(at);
    return NULL;
  }
  free(err);

  uv_loop_t *loop = NULL;
  napi_value handle, resource_name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_async_init(loop, &at->wake, on_wake) != 0) {
    tracer_close(&at->tracer);
    free(at);
    napi_throw_error(env, EBPF_ERR_SYSTEM, "uv_async_init for the ring buffer consumer failed");
    return NULL;
  }
  at->wake.data = at;
  at->wake_started = 1; /* from here on the handle must be uv_close()d */
  if (napi_create_object(env, &handle) != napi_ok ||
      napi_wrap(env, handle, at, on_finalize, NULL, NULL) != napi_ok) {
    at->finalized = 1; /* nothing in JavaScript refers to it */
    close_all(at);
    napi_throw_error(env, EBPF_ERR_SYSTEM, "wrapping the tracer failed");
    return NULL;
  }
  /* From here on the finalizer owns `at`: errors close it and let it be collected. */
  if (napi_create_reference(env, args[0], 1, &at->callback_ref) != napi_ok ||
      napi_create_reference(env, handle, 1, &at->self_ref) != napi_ok ||
      napi_create_string_utf8(env, "imds-ebpf-tracer", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, handle, resource_name, &at->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_cleanup, at, &at->cleanup_hook) != napi_ok) {
    close_all(at);
    napi_throw_error(env, EBPF_ERR_SYSTEM, "setting up the tracer handle failed");
    return NULL;
  }
  /* Last: from here on records flow (callback_ref and async_context exist). */
  struct ebpf_error *start_err = malloc(sizeof *start_err);
  if (start_err == NULL || consumer_start(&at->consumer, &at->tracer, &at->wake, start_err) != 0) {
    close_all(at);
    napi_throw_error(env, EBPF_ERR_SYSTEM, start_err == NULL ? "out of memory" : start_err->message);
    free(start_err);
    return NULL;
  }
  free(start_err);
  if (set_bool(env, handle, "argvCapture", at->tracer.argv_capture) == NULL) return NULL;
  if (at->tracer.argv_capture) {
    napi_value null_value;
    CHECK(napi_get_null(env, &null_value));
    if (set_named(env, handle, "argvUnavailableReason", null_value) == NULL) return NULL;
  } else if (set_string(env, handle, "argvUnavailableReason", at->tracer.argv_unavailable_reason) == NULL) {
    return NULL;
  }
  if (set_number(env, handle, "tracepointId", at->tracer.tracepoint_id) == NULL) return NULL;
  if (set_identity_capture(env, handle, &at->tracer) == NULL) return NULL;
  if (set_number(env, handle, "clockTicksPerSecond", (double)at->tracer.proc.clock_ticks_per_second) == NULL) return NULL;
  return handle;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  struct addon_tracer *at = handle_argument(env, info, "close(handle)");
  if (at == NULL) return NULL;
  close_all(at);
  return NULL;
}

static napi_value js_drain(napi_env env, napi_callback_info info) {
  struct addon_tracer *at = handle_argument(env, info, "drain(handle)");
  if (at == NULL) return NULL;
  napi_value result;
  const unsigned char *records = NULL;
  size_t count = at->closed ? 0 : consumer_drain(&at->consumer, &records);
  if (count == 0) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  void *copy = NULL;
  CHECK(napi_create_buffer_copy(env, count * DELIVERED_RECORD_SIZE, records, &copy, &result));
  at->records_delivered += (double)count;
  return result;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  struct addon_tracer *at = handle_argument(env, info, "stats(handle)");
  if (at == NULL) return NULL;
  unsigned long long counters[COUNTER_COUNT];
  long pending;
  if (at->closed) {
    if (!at->have_final) {
      napi_throw_error(env, EBPF_ERR_SYSTEM, "counters were not readable when the tracer closed");
      return NULL;
    }
    memcpy(counters, at->final_counters, sizeof counters);
    pending = at->final_pending;
  } else {
    if (tracer_read_counters(&at->tracer, counters) != 0) {
      napi_throw_error(env, EBPF_ERR_SYSTEM, "reading the counters map failed");
      return NULL;
    }
    pending = tracer_pending_count(&at->tracer);
  }
  napi_value result;
  CHECK(napi_create_object(env, &result));
  static const char *const names[COUNTER_COUNT] = {
      [COUNTER_TRACKED] = "tracked",         [COUNTER_ESTABLISHED] = "established",
      [COUNTER_FAILED] = "failed",           [COUNTER_MAP_FULL] = "mapFull",
      [COUNTER_RING_LOST] = "ringBufferLost", [COUNTER_UNMATCHED] = "unmatched",
      [COUNTER_ARGV_FAILED] = "argvFailed",  [COUNTER_EMITTED] = "emitted",
      [COUNTER_IDENTITY_FAILED] = "identityFailed",
  };
  for (int i = 0; i < COUNTER_COUNT; i++) {
    if (set_number(env, result, names[i], (double)counters[i]) == NULL) return NULL;
  }
  if (set_number(env, result, "pendingConnects", (double)pending) == NULL) return NULL;
  if (set_number(env, result, "recordsDelivered", at->records_delivered) == NULL) return NULL;
  /* The consumer thread bumps these: read atomically. */
  double unexpected = (double)__atomic_load_n(&at->tracer.unexpected_samples, __ATOMIC_RELAXED);
  if (set_number(env, result, "unexpectedSamples", unexpected) == NULL) return NULL;
  struct proc_snapshot_counters proc;
  proc_snapshot_read_counters(&at->tracer.proc, &proc);
  if (set_number(env, result, "procConfirmed", (double)proc.confirmed) == NULL ||
      set_number(env, result, "procUnverified", (double)proc.unverified) == NULL ||
      set_number(env, result, "procExited", (double)proc.exited) == NULL ||
      set_number(env, result, "procPidReused", (double)proc.pid_reused) == NULL ||
      set_number(env, result, "procExeMismatch", (double)proc.exe_mismatch) == NULL ||
      set_number(env, result, "procPathTooLong", (double)proc.too_long) == NULL) {
    return NULL;
  }
  return result;
}

static napi_value js_fill_proc_snapshot(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  void *data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  char root[PROC_ROOT_MAX_BYTES];
  size_t root_length = 0;
  if (argc < 2 || napi_is_buffer(env, args[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, args[0], &data, &length) != napi_ok || length < DELIVERED_RECORD_SIZE ||
      napi_get_value_string_utf8(env, args[1], root, sizeof root, &root_length) != napi_ok ||
      root_length + 1 >= sizeof root) {
    napi_throw_type_error(env, ERR_INVALID_ARG_TYPE,
                          "fillProcSnapshot(record, procRoot): a Buffer of layout.recordSize bytes and a path");
    return NULL;
  }
  struct proc_snapshot snapshot;
  proc_snapshot_init(&snapshot, root);
  proc_snapshot_fill(&snapshot, data);
  return NULL;
}

static napi_value make_layout(napi_env env) {
  napi_value layout;
  CHECK(napi_create_object(env, &layout));
  static const struct {
    const char *name;
    int value;
  } numbers[] = {
      {"recordSize", DELIVERED_RECORD_SIZE},
      {"kernelRecordSize", RECORD_SIZE},
      {"connectTimeNs", RECORD_CONNECT_TIME_NS},
      {"pidTgid", RECORD_PID_TGID},
      {"uidGid", RECORD_UID_GID},
      {"cgroupId", RECORD_CGROUP_ID},
      {"endTimeNs", RECORD_END_TIME_NS},
      {"comm", RECORD_COMM},
      {"commSize", RECORD_COMM_SIZE},
      {"family", RECORD_FAMILY},
      {"sport", RECORD_SPORT},
      {"dport", RECORD_DPORT},
      {"outcome", RECORD_OUTCOME},
      {"argvStatus", RECORD_ARGV_STATUS},
      {"saddr", RECORD_SADDR},
      {"daddr", RECORD_DADDR},
      {"saddrV6", RECORD_SADDR_V6},
      {"daddrV6", RECORD_DADDR_V6},
      {"argvLength", RECORD_ARGV_LENGTH},
      {"argv", RECORD_ARGV},
      {"argvSize", RECORD_ARGV_SIZE},
      {"startBoottimeNs", RECORD_START_BOOTTIME_NS},
      {"parentTgid", RECORD_PARENT_TGID},
      {"parentStatus", RECORD_PARENT_STATUS},
      {"parentCommStatus", RECORD_PARENT_COMM_STATUS},
      {"startStatus", RECORD_START_STATUS},
      {"exeNameStatus", RECORD_EXE_NAME_STATUS},
      {"parentComm", RECORD_PARENT_COMM},
      {"parentCommSize", RECORD_PARENT_COMM_SIZE},
      {"exeName", RECORD_EXE_NAME},
      {"exeNameSize", RECORD_EXE_NAME_SIZE},
      {"startTimeTicks", DELIVERED_START_TIME_TICKS},
      {"procStatus", DELIVERED_PROC_STATUS},
      {"exePathLength", DELIVERED_EXE_PATH_LENGTH},
      {"cgroupPathLength", DELIVERED_CGROUP_PATH_LENGTH},
      {"exePath", DELIVERED_EXE_PATH},
      {"cgroupPath", DELIVERED_CGROUP_PATH},
      {"pathSize", DELIVERED_PATH_SIZE},
      {"pendingMaxEntries", PENDING_MAX_ENTRIES},
      {"ringBufferBytes", RING_BUFFER_BYTES},
  };
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
    if (set_number(env, layout, numbers[i].name, numbers[i].value) == NULL) return NULL;
  }
  return layout;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value layout = make_layout(env);
  if (layout == NULL) return NULL;
  napi_property_descriptor properties[] = {
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drain", NULL, js_drain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fillProcSnapshot", NULL, js_fill_proc_snapshot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layout", NULL, NULL, NULL, NULL, layout, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
