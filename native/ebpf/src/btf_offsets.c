#include "btf_offsets.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* vmlinux BTF is 5-10 MiB; refuse anything absurd. */
#define MAX_BTF_BYTES (64u << 20)
/* Anonymous struct/union nesting we follow (mm_struct needs 1). */
#define MAX_MEMBER_DEPTH 8
/* Typedef/const/volatile chains we follow. */
#define MAX_MODIFIER_CHAIN 32

struct btf_index {
  const unsigned char *types; /* start of the type section */
  size_t types_size;
  const char *strings;
  size_t strings_size;
  uint32_t *type_offsets; /* type id - 1 -> offset into `types` */
  uint32_t type_count;
};

static const struct btf_type *type_by_id(const struct btf_index *b, uint32_t id) {
  if (id == 0 || id > b->type_count) return NULL;
  return (const struct btf_type *)(b->types + b->type_offsets[id - 1]);
}

static const char *name_of(const struct btf_index *b, uint32_t name_off) {
  if (name_off >= b->strings_size) return "";
  /* The string section ends with a NUL (checked when indexing), so this is terminated. */
  return b->strings + name_off;
}

/* Bytes that follow a btf_type of this kind, or -1 for an unknown kind. */
static long trailer_size(const struct btf_type *t) {
  uint32_t vlen = BTF_INFO_VLEN(t->info);
  switch (BTF_INFO_KIND(t->info)) {
    case BTF_KIND_INT: return 4;
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG: return 0;
    case BTF_KIND_ARRAY: return (long)sizeof(struct btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: return (long)vlen * (long)sizeof(struct btf_member);
    case BTF_KIND_ENUM: return (long)vlen * (long)sizeof(struct btf_enum);
    case BTF_KIND_FUNC_PROTO: return (long)vlen * (long)sizeof(struct btf_param);
    case BTF_KIND_VAR: return (long)sizeof(struct btf_var);
    case BTF_KIND_DATASEC: return (long)vlen * (long)sizeof(struct btf_var_secinfo);
    case BTF_KIND_DECL_TAG: return (long)sizeof(struct btf_decl_tag);
    case BTF_KIND_ENUM64: return (long)vlen * (long)sizeof(struct btf_enum64);
    default: return -1;
  }
}

static int index_btf(const unsigned char *data, size_t size, struct btf_index *b, struct ebpf_error *err) {
  memset(b, 0, sizeof *b);
  if (size < sizeof(struct btf_header)) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: too short");
  struct btf_header header;
  memcpy(&header, data, sizeof header);
  if (header.magic != BTF_MAGIC) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: bad magic 0x%x", header.magic);
  if (header.version != BTF_VERSION) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: unsupported version %u", header.version);
  if (header.hdr_len < sizeof header || header.hdr_len > size) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: bad header length");
  size_t body = size - header.hdr_len;
  if ((size_t)header.type_off + header.type_len > body || (size_t)header.str_off + header.str_len > body) {
    return ebpf_fail(err, EBPF_ERR_BTF, "BTF: sections outside the blob");
  }
  if (header.type_off % 4 != 0) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: misaligned type section");
  b->types = data + header.hdr_len + header.type_off;
  b->types_size = header.type_len;
  b->strings = (const char *)(data + header.hdr_len + header.str_off);
  b->strings_size = header.str_len;
  if (b->strings_size == 0 || b->strings[b->strings_size - 1] != '\0') {
    return ebpf_fail(err, EBPF_ERR_BTF, "BTF: string section not terminated");
  }

  size_t capacity = 1 << 16;
  b->type_offsets = malloc(capacity * sizeof *b->type_offsets);
  if (b->type_offsets == NULL) return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  size_t offset = 0;
  while (offset < b->types_size) {
    if (b->types_size - offset < sizeof(struct btf_type)) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: truncated type");
    const struct btf_type *t = (const struct btf_type *)(b->types + offset);
    long extra = trailer_size(t);
    if (extra < 0) {
      return ebpf_fail(err, EBPF_ERR_BTF, "BTF: unknown type kind %u at type %u", BTF_INFO_KIND(t->info),
                       b->type_count + 1);
    }
    size_t next = offset + sizeof(struct btf_type) + (size_t)extra;
    if (next > b->types_size) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: truncated type");
    if (b->type_count == capacity) {
      capacity *= 2;
      uint32_t *grown = realloc(b->type_offsets, capacity * sizeof *grown);
      if (grown == NULL) return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
      b->type_offsets = grown;
    }
    b->type_offsets[b->type_count++] = (uint32_t)offset;
    offset = next;
  }
  return 0;
}

/* Follows typedef/const/volatile/restrict/type-tag to the real type id (0 when unresolvable). */
static uint32_t resolve(const struct btf_index *b, uint32_t id) {
  for (int i = 0; i < MAX_MODIFIER_CHAIN; i++) {
    const struct btf_type *t = type_by_id(b, id);
    if (t == NULL) return 0;
    switch (BTF_INFO_KIND(t->info)) {
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: id = t->type; break;
      default: return id;
    }
  }
  return 0;
}

/* Size in bytes of a resolved type, or -1 when it has none. */
static long type_size(const struct btf_index *b, uint32_t id) {
  const struct btf_type *t = type_by_id(b, resolve(b, id));
  if (t == NULL) return -1;
  switch (BTF_INFO_KIND(t->info)) {
    case BTF_KIND_PTR: return (long)sizeof(void *);
    case BTF_KIND_INT:
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
    case BTF_KIND_FLOAT: return (long)t->size;
    default: return -1;
  }
}

/* The complete struct named `name` (not a forward declaration), or 0. */
static uint32_t find_struct(const struct btf_index *b, const char *name) {
  for (uint32_t id = 1; id <= b->type_count; id++) {
    const struct btf_type *t = type_by_id(b, id);
    if (BTF_INFO_KIND(t->info) == BTF_KIND_STRUCT && strcmp(name_of(b, t->name_off), name) == 0) return id;
  }
  return 0;
}

/*
 * Finds member `name` in struct/union `id`, looking into anonymous struct/union members.
 * Sets *bit_offset (from the start of the outermost struct) and *member_type. Returns 1 if found.
 */
static int find_member(const struct btf_index *b, uint32_t id, const char *name, uint32_t base_bits, int depth,
                       uint32_t *bit_offset, uint32_t *member_type) {
  const struct btf_type *t = type_by_id(b, id);
  if (t == NULL || depth > MAX_MEMBER_DEPTH) return 0;
  uint32_t kind = BTF_INFO_KIND(t->info);
  if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION) return 0;
  const struct btf_member *members = (const struct btf_member *)(t + 1);
  uint32_t vlen = BTF_INFO_VLEN(t->info);
  for (uint32_t i = 0; i < vlen; i++) {
    uint32_t offset = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(members[i].offset) : members[i].offset;
    if (members[i].name_off != 0) {
      if (strcmp(name_of(b, members[i].name_off), name) == 0) {
        *bit_offset = base_bits + offset;
        *member_type = members[i].type;
        return 1;
      }
      continue;
    }
    uint32_t inner = resolve(b, members[i].type);
    if (find_member(b, inner, name, base_bits + offset, depth + 1, bit_offset, member_type)) return 1;
  }
  return 0;
}

