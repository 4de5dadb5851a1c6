#include "arguments.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

char *get_string(napi_env env, napi_value value, const char *name, size_t max_bytes) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "%s must be a string", name);
    return NULL;
  }
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (length > max_bytes) {
    throw_formatted(env, ERROR_RANGE, ERR_OUT_OF_RANGE, "%s is longer than %zu bytes", name, max_bytes);
    return NULL;
  }
  char *text = malloc(length + 1);
  if (text == NULL) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_INTERNAL, "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, value, text, length + 1, &length) != napi_ok) {
    free(text);
    throw_napi_failure(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (strlen(text) != length) {
    free(text);
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_VALUE, "%s must not contain NUL characters", name);
    return NULL;
  }
  return text;
}

bool get_property(napi_env env, napi_value object, const char *name, napi_value *value, bool *present) {
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

bool get_optional_uint32(napi_env env, napi_value options, const char *name, uint32_t fallback, uint32_t min,
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
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "options.%s must be a number", name);
    return false;
  }
  if (!(number >= min && number <= max) || number != (double)(uint32_t)number) {
    throw_formatted(env, ERROR_RANGE, ERR_OUT_OF_RANGE, "options.%s must be an integer from %u to %u, got %g", name, min,
                    max, number);
    return false;
  }
  *out = (uint32_t)number;
  return true;
}
