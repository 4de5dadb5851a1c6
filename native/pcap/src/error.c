#include "error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

void throw_formatted(napi_env env, error_kind kind, const char *code, const char *format, ...) {
  char message[ERROR_MESSAGE_BYTES];
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

void throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *detail = info != NULL && info->error_message != NULL ? info->error_message : "unknown error";
  char message[ERROR_MESSAGE_BYTES];
  snprintf(message, sizeof message, "Node-API call failed: %s: %s", call, detail);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, PCAP_ERR_INTERNAL, message);
}
