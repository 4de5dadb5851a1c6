/*
 * Where the fields of the sock:inet_sock_set_state tracepoint sit in its raw record, read from
 * tracefs at load time (the layout is stable ABI in practice, but reading it costs nothing and
 * survives a kernel that adds a field). Mounts tracefs at /sys/kernel/tracing when it is absent.
 */
#ifndef IMDS_EBPF_TRACEPOINT_FORMAT_H
#define IMDS_EBPF_TRACEPOINT_FORMAT_H

#include "error.h"

struct tp_field {
  int offset;
  int size;
};

struct tp_format {
  int id; /* perf_event_attr.config for PERF_TYPE_TRACEPOINT */
  struct tp_field skaddr, oldstate, newstate, sport, dport, family, protocol;
  struct tp_field saddr, daddr, saddr_v6, daddr_v6;
};

/* Parses the text of a tracefs `format` file (fields and sizes checked). */
int tp_format_parse(const char *text, struct tp_format *out, struct ebpf_error *err);
/* Finds (mounting tracefs if needed), reads and parses the format and id files. */
int tp_format_load(struct tp_format *out, struct ebpf_error *err);

#endif
