/*
 * libpcap, opened at run time by its soname instead of linked: the addon then loads on a
 * machine without libpcap (offline analysis, dropCapabilities and reserveFileSpace never need
 * it), and one build serves both sonames distributions use: libpcap.so.1 (Amazon Linux 2023,
 * RHEL, Fedora) and libpcap.so.0.8 (Debian, Ubuntu). pcap.h is still used at build time, for
 * the types, the constants and the exact signature of every function in the table.
 *
 * Every libpcap call in the addon goes through `libpcap.NAME(...)`; add a function to
 * LIBPCAP_FUNCTIONS to use it. The table is valid once libpcap_load() succeeded, which opening
 * a capture does first, so code that has a capture may call it.
 */
#ifndef IMDS_PCAP_LIBPCAP_H
#define IMDS_PCAP_LIBPCAP_H

#include <stdbool.h>
#include <stddef.h>

#include <pcap/pcap.h>

/* The functions the addon uses, without their pcap_ prefix. */
#define LIBPCAP_FUNCTIONS(X) \
  X(activate)                \
  X(close)                   \
  X(compile)                 \
  X(create)                  \
  X(datalink)                \
  X(datalink_val_to_name)    \
  X(dispatch)                \
  X(freecode)                \
  X(get_selectable_fd)       \
  X(get_tstamp_precision)    \
  X(geterr)                  \
  X(lib_version)             \
  X(set_buffer_size)         \
  X(set_immediate_mode)      \
  X(set_promisc)             \
  X(set_snaplen)             \
  X(set_timeout)             \
  X(set_tstamp_precision)    \
  X(setfilter)               \
  X(setnonblock)             \
  X(stats)                   \
  X(statustostr)

/* One pointer per function, typed from pcap.h's own declaration (no reference to the symbol). */
typedef struct libpcap_functions {
#define LIBPCAP_POINTER(name) __typeof__(&pcap_##name) name;
  LIBPCAP_FUNCTIONS(LIBPCAP_POINTER)
#undef LIBPCAP_POINTER
} libpcap_functions;

extern libpcap_functions libpcap;

/*
 * Opens libpcap (libpcap.so.1, then libpcap.so.0.8; RTLD_NOW | RTLD_LOCAL) and fills `libpcap`,
 * once per process, safe from any thread: true when usable. Otherwise `problem` gets one line
 * for the user, the same on every call: which sonames were tried and which package installs
 * libpcap, or why the library that was found cannot be used.
 */
bool libpcap_load(char *problem, size_t problem_size);

#endif
