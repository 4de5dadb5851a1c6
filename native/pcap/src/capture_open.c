/*
 * Opening a capture: pcap_create .. pcap_activate (in another network namespace when asked),
 * the kernel filter, non-blocking mode, and the batch buffer, allocated once here so the packet
 * path never allocates.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "error.h"

/* Activation failure -> code and message; libpcap's own text (pcap_geterr) is the detail. */
static void throw_activate_error(napi_env env, pcap_t *pcap, int status, const char *device) {
  const char *detail = libpcap.geterr(pcap);
  if (detail == NULL || detail[0] == '\0') detail = libpcap.statustostr(status);
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_NO_SUCH_DEVICE, "no such capture device %s: %s", device, detail);
      break;
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_PERMISSION,
                      "permission denied opening capture device %s: run as root (or with CAP_NET_RAW): %s", device,
                      detail);
      break;
    case PCAP_ERROR_IFACE_NOT_UP:
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_INTERFACE_DOWN, "capture device %s is not up: %s", device, detail);
      break;
    default:
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_ACTIVATE, "cannot open capture device %s: %s (%s)", device, detail,
                      libpcap.statustostr(status));
      break;
  }
}

/*
 * pcap_create .. pcap_activate. The packet socket is created in the calling thread's network
 * namespace, so with a namespace path we enter it for these calls only and come straight back;
 * the socket keeps capturing in the namespace it was made in.
 */
static pcap_t *create_and_activate(napi_env env, const capture_options *options, char *warning, size_t warning_size,
                                   bool *nano) {
  int original_ns = -1;
  int target_ns = -1;
  if (options->netns_path != NULL) {
    original_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ns < 0) {
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_NETNS, "cannot open the current network namespace: %s", strerror(errno));
      return NULL;
    }
    target_ns = open(options->netns_path, O_RDONLY | O_CLOEXEC);
    if (target_ns < 0) {
      int error = errno;
      close(original_ns);
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_NETNS, "cannot open network namespace %s: %s", options->netns_path,
                      strerror(error));
      return NULL;
    }
    if (setns(target_ns, CLONE_NEWNET) != 0) {
      int error = errno;
      close(original_ns);
      close(target_ns);
      throw_formatted(env, ERROR_PLAIN, PCAP_ERR_NETNS, "cannot enter network namespace %s: %s%s", options->netns_path,
                      strerror(error), error == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
      return NULL;
    }
    close(target_ns);
  }

  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pcap = libpcap.create(options->device, errbuf);
  int activated = PCAP_ERROR;
  bool precision_set = false;
  if (pcap != NULL) {
    libpcap.set_snaplen(pcap, (int)options->snaplen);
    libpcap.set_promisc(pcap, 0);
    /* Not immediate mode. In immediate mode libpcap uses TPACKET_V2, one fixed snaplen-sized slot
     * per packet, so 32 MiB held only ~2,000 packets of 16 KiB snaplen (tens of ms of IMDS load).
     * TPACKET_V3 packs packets into blocks by their real size and hands a block over when it
     * is full or block_timeout_ms after its first packet: the same memory holds ~100x more. */
    libpcap.set_immediate_mode(pcap, 0);
    libpcap.set_timeout(pcap, (int)options->block_timeout_ms);
    libpcap.set_buffer_size(pcap, (int)options->buffer_size);
    precision_set = libpcap.set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO) == 0;
    activated = libpcap.activate(pcap);
  }

  if (original_ns >= 0) {
    /* Staying in the other namespace would silently move this whole thread's networking. */
    if (setns(original_ns, CLONE_NEWNET) != 0) napi_fatal_error("imds_pcap", NAPI_AUTO_LENGTH,
                                                                "cannot return to the original network namespace",
                                                                NAPI_AUTO_LENGTH);
    close(original_ns);
  }

  if (pcap == NULL) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_CREATE, "cannot open capture device %s: %s", options->device, errbuf);
    return NULL;
  }
  if (activated < 0) {
    throw_activate_error(env, pcap, activated, options->device);
    libpcap.close(pcap);
    return NULL;
  }
  *nano = libpcap.get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO;
  size_t used = 0;
  if (activated > 0) {
    const char *detail = activated == PCAP_WARNING ? libpcap.geterr(pcap) : libpcap.statustostr(activated);
    used += (size_t)snprintf(warning, warning_size, "%s: %s", options->device, detail);
  }
  if (!*nano && used < warning_size) {
    snprintf(warning + used, warning_size - used, "%s%s: nanosecond timestamps %s: using microseconds",
             used > 0 ? "; " : "", options->device, precision_set ? "not delivered" : "not supported");
  }
  return pcap;
}

static bool install_filter(napi_env env, pcap_t *pcap, const capture_options *options) {
  struct bpf_program program;
  if (libpcap.compile(pcap, &program, options->filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_FILTER, "invalid capture filter \"%s\": %s", options->filter,
                    libpcap.geterr(pcap));
    return false;
  }
  int status = libpcap.setfilter(pcap, &program);
  libpcap.freecode(&program);
  if (status != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_FILTER, "cannot install capture filter \"%s\" on %s: %s", options->filter,
                    options->device, libpcap.geterr(pcap));
    return false;
  }
  return true;
}

capture *capture_open(napi_env env, const capture_options *options, char *warning, size_t warning_size) {
  char problem[ERROR_MESSAGE_BYTES];
  if (!libpcap_load(problem, sizeof problem)) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_LIBRARY, "%s", problem);
    return NULL;
  }
  bool nano = false;
  pcap_t *pcap = create_and_activate(env, options, warning, warning_size, &nano);
  if (pcap == NULL) return NULL;
  if (!install_filter(env, pcap, options)) {
    libpcap.close(pcap);
    return NULL;
  }
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  if (libpcap.setnonblock(pcap, 1, errbuf) != 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_SETUP, "cannot make capture on %s non-blocking: %s", options->device,
                    errbuf);
    libpcap.close(pcap);
    return NULL;
  }
  int fd = libpcap.get_selectable_fd(pcap);
  if (fd < 0) {
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_SETUP, "capture on %s has no selectable file descriptor",
                    options->device);
    libpcap.close(pcap);
    return NULL;
  }

  /* A batch holds batch_packets records of at most snaplen bytes; fewer packets if that would
   * exceed MAX_BATCH_BYTES. */
  size_t record_max = capture_record_bytes(options->snaplen);
  uint32_t batch_packets = options->batch_packets;
  if ((size_t)batch_packets * record_max > MAX_BATCH_BYTES) batch_packets = (uint32_t)(MAX_BATCH_BYTES / record_max);
  if (batch_packets == 0) batch_packets = 1;

  capture *c = calloc(1, sizeof *c);
  char *device = strdup(options->device);
  uint8_t *batch = malloc((size_t)batch_packets * record_max);
  if (c == NULL || device == NULL || batch == NULL) {
    free(c);
    free(device);
    free(batch);
    libpcap.close(pcap);
    throw_formatted(env, ERROR_PLAIN, PCAP_ERR_INTERNAL, "out of memory");
    return NULL;
  }
  c->env = env;
  c->pcap = pcap;
  c->device = device;
  c->fd = fd;
  c->ifindex = interface_index_bound(fd);
  c->nano = nano;
  c->snaplen = options->snaplen;
  c->buffer_size = options->buffer_size;
  c->batch_packets = batch_packets;
  c->block_timeout_ms = options->block_timeout_ms;
  c->batch = batch;
  c->batch_capacity = (size_t)batch_packets * record_max;
  return c;
}

void capture_free(capture *c) {
  free(c->batch);
  free(c->device);
  free(c);
}
