/* The functions addon.c registers on the module's exports, one file each. */
#ifndef IMDS_PCAP_EXPORTS_H
#define IMDS_PCAP_EXPORTS_H

#include <node_api.h>

/* js_capture.c: the PcapHandle class (NULL with an error thrown), and open(device, options). */
napi_value js_capture_class(napi_env env);
napi_value js_open(napi_env env, napi_callback_info info);
/* js_libpcap.c: libpcapVersion(). */
napi_value js_libpcap_version(napi_env env, napi_callback_info info);
/* js_capabilities.c: dropCapabilities(keep). */
napi_value js_drop_capabilities(napi_env env, napi_callback_info info);
/* js_file_space.c: reserveFileSpace(fd, offset, length). */
napi_value js_reserve_file_space(napi_env env, napi_callback_info info);

#endif