/* What a member must be for the program to read it the way it does. */
enum member_kind {
  MEMBER_POINTER,    /* 8-byte pointer */
  MEMBER_U64,        /* 8-byte integer */
  MEMBER_U32,        /* 4-byte integer (pid_t) */
  MEMBER_COMM,       /* char array of at least 16 bytes (TASK_COMM_LEN) */
  MEMBER_STRUCT,     /* an embedded struct, followed by the next name of the path */
};

static const char *const member_kind_names[] = {
    [MEMBER_POINTER] = "a 64-bit pointer", [MEMBER_U64] = "a 64-bit integer", [MEMBER_U32] = "a 32-bit integer",
    [MEMBER_COMM] = "a char array of at least 16 bytes", [MEMBER_STRUCT] = "an embedded struct",
};

#define TASK_COMM_BYTES 16

static int is_kind(const struct btf_index *b, uint32_t type, enum member_kind want) {
  const struct btf_type *t = type_by_id(b, resolve(b, type));
  if (t == NULL) return 0;
  uint32_t kind = BTF_INFO_KIND(t->info);
  switch (want) {
    case MEMBER_POINTER: return kind == BTF_KIND_PTR && sizeof(void *) == 8;
    case MEMBER_U64: return (kind == BTF_KIND_INT || kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64) && t->size == 8;
    case MEMBER_U32: return (kind == BTF_KIND_INT || kind == BTF_KIND_ENUM) && t->size == 4;
    case MEMBER_STRUCT: return kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION;
    case MEMBER_COMM: {
      if (kind != BTF_KIND_ARRAY) return 0;
      const struct btf_array *array = (const struct btf_array *)(t + 1);
      return array->nelems >= TASK_COMM_BYTES && type_size(b, array->type) == 1;
    }
  }
  return 0;
}

