/*
 * imds_pcap: the Node-API addon live capture needs (src/live/pcap-addon.ts loads it and
 * describes its shape). Unrelated exports, each in its own file:
 *   open(device, options) -> PcapHandle   libpcap capture read in batches   js_capture.c
 *   libpcapVersion()                      loads libpcap, or says why not    js_libpcap.c
 *   dropCapabilities(keep)                keep only these, on every thread  js_capabilities.c
 *   reserveFileSpace(fd, offset, length)  fallocate for the events file      js_file_space.c
 *
 * libpcap is opened at run time, not linked (libpcap.h): the addon loads where libpcap is not
 * installed, and only open() and libpcapVersion() need it.
 *
 * Why our own binding: the `cap` package gives neither packet timestamps nor pcap_stats, and the
 * readiness verdict needs both (capture time for the event order, drop counts to know whether
 * "no v1 seen" can be trusted).
 *
 * Errors thrown to JS are Error objects with a `code` (error.h, named as in
 * native/common/error_codes.h); wrong argument types are TypeErrors, out-of-range numbers
 * RangeErrors. Nothing a caller passes can crash the process.
 */
#include "error.h"
#include "exports.h"

NAPI_MODULE_INIT() {
  napi_value constructor = js_capture_class(env);
  if (constructor == NULL) return NULL;
  napi_property_descriptor properties[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"libpcapVersion", NULL, js_libpcap_version, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"dropCapabilities", NULL, js_drop_capabilities, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"reserveFileSpace", NULL, js_reserve_file_space, NULL, NULL, NULL, napi_default_jsproperty, NULL},
      {"PcapHandle", NULL, NULL, NULL, NULL, constructor, napi_default_jsproperty, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}
