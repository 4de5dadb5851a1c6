/*
 * reserveFileSpace(fd, offset, length) -> 0, or the errno of the failure: fallocate with
 * FALLOC_FL_KEEP_SIZE, so the next lines of the events file have their disk blocks before they
 * are written and a full disk refuses a whole line instead of taking part of it
 * (src/sink/rotating-event-file.ts). The file's size, what readers see, does not change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>

#include "error.h"
#include "exports.h"

napi_value js_reserve_file_space(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  int64_t offset = -1;
  int64_t length = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok) {
    throw_formatted(env, ERROR_TYPE, ERR_INVALID_ARG_TYPE, "reserveFileSpace(fd, offset, length) takes three integers");
    return NULL;
  }
  if (fd < 0 || offset < 0 || length <= 0) {
    throw_formatted(env, ERROR_RANGE, ERR_OUT_OF_RANGE, "reserveFileSpace: fd and offset must be >= 0 and length > 0");
    return NULL;
  }
  int result = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0 ? 0 : errno;
  napi_value value;
  NAPI_CALL(env, napi_create_int32(env, result, &value));
  return value;
}
