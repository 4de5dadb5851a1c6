#include "tracepoint_format.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENT_DIR "events/sock/inet_sock_set_state"
#define TRACEFS_MOUNT_POINT "/sys/kernel/tracing"
/* A format file is about 3 KiB; anything bigger than this is not one. */
#define MAX_FORMAT_BYTES 65536

static const char *const tracefs_roots[] = {TRACEFS_MOUNT_POINT, "/sys/kernel/debug/tracing"};

struct expected_field {
  const char *name;
  int size;
  size_t member; /* offsetof the tp_field in struct tp_format */
};

#define FIELD(NAME, SIZE) {#NAME, SIZE, offsetof(struct tp_format, NAME)}
static const struct expected_field expected_fields[] = {
    FIELD(skaddr, 8), FIELD(oldstate, 4), FIELD(newstate, 4), FIELD(sport, 2),
    FIELD(dport, 2),  FIELD(family, 2),   FIELD(protocol, 2), FIELD(saddr, 4),
    FIELD(daddr, 4),  FIELD(saddr_v6, 16), FIELD(daddr_v6, 16),
};
#undef FIELD
#define EXPECTED_FIELD_COUNT (sizeof expected_fields / sizeof expected_fields[0])

/* Reads a small file into buf (NUL-terminated). Returns bytes read or -1 with errno. */
static ssize_t read_small_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t used = 0;
  while (used + 1 < size) {
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  close(fd);
  buf[used] = '\0';
  return (ssize_t)used;
}

/* The field name in a declaration such as "const void * skaddr" or "__u8 saddr_v6[16]". */
static void declaration_name(const char *decl, size_t length, char *name, size_t name_size) {
  size_t end = length;
  const char *bracket = memchr(decl, '[', length);
  if (bracket != NULL) end = (size_t)(bracket - decl);
  while (end > 0 && isspace((unsigned char)decl[end - 1])) end--;
  size_t start = end;
  while (start > 0 && (isalnum((unsigned char)decl[start - 1]) || decl[start - 1] == '_')) start--;
  size_t n = end - start;
  if (n >= name_size) n = name_size - 1;
  memcpy(name, decl + start, n);
  name[n] = '\0';
}

/* The integer after `key` (e.g. "offset:") within [line, line_end), or -1. */
static int number_after(const char *line, const char *line_end, const char *key) {
  size_t key_length = strlen(key);
  for (const char *p = line; p + key_length <= line_end; p++) {
    if (memcmp(p, key, key_length) == 0) {
      char *after = NULL;
      long value = strtol(p + key_length, &after, 10);
      if (after == p + key_length || value < 0 || value > 65535) return -1;
      return (int)value;
    }
  }
  return -1;
}

int tp_format_parse(const char *text, struct tp_format *out, struct ebpf_error *err) {
  int found[EXPECTED_FIELD_COUNT] = {0};
  for (const char *line = text; *line != '\0';) {
    const char *line_end = strchr(line, '\n');
    if (line_end == NULL) line_end = line + strlen(line);
    const char *field = strstr(line, "field:");
    if (field != NULL && field < line_end) {
      const char *decl = field + strlen("field:");
      const char *semicolon = memchr(decl, ';', (size_t)(line_end - decl));
      if (semicolon != NULL) {
        char name[64];
        declaration_name(decl, (size_t)(semicolon - decl), name, sizeof name);
        for (size_t i = 0; i < EXPECTED_FIELD_COUNT; i++) {
          if (strcmp(name, expected_fields[i].name) != 0) continue;
          int offset = number_after(semicolon, line_end, "offset:");
          int size = number_after(semicolon, line_end, "size:");
          if (offset < 0 || size < 0) {
            return ebpf_fail(err, EBPF_ERR_TRACEPOINT, "inet_sock_set_state format: no offset/size for field %s", name);
          }
          if (size != expected_fields[i].size) {
            return ebpf_fail(err, EBPF_ERR_TRACEPOINT,
                             "inet_sock_set_state format: field %s has size %d, expected %d", name, size,
                             expected_fields[i].size);
          }
          struct tp_field *target = (struct tp_field *)((char *)out + expected_fields[i].member);
          target->offset = offset;
          target->size = size;
          found[i] = 1;
        }
      }
    }
    line = *line_end == '\0' ? line_end : line_end + 1;
  }
  for (size_t i = 0; i < EXPECTED_FIELD_COUNT; i++) {
    if (!found[i]) {
      return ebpf_fail(err, EBPF_ERR_TRACEPOINT, "inet_sock_set_state format: field %s missing",
                       expected_fields[i].name);
    }
  }
  return 0;
}

