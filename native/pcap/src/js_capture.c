/*
 * open(device, options) and the PcapHandle class it returns (wrapped by src/live/pcap-source.ts,
 * the only intended caller):
 *   open(device, { filter, snaplenBytes?, bufferSizeBytes?, maxBatchPackets?, blockTimeoutMs?,
 *                  networkNamespacePath? }) -> PcapHandle
 *   handle.start(onBatch(records: Buffer, packets: number), onError(error: Error))
 *   handle.pause() / handle.resume()   stop / restart reading (output backpressure)
 *   handle.stats() -> { received, droppedByKernel, droppedByInterface, droppedByAddon }
 *   handle.close() -> the final stats: stops reading, delivers what is still buffered, closes
 *   properties: device, linkType, linkTypeName, timePrecisionDigits, warning, snaplenBytes,
 *               bufferSizeBytes, maxBatchPackets, blockTimeoutMs
 * The records in each batch Buffer are laid out as capture.h says.
 */
#include <stdlib.h>

#include "arguments.h"
#include "capture.h"
#include "error.h"
#include "exports.h"

typedef struct module_data {
  napi_ref constructor_ref;
} module_data;

static void finalize_capture(napi_env env, void *data, void *hint) {
  capture *c = (capture *)data;
  capture_close_native(c);
  capture_remove_cleanup_hook(c);
  capture_free(c);
}

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
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_THIS, "method called on something that is not an open PcapHandle");
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
  throw_formatted(env, ERROR_PLAIN, PCAP_ERR_CLOSED, "%s() on capture device %s: the capture is closed", method,
                  c->device);
  return false;
}

static napi_value method_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  capture *c = unwrap_this(env, info, &argc, argv);
  if (c == NULL || !check_open(env, c, "start")) return NULL;
  if (c->started) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_STARTED, "capture on %s is already started", c->device);
    return NULL;
  }
  for (size_t index = 0; index < 2; index++) {
    napi_valuetype type = napi_undefined;
    if (index < argc) napi_typeof(env, argv[index], &type);
    if (type != napi_function) {
      throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "start(onBatch, onError): %s must be a function",
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
    capture_release_js(c);
    return NULL;
  }
  capture_watch_start(env, c, loop);
  return NULL;
}

static napi_value method_pause(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  c->paused = true;
  capture_stop_polling(c);
  return NULL;
}

static napi_value method_resume(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL) return NULL;
  c->paused = false;
  if (c->pcap == NULL || !c->started || c->polling || c->failed) return NULL;
  capture_watch_resume(env, c);
  return NULL;
}

static napi_value method_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  capture *c = unwrap_this(env, info, &argc, NULL);
  if (c == NULL || !check_open(env, c, "stats")) return NULL;
  struct pcap_stat stats;
  if (libpcap.stats(c->pcap, &stats) != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_STATS, "cannot read capture statistics of %s: %s", c->device,
                    libpcap.geterr(c->pcap));
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
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_BUSY,
                    "close() on capture device %s called from inside the packet callback: call it after it returns",
                    c->device);
    return NULL;
  }
  char read_error[ERROR_MESSAGE_BYTES] = "";
  bool callback_threw = false;
  if (c->pcap != NULL) {
    capture_stop_polling(c);
    if (c->started && !c->failed) {
      bool waited_for_block = false;
      for (int round = 0; round < MAX_DRAIN_BATCHES; round++) {
        int read = capture_read_batch(c);
        if (read < 0) {
          capture_read_error_message(c, read, read_error, sizeof read_error);
          break;
        }
        if (c->batch_count > 0 && !capture_deliver_batch(c, false)) {
          callback_threw = true;
          break;
        }
        if (read == 0) {
          /* Packets in the ring block being filled become readable only when the kernel hands
           * the block over, at most block_timeout_ms after its first packet: wait once. */
          if (waited_for_block) break;
          waited_for_block = true;
          capture_wait_for_open_block(c);
        }
      }
    }
    capture_close_native(c);
    capture_release_js(c);
    capture_remove_cleanup_hook(c);
  }
  if (callback_threw) return NULL; /* the callback's exception propagates out of close() */
  if (read_error[0] != '\0') {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_READ, "%s", read_error);
    return NULL;
  }
  if (!c->have_final_stats) {
    napi_value null_value;
    NAPI_CALL(env, napi_get_null(env, &null_value));
    return null_value;
  }
  return make_stats(env, &c->final_stats, c->dropped_by_addon);
}

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