/*
 * Byte offset, from the start of struct `struct_name`, of the member reached by `path` (names
 * separated by '.', e.g. "f_path.dentry": every name but the last is an embedded struct), checked
 * to be `want`.
 */
static int member_offset(const struct btf_index *b, const char *struct_name, const char *path, enum member_kind want,
                         int *out, struct ebpf_error *err) {
  uint32_t id = find_struct(b, struct_name);
  if (id == 0) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: struct %s not found", struct_name);
  char name[64];
  uint32_t total_bits = 0;
  const char *rest = path;
  for (;;) {
    const char *dot = strchr(rest, '.');
    size_t length = dot == NULL ? strlen(rest) : (size_t)(dot - rest);
    if (length == 0 || length >= sizeof name) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: bad member path %s", path);
    memcpy(name, rest, length);
    name[length] = '\0';
    uint32_t bits = 0, type = 0;
    if (!find_member(b, id, name, 0, 0, &bits, &type)) {
      return ebpf_fail(err, EBPF_ERR_BTF, "BTF: struct %s has no member %s", struct_name, path);
    }
    if (bits % 8 != 0) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: %s.%s is a bit field", struct_name, path);
    total_bits += bits;
    enum member_kind expected = dot == NULL ? want : MEMBER_STRUCT;
    if (!is_kind(b, type, expected)) {
      return ebpf_fail(err, EBPF_ERR_BTF, "BTF: %s.%.*s is not %s", struct_name, (int)(rest + length - path), path,
                       member_kind_names[expected]);
    }
    if (dot == NULL) break;
    id = resolve(b, type);
    rest = dot + 1;
  }
  if (total_bits / 8 > 0x7fff) return ebpf_fail(err, EBPF_ERR_BTF, "BTF: %s.%s offset too large", struct_name, path);
  *out = (int)(total_bits / 8);
  return 0;
}

struct btf_types {
  unsigned char *data;
  struct btf_index index;
};

void btf_types_free(struct btf_types *types) {
  if (types == NULL) return;
  free(types->index.type_offsets);
  free(types->data);
  free(types);
}

int btf_types_from_bytes(const unsigned char *data, size_t size, struct btf_types **out, struct ebpf_error *err) {
  *out = NULL;
  struct btf_types *types = calloc(1, sizeof *types);
  if (types == NULL || (types->data = malloc(size == 0 ? 1 : size)) == NULL) {
    free(types);
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  }
  memcpy(types->data, data, size);
  if (index_btf(types->data, size, &types->index, err) != 0) {
    btf_types_free(types);
    return -1;
  }
  *out = types;
  return 0;
}

int btf_argv_offsets(const struct btf_types *types, struct argv_offsets *out, struct ebpf_error *err) {
  const struct btf_index *b = &types->index;
  if (member_offset(b, "task_struct", "mm", MEMBER_POINTER, &out->task_mm, err) != 0) return -1;
  if (member_offset(b, "mm_struct", "arg_start", MEMBER_U64, &out->mm_arg_start, err) != 0) return -1;
  return member_offset(b, "mm_struct", "arg_end", MEMBER_U64, &out->mm_arg_end, err);
}