/* The tracefs root that has the event, or NULL; *denied is set when a root exists but is not
 * readable by this process (tracefs is 0700 root). */
static const char *find_event_root(int *denied) {
  char path[256];
  *denied = 0;
  for (size_t i = 0; i < sizeof tracefs_roots / sizeof tracefs_roots[0]; i++) {
    snprintf(path, sizeof path, "%s/" EVENT_DIR "/format", tracefs_roots[i]);
    if (access(path, R_OK) == 0) return tracefs_roots[i];
    if (errno == EACCES || errno == EPERM) *denied = 1;
  }
  return NULL;
}

static int tracefs_mounted_at(const char *root) {
  char path[256];
  snprintf(path, sizeof path, "%s/events", root);
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tp_format_load(struct tp_format *out, struct ebpf_error *err) {
  memset(out, 0, sizeof *out);
  int denied = 0;
  const char *root = find_event_root(&denied);
  if (root == NULL && denied) {
    return ebpf_fail(err, EBPF_ERR_PERMISSION,
                     "cannot read the tracepoint format under " TRACEFS_MOUNT_POINT
                     ": permission denied (run as root)");
  }
  if (root == NULL) {
    int any_mounted = 0;
    for (size_t i = 0; i < sizeof tracefs_roots / sizeof tracefs_roots[0]; i++) {
      any_mounted |= tracefs_mounted_at(tracefs_roots[i]);
    }
    if (any_mounted) {
      return ebpf_fail(err, EBPF_ERR_TRACEPOINT,
                       "tracefs is mounted but has no sock:inet_sock_set_state tracepoint (Linux >= 4.16 needed)");
    }
    if (mount("nodev", TRACEFS_MOUNT_POINT, "tracefs", 0, NULL) != 0) {
      int saved = errno;
      return ebpf_fail(err, saved == EPERM ? EBPF_ERR_PERMISSION : EBPF_ERR_TRACEFS,
                       "tracefs is not mounted and mounting it at " TRACEFS_MOUNT_POINT
                       " failed: %s (run as root, or mount it: mount -t tracefs nodev " TRACEFS_MOUNT_POINT ")",
                       strerror(saved));
    }
    root = find_event_root(&denied);
    if (root == NULL) {
      return ebpf_fail(err, EBPF_ERR_TRACEPOINT,
                       "tracefs mounted at " TRACEFS_MOUNT_POINT
                       " but it has no sock:inet_sock_set_state tracepoint (Linux >= 4.16 needed)");
    }
  }

  char path[256];
  char *text = malloc(MAX_FORMAT_BYTES);
  if (text == NULL) return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  snprintf(path, sizeof path, "%s/" EVENT_DIR "/format", root);
  if (read_small_file(path, text, MAX_FORMAT_BYTES) < 0) {
    int saved = errno;
    free(text);
    return ebpf_fail(err, ebpf_code_for_errno(saved, EBPF_ERR_TRACEFS), "%s: %s", path, strerror(saved));
  }
  int result = tp_format_parse(text, out, err);
  free(text);
  if (result != 0) return result;

  char id_text[32];
  snprintf(path, sizeof path, "%s/" EVENT_DIR "/id", root);
  if (read_small_file(path, id_text, sizeof id_text) < 0) {
    int saved = errno;
    return ebpf_fail(err, ebpf_code_for_errno(saved, EBPF_ERR_TRACEFS), "%s: %s", path, strerror(saved));
  }
  char *after = NULL;
  long id = strtol(id_text, &after, 10);
  if (after == id_text || id <= 0 || id > 0x7fffffff) {
    return ebpf_fail(err, EBPF_ERR_TRACEPOINT, "%s: not a tracepoint id: %.20s", path, id_text);
  }
  out->id = (int)id;
  return 0;
}