/* Reads open()'s options into *options (strings malloc'd: the caller frees them). */
static bool read_options(napi_env env, napi_value object, capture_options *options, char **filter, char **netns_path) {
  napi_value value;
  bool present;
  if (!get_property(env, object, "filter", &value, &present)) return false;
  if (!present) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "options.filter must be a string");
    return false;
  }
  *filter = get_string(env, value, "options.filter", MAX_FILTER_BYTES);
  if (*filter == NULL) return false;
  if (!get_property(env, object, "networkNamespacePath", &value, &present)) return false;
  if (present) {
    *netns_path = get_string(env, value, "options.networkNamespacePath", MAX_PATH_BYTES);
    if (*netns_path == NULL) return false;
  }
  options->filter = *filter;
  options->netns_path = *netns_path;
  return get_optional_uint32(env, object, "snaplenBytes", DEFAULT_SNAPLEN_BYTES, MIN_SNAPLEN_BYTES, MAX_SNAPLEN_BYTES,
                             &options->snaplen) &&
         get_optional_uint32(env, object, "bufferSizeBytes", DEFAULT_BUFFER_SIZE_BYTES, MIN_BUFFER_SIZE_BYTES,
                             MAX_BUFFER_SIZE_BYTES, &options->buffer_size) &&
         get_optional_uint32(env, object, "maxBatchPackets", DEFAULT_BATCH_PACKETS, 1, MAX_BATCH_PACKETS,
                             &options->batch_packets) &&
         get_optional_uint32(env, object, "blockTimeoutMs", DEFAULT_BLOCK_TIMEOUT_MS, MIN_BLOCK_TIMEOUT_MS,
                             MAX_BLOCK_TIMEOUT_MS, &options->block_timeout_ms);
}

/* new PcapHandle(device, options): opens and activates; see the file comment. */
static napi_value construct_handle(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, new_target;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  NAPI_CALL(env, napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_THIS, "PcapHandle must be created with open(device, options)");
    return NULL;
  }
  if (argc < 2) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "open(device, options): both arguments are required");
    return NULL;
  }
  napi_valuetype options_type;
  NAPI_CALL(env, napi_typeof(env, argv[1], &options_type));
  if (options_type != napi_object) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "open(device, options): options must be an object");
    return NULL;
  }

  capture_options options = {0};
  char *device = NULL;
  char *filter = NULL;
  char *netns_path = NULL;
  capture *c = NULL;
  napi_value result = NULL;
  char warning[ERROR_MESSAGE_BYTES] = "";

  device = get_string(env, argv[0], "device", MAX_DEVICE_NAME_BYTES);
  if (device == NULL) goto done;
  if (device[0] == '\0') {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_VALUE, "device must not be empty");
    goto done;
  }
  options.device = device;
  if (!read_options(env, argv[1], &options, &filter, &netns_path)) goto done;

  c = capture_open(env, &options, warning, sizeof warning);
  if (c == NULL) goto done;
  if (napi_wrap(env, self, c, finalize_capture, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, "napi_wrap");
    capture_close_native(c);
    capture_free(c);
    goto done;
  }
  /* From here the finalizer owns c. */
  capture_add_cleanup_hook(c);
  int link_type = libpcap.datalink(c->pcap);
  if (!define_string(env, self, "device", c->device) || !define_uint32(env, self, "linkType", (uint32_t)link_type) ||
      !define_string(env, self, "linkTypeName", libpcap.datalink_val_to_name(link_type)) ||
      !define_uint32(env, self, "timePrecisionDigits", c->nano ? 9 : 6) ||
      !define_string(env, self, "warning", warning[0] != '\0' ? warning : NULL) ||
      !define_uint32(env, self, "snaplenBytes", c->snaplen) ||
      !define_uint32(env, self, "bufferSizeBytes", c->buffer_size) ||
      !define_uint32(env, self, "maxBatchPackets", c->batch_packets) ||
      !define_uint32(env, self, "blockTimeoutMs", c->block_timeout_ms)) {
    capture_close_native(c);
    goto done;
  }
  result = self;

done:
  free(device);
  free(filter);
  free(netns_path);
  return result;
}

napi_value js_open(napi_env env, napi_callback_info info) {
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

static void finalize_module_data(napi_env env, void *data, void *hint) {
  module_data *module = (module_data *)data;
  napi_delete_reference(env, module->constructor_ref);
  free(module);
}

napi_value js_capture_class(napi_env env) {
  napi_property_descriptor methods[] = {
      {"start", NULL, method_start, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, method_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, method_resume, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, method_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, method_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor;
  NAPI_CALL(env, napi_define_class(env, "PcapHandle", NAPI_AUTO_LENGTH, construct_handle, NULL,
                                   sizeof methods / sizeof methods[0], methods, &constructor));
  /* open() creates instances through this reference (the module's instance data). */
  module_data *data = calloc(1, sizeof *data);
  if (data == NULL) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_INTERNAL, "out of memory");
    return NULL;
  }
  if (napi_create_reference(env, constructor, 1, &data->constructor_ref) != napi_ok ||
      napi_set_instance_data(env, data, finalize_module_data, NULL) != napi_ok) {
    free(data);
    throw_napi_failure(env, "napi_set_instance_data");
    return NULL;
  }
  return constructor;
}
