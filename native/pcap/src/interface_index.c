/* Which interface a capture socket is bound to, and which one a name stands for now. */
#include <errno.h>
#include <string.h>

#include <net/if.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "capture.h"

/* Looked up through the capture's own socket, so in the namespace it captures in (even when it
 * was opened in another one). */
int interface_index_of_name(int fd, const char *device) {
  struct ifreq request;
  memset(&request, 0, sizeof request);
  size_t length = strlen(device);
  if (length >= sizeof request.ifr_name) return -1;
  memcpy(request.ifr_name, device, length + 1);
  if (ioctl(fd, SIOCGIFINDEX, &request) == 0) return request.ifr_ifindex;
  return errno == ENODEV ? 0 : -1;
}

int interface_index_bound(int fd) {
  struct sockaddr_ll address;
  socklen_t length = sizeof address;
  memset(&address, 0, sizeof address);
  if (getsockname(fd, (struct sockaddr *)&address, &length) != 0 || address.sll_family != AF_PACKET) return 0;
  return address.sll_ifindex > 0 ? address.sll_ifindex : 0;
}