/* Looks one offset up; on failure marks every field in `needed_by` unavailable (first reason wins). */
static void identity_member(const struct btf_index *b, struct identity_offsets *out, const char *struct_name,
                            const char *path, enum member_kind want, int *offset, unsigned needed_by,
                            struct ebpf_error *err) {
  if (member_offset(b, struct_name, path, want, offset, err) == 0) return;
  for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
    if ((needed_by & (1u << field)) == 0 || !out->available[field]) continue;
    out->available[field] = 0;
    snprintf(out->reasons[field], sizeof out->reasons[field], "%.*s", BTF_REASON_SIZE - 1, err->message);
  }
}

void btf_identity_offsets(const struct btf_types *types, struct identity_offsets *out) {
  const struct btf_index *b = &types->index;
  memset(out, 0, sizeof *out);
  for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) out->available[field] = 1;
  struct ebpf_error *err = malloc(sizeof *err);
  if (err == NULL) {
    for (int field = 0; field < IDENTITY_FIELD_COUNT; field++) {
      out->available[field] = 0;
      snprintf(out->reasons[field], sizeof out->reasons[field], "out of memory");
    }
    return;
  }
  const unsigned parent = 1u << IDENTITY_PARENT_PID, parent_comm = 1u << IDENTITY_PARENT_COMM;
  const unsigned start = 1u << IDENTITY_START_TIME, exe = 1u << IDENTITY_EXE_NAME;
  identity_member(b, out, "task_struct", "group_leader", MEMBER_POINTER, &out->task_group_leader,
                  parent | parent_comm | start, err);
  identity_member(b, out, "task_struct", "real_parent", MEMBER_POINTER, &out->task_real_parent, parent | parent_comm, err);
  identity_member(b, out, "task_struct", "tgid", MEMBER_U32, &out->task_tgid, parent, err);
  identity_member(b, out, "task_struct", "comm", MEMBER_COMM, &out->task_comm, parent_comm, err);
  identity_member(b, out, "task_struct", "start_boottime", MEMBER_U64, &out->task_start_boottime, start, err);
  identity_member(b, out, "task_struct", "mm", MEMBER_POINTER, &out->task_mm, exe, err);
  identity_member(b, out, "mm_struct", "exe_file", MEMBER_POINTER, &out->mm_exe_file, exe, err);
  identity_member(b, out, "file", "f_path.dentry", MEMBER_POINTER, &out->file_dentry, exe, err);
  identity_member(b, out, "dentry", "d_name.name", MEMBER_POINTER, &out->dentry_name, exe, err);
  free(err);
}

int btf_types_load(const char *path, struct btf_types **out, struct ebpf_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    return ebpf_fail(err, EBPF_ERR_BTF, "%s: %s (kernel built without CONFIG_DEBUG_INFO_BTF?)", path, strerror(saved));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || (unsigned long long)st.st_size > MAX_BTF_BYTES) {
    close(fd);
    return ebpf_fail(err, EBPF_ERR_BTF, "%s: unexpected size", path);
  }
  size_t size = (size_t)st.st_size;
  struct btf_types *types = calloc(1, sizeof *types);
  unsigned char *data = malloc(size);
  if (types == NULL || data == NULL) {
    free(types);
    free(data);
    close(fd);
    return ebpf_fail(err, EBPF_ERR_SYSTEM, "out of memory");
  }
  size_t used = 0;
  while (used < size) {
    ssize_t n = read(fd, data + used, size - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
  }
  close(fd);
  types->data = data;
  if (used != size) {
    btf_types_free(types);
    return ebpf_fail(err, EBPF_ERR_BTF, "%s: short read", path);
  }
  if (index_btf(types->data, size, &types->index, err) != 0) {
    btf_types_free(types);
    return -1;
  }
  *out = types;
  return 0;
}
