/*
 * libpcapVersion() -> pcap_lib_version(), e.g. "libpcap version 1.10.3 (with TPACKET_V3)",
 * loading libpcap first (libpcap.h). Throws E_PCAP_LIBRARY with the one line for the user when
 * libpcap is not installed or cannot be used: the CLI asks this before anything else of live
 * capture, and open() throws the same error.
 */
#include "error.h"
#include "exports.h"
#include "libpcap.h"

napi_value js_libpcap_version(napi_env env, napi_callback_info info) {
  char problem[ERROR_MESSAGE_BYTES];
  if (!libpcap_load(problem, sizeof problem)) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_LIBRARY, "%s", problem);
    return NULL;
  }
  napi_value version;
  NAPI_CALL(env, napi_create_string_utf8(env, libpcap.lib_version(), NAPI_AUTO_LENGTH, &version));
  return version;
}
