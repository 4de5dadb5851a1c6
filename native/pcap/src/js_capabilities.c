/*
 * dropCapabilities(keep: string[]) -> { kept, threads, threadsNotDropped, problem }: keeps only
 * the named capabilities (CAP_SYS_PTRACE, ...) on every thread, with no_new_privs (how:
 * capabilities.c). `kept` lists those of them the calling thread really holds afterwards.
 * Called once live capture is set up (src/live/capture.ts).
 */
#include <stdlib.h>

#include "arguments.h"
#include "capabilities.h"
#include "error.h"
#include "exports.h"

/* The names in `array` as a mask (bit N = capability N); false with an error thrown. */
static bool read_keep_mask(napi_env env, napi_value array, uint64_t *keep) {
  uint32_t count = 0;
  if (napi_get_array_length(env, array, &count) != napi_ok) {
    throw_napi_failure(env, "napi_get_array_length");
    return false;
  }
  *keep = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, array, i, &element) != napi_ok) {
      throw_napi_failure(env, "napi_get_element");
      return false;
    }
    char *name = get_string(env, element, "a capability name", 64);
    if (name == NULL) return false;
    int number = capability_number(name);
    if (number < 0) {
      throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_VALUE, "unknown capability name \"%s\" (expected e.g. CAP_SYS_PTRACE)", name);
      free(name);
      return false;
    }
    free(name);
    *keep |= (uint64_t)1 << number;
  }
  return true;
}

napi_value js_drop_capabilities(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "dropCapabilities(keep): keep must be an array of capability names");
    return NULL;
  }
  uint64_t keep = 0;
  if (!read_keep_mask(env, argv[0], &keep)) return NULL;
  capability_drop_result result;
  char problem[ERROR_MESSAGE_BYTES] = "";
  if (drop_capabilities_everywhere(keep, &result, problem, sizeof problem) != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_CAPABILITIES, "%s", problem);
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
