/* Reading the JS arguments of the exports: each reader throws (and returns NULL/false) on a bad value. */
#ifndef IMDS_PCAP_ARGUMENTS_H
#define IMDS_PCAP_ARGUMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* A JS string copied into a new malloc'd buffer (the caller frees it); `name` is for messages. */
char *get_string(napi_env env, napi_value value, const char *name, size_t max_bytes);
/* object[name] when present (not undefined): *present tells. */
bool get_property(napi_env env, napi_value object, const char *name, napi_value *value, bool *present);
/* options[name], an integer from min to max, or `fallback` when absent. */
bool get_optional_uint32(napi_env env, napi_value options, const char *name, uint32_t fallback, uint32_t min,
                         uint32_t max, uint32_t *out);

#endif
