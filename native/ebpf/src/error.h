/*
 * An error with a stable code (it becomes the JS Error's `code`) and a message that names the
 * failing step. Every step of opening the tracer fills one of these and returns -1. Codes are
 * named as native/common/error_codes.h says (which also has the codes for a caller's misuse).
 */
#ifndef IMDS_EBPF_ERROR_H
#define IMDS_EBPF_ERROR_H

#include <stddef.h>

#include "error_codes.h"

/* Codes, from the most to the least actionable. */
#define EBPF_ERR_PERMISSION "E_EBPF_PERMISSION"   /* not root / no CAP_BPF + CAP_PERFMON */
#define EBPF_ERR_TRACEFS "E_EBPF_TRACEFS"         /* tracefs missing and could not be mounted */
#define EBPF_ERR_TRACEPOINT "E_EBPF_TRACEPOINT"   /* sock:inet_sock_set_state missing or unexpected */
#define EBPF_ERR_RINGBUF "E_EBPF_RINGBUF_UNSUPPORTED" /* kernel too old for BPF ring buffers (< 5.8) */
#define EBPF_ERR_VERIFIER "E_EBPF_VERIFIER"       /* the verifier rejected the program */
#define EBPF_ERR_ATTACH "E_EBPF_ATTACH"           /* perf_event_open / PERF_EVENT_IOC_SET_BPF failed */
#define EBPF_ERR_SYSTEM "E_EBPF_SYSTEM"           /* any other system call failure */
#define EBPF_ERR_BTF "E_EBPF_BTF"                 /* BTF missing or unusable (argv capture only) */
#define EBPF_ERR_INTERNAL "E_EBPF_INTERNAL"       /* a Node-API call failed */

#define EBPF_ERROR_MESSAGE_SIZE 65536

struct ebpf_error {
  const char *code;
  char message[EBPF_ERROR_MESSAGE_SIZE];
};

/* printf into err->message and set err->code; always returns -1. */
int ebpf_fail(struct ebpf_error *err, const char *code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* The code for a failed bpf()/perf_event_open() call: EPERM/EACCES mean missing privileges. */
const char *ebpf_code_for_errno(int errno_value, const char *otherwise);

#endif
