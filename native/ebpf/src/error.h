/*
 * An error with a stable code (it becomes the JS Error's `code`) and a message that names the
 * failing step. Every step of opening the tracer fills one of these and returns -1.
 */
#ifndef IMDS_EBPF_ERROR_H
#define IMDS_EBPF_ERROR_H

#include <stddef.h>

/* Codes, from the most to the least actionable. */
#define EBPF_ERR_PERMISSION "EBPF_PERMISSION"   /* not root / no CAP_BPF + CAP_PERFMON */
#define EBPF_ERR_TRACEFS "EBPF_TRACEFS"         /* tracefs missing and could not be mounted */
#define EBPF_ERR_TRACEPOINT "EBPF_TRACEPOINT"   /* sock:inet_sock_set_state missing or unexpected */
#define EBPF_ERR_RINGBUF "EBPF_RINGBUF_UNSUPPORTED" /* kernel too old for BPF ring buffers (< 5.8) */
#define EBPF_ERR_VERIFIER "EBPF_VERIFIER"       /* the verifier rejected the program */
#define EBPF_ERR_ATTACH "EBPF_ATTACH"           /* perf_event_open / PERF_EVENT_IOC_SET_BPF failed */
#define EBPF_ERR_SYSTEM "EBPF_SYSTEM"           /* any other system call failure */
#define EBPF_ERR_BTF "EBPF_BTF"                 /* BTF missing or unusable (argv capture only) */

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
