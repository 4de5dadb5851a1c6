/*
 * Errors the pcap addon throws to JavaScript: an Error (or TypeError/RangeError for a caller's
 * misuse) with a stable `code` and a message naming the device, filter or call that failed.
 * Naming: native/common/error_codes.h.
 */
#ifndef IMDS_PCAP_ERROR_H
#define IMDS_PCAP_ERROR_H

#include <node_api.h>

#include "error_codes.h"

/* Codes of system and libpcap failures, from opening to reading. */
#define PCAP_ERR_LIBRARY "E_PCAP_LIBRARY"               /* libpcap is not installed or unusable */
#define PCAP_ERR_NETNS "E_PCAP_NETNS"                   /* the network namespace cannot be entered */
#define PCAP_ERR_CREATE "E_PCAP_CREATE"                 /* pcap_create refused the device */
#define PCAP_ERR_NO_SUCH_DEVICE "E_PCAP_NO_SUCH_DEVICE" /* activation: no interface of that name */
#define PCAP_ERR_PERMISSION "E_PCAP_PERMISSION"         /* activation: not root / no CAP_NET_RAW */
#define PCAP_ERR_INTERFACE_DOWN "E_PCAP_INTERFACE_DOWN" /* activation: the interface is not up */
#define PCAP_ERR_ACTIVATE "E_PCAP_ACTIVATE"             /* activation: anything else */
#define PCAP_ERR_FILTER "E_PCAP_FILTER"                 /* the filter does not compile or install */
#define PCAP_ERR_SETUP "E_PCAP_SETUP"                   /* non-blocking mode, the fd, its watch */
#define PCAP_ERR_READ "E_PCAP_READ"                     /* reading packets failed, or the device went away */
#define PCAP_ERR_STATS "E_PCAP_STATS"                   /* pcap_stats failed */
#define PCAP_ERR_STARTED "E_PCAP_STARTED"               /* start() on a started capture */
#define PCAP_ERR_CLOSED "E_PCAP_CLOSED"                 /* a method on a closed capture */
#define PCAP_ERR_BUSY "E_PCAP_BUSY"                     /* close() from inside the packet callback */
#define PCAP_ERR_CAPABILITIES "E_PCAP_CAPABILITIES"     /* dropCapabilities failed on the calling thread */
#define PCAP_ERR_INTERNAL "E_PCAP_INTERNAL"             /* a Node-API call failed, out of memory */

/* Longest message thrown (longer ones are cut). */
#define ERROR_MESSAGE_BYTES 1024u

/* Which JS error class: misuse by the caller is a TypeError or RangeError. */
typedef enum { ERROR_PLAIN, ERROR_TYPE, ERROR_RANGE } error_kind;

/* Throws a new error unless one is already pending (the first cause wins). */
void throw_formatted(napi_env env, error_kind kind, const char *code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
/* A Node-API call failed (out of memory, a bug): throws PCAP_ERR_INTERNAL naming `call`. */
void throw_napi_failure(napi_env env, const char *call);

/* In a function returning napi_value: a failed Node-API call throws and returns NULL. */
#define NAPI_CALL(env, call)            \
  do {                                  \
    if ((call) != napi_ok) {            \
      throw_napi_failure((env), #call); \
      return NULL;                      \
    }                                   \
  } while (0)

#endif
