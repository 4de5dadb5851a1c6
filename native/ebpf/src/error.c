#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int ebpf_fail(struct ebpf_error *err, const char *code, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(err->message, sizeof err->message, format, args);
  va_end(args);
  err->code = code;
  return -1;
}

const char *ebpf_code_for_errno(int errno_value, const char *otherwise) {
  return errno_value == EPERM || errno_value == EACCES ? EBPF_ERR_PERMISSION : otherwise;
}
