/*
 * How both addons (native/pcap, native/ebpf) name the `code` of the errors they throw to
 * JavaScript. One style, so a code in a log says which layer failed and the TypeScript side
 * can match on it (src/errors.ts keeps codes stable):
 *
 *   - a failure of the system or of a library the addon drives is "E_<ADDON>_<WHAT>", in
 *     capitals: E_PCAP_PERMISSION, E_PCAP_NO_SUCH_DEVICE, E_EBPF_VERIFIER, E_EBPF_TRACEFS. Each
 *     addon defines its own in its error.h (PCAP_ERR_*, EBPF_ERR_*), including
 *     E_<ADDON>_INTERNAL for a failed Node-API call or an allocation;
 *   - a caller's misuse is one of the codes below, the same in both addons, thrown as the
 *     matching JS error class (like Node's own ERR_INVALID_ARG_TYPE, with the project's E_).
 *
 * Codes are defined as macros, never written as string literals at the throw site, so a typo
 * is a compile error and a grep for the macro finds every place that throws it.
 */
#ifndef IMDS_NATIVE_ERROR_CODES_H
#define IMDS_NATIVE_ERROR_CODES_H

/* TypeError: an argument (or an option) of the wrong type, or a missing one. */
#define ERR_INVALID_ARG_TYPE "E_INVALID_ARG_TYPE"
/* TypeError: the right type, but a value that cannot be used (an empty device, a NUL inside). */
#define ERR_INVALID_ARG_VALUE "E_INVALID_ARG_VALUE"
/* RangeError: a number or length outside its documented range. */
#define ERR_OUT_OF_RANGE "E_OUT_OF_RANGE"
/* TypeError: a method called on (or a handle argument that is) not an object of this addon. */
#define ERR_INVALID_THIS "E_INVALID_THIS"

#endif
