#include "program.h"

#include <string.h>

#include "record.h"

/* Kernel TCP states (include/net/tcp_states.h, stable ABI: the tracepoint prints them). */
#define TCP_STATE_ESTABLISHED 1
#define TCP_STATE_SYN_SENT 2
#define TCP_STATE_SYN_RECV 3
#define TCP_STATE_CLOSE 7
#define IPPROTO_TCP_NUMBER 6
#define IMDS_PORT 80

/* IMDS addresses in network byte order, compared byte for byte with the tracepoint's fields. */
static const unsigned char imds_ipv4[4] = {169, 254, 169, 254};
static const unsigned char imds_ipv6[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};

/*
 * Stack frame (offsets from r10, the frame pointer; 512 bytes at most). Every slot is written
 * before it is read, and the record is zeroed first, so the verifier sees initialized memory
 * wherever a helper reads it (map update, ring buffer output).
 */
#define STACK_SKADDR_KEY (-8)
#define STACK_COUNTER_KEY (-16)
#define STACK_MM (-24)
#define STACK_POINTER (-24) /* a kernel pointer read by the identity capture (after argv: shared) */
#define STACK_ARG_START (-32)
#define STACK_ARG_END (-40)
#define STACK_RECORD (-(40 + RECORD_SIZE))

#define MAP_ENTRY_ANY 0 /* BPF_ANY: create or replace */

_Static_assert(RECORD_SIZE % 8 == 0, "record must be a multiple of 8 bytes");
_Static_assert(40 + RECORD_SIZE <= 512, "record does not fit the BPF stack");

struct builder {
  struct bpf_asm *a;
  const struct program_params *p;
};

static int size_code(int bytes) {
  switch (bytes) {
    case 8: return BPF_DW;
    case 4: return BPF_W;
    case 2: return BPF_H;
    default: return BPF_B;
  }
}

/* The biggest access size (8, 4, 2, 1) that both offsets are aligned to and that fits. */
static int chunk_size(int from, int to, int remaining) {
  for (int size = 8; size > 1; size /= 2) {
    if (remaining >= size && from % size == 0 && to % size == 0) return size;
  }
  return 1;
}

/* counters[index] += 1 (atomic). Clobbers r0-r5. */
static void emit_count(struct builder *b, int index) {
  struct bpf_asm *a = b->a;
  int skip = bpf_asm_new_label(a);
  bpf_asm_emit(a, BPF_ST_MEM(BPF_W, BPF_REG_10, STACK_COUNTER_KEY, index));
  bpf_asm_ld_map_fd(a, BPF_REG_1, b->p->counters_map_fd);
  bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_2, BPF_REG_10));
  bpf_asm_emit(a, BPF_ALU64_IMM(BPF_ADD, BPF_REG_2, STACK_COUNTER_KEY));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_map_lookup_elem));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 0), skip);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_1, 1));
  bpf_asm_emit(a, BPF_ATOMIC_OP(BPF_DW, BPF_ADD, BPF_REG_0, BPF_REG_1, 0));
  bpf_asm_place(a, skip);
}

/* Copies `length` bytes of the tracepoint record (r6) at ctx_offset to [base + offset]. */
static void emit_copy_from_ctx(struct builder *b, int base_reg, int offset, int ctx_offset, int length) {
  while (length > 0) {
    /* Alignment of the destination: the stack record and map values are 8-byte aligned. */
    int size = chunk_size(ctx_offset, offset, length);
    bpf_asm_emit(b->a, BPF_LDX_MEM(size_code(size), BPF_REG_1, BPF_REG_6, ctx_offset));
    bpf_asm_emit(b->a, BPF_STX_MEM(size_code(size), base_reg, BPF_REG_1, offset));
    ctx_offset += size;
    offset += size;
    length -= size;
  }
}

/* Goes to `mismatch` unless the tracepoint bytes at ctx_offset equal `bytes`. Clobbers r1, r2. */
static void emit_compare_ctx(struct builder *b, int ctx_offset, const unsigned char *bytes, int length, int mismatch) {
  struct bpf_asm *a = b->a;
  int done = 0;
  while (done < length) {
    int size = chunk_size(ctx_offset + done, 0, length - done);
    bpf_asm_emit(a, BPF_LDX_MEM(size_code(size), BPF_REG_1, BPF_REG_6, ctx_offset + done));
    if (size == 8) {
      __u64 value;
      memcpy(&value, bytes + done, 8); /* same byte order as the load */
      bpf_asm_ld_imm64(a, BPF_REG_2, value);
      bpf_asm_jump(a, BPF_JMP_REG(BPF_JNE, BPF_REG_1, BPF_REG_2, 0), mismatch);
    } else if (size == 4) {
      __u32 value;
      memcpy(&value, bytes + done, 4);
      /* 32-bit compare: a 64-bit one would sign-extend the immediate. */
      bpf_asm_jump(a, BPF_JMP32_IMM(BPF_JNE, BPF_REG_1, (__s32)value, 0), mismatch);
    } else if (size == 2) {
      __u16 value;
      memcpy(&value, bytes + done, 2);
      bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, value, 0), mismatch);
    } else {
      bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, bytes[done], 0), mismatch);
    }
    done += size;
  }
}

/*
 * Goes to `reject` unless this is TCP to an IMDS address, port 80. An IPv4 socket (or an IPv6
 * socket connecting to ::ffff:169.254.169.254) has the IPv4 destination in `daddr`; a native
 * IPv6 socket has it in `daddr_v6` (its `daddr` holds a placeholder, never 169.254.169.254).
 */
static void emit_imds_filter(struct builder *b, int reject) {
  struct bpf_asm *a = b->a;
  const struct tp_format *f = &b->p->format;
  int accept = bpf_asm_new_label(a);
  int try_ipv6 = bpf_asm_new_label(a);
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_6, f->protocol.offset));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, IPPROTO_TCP_NUMBER, 0), reject);
  /* The tracepoint stores ports in host byte order. */
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_6, f->dport.offset));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, IMDS_PORT, 0), reject);
  emit_compare_ctx(b, f->daddr.offset, imds_ipv4, 4, try_ipv6);
  bpf_asm_jump(a, BPF_JMP_A(0), accept);
  bpf_asm_place(a, try_ipv6);
  emit_compare_ctx(b, f->daddr_v6.offset, imds_ipv6, 16, reject);
  bpf_asm_place(a, accept);
}

/* Copies family, ports and the four address fields from the tracepoint into [base + offset]. */
static void emit_copy_tuple(struct builder *b, int base_reg, int base_offset) {
  const struct tp_format *f = &b->p->format;
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_FAMILY, f->family.offset, 2);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_SPORT, f->sport.offset, 2);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_DPORT, f->dport.offset, 2);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_SADDR, f->saddr.offset, 4);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_DADDR, f->daddr.offset, 4);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_SADDR_V6, f->saddr_v6.offset, 16);
  emit_copy_from_ctx(b, base_reg, base_offset + RECORD_DADDR_V6, f->daddr_v6.offset, 16);
}

/* bpf_ringbuf_output(ring, r2 = data already set by the caller, RECORD_SIZE, 0) and counting. */
static void emit_ring_output(struct builder *b) {
  struct bpf_asm *a = b->a;
  int lost = bpf_asm_new_label(a);
  int done = bpf_asm_new_label(a);
  bpf_asm_ld_map_fd(a, BPF_REG_1, b->p->ring_map_fd);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_3, RECORD_SIZE));
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_4, 0)); /* flags 0: adaptive wakeup */
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_ringbuf_output));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), lost);
  emit_count(b, COUNTER_EMITTED);
  bpf_asm_jump(a, BPF_JMP_A(0), done);
  bpf_asm_place(a, lost);
  emit_count(b, COUNTER_RING_LOST);
  bpf_asm_place(a, done);
}

/* r1 = r10 + offset */
static void emit_stack_pointer(struct builder *b, int reg, int offset) {
  bpf_asm_emit(b->a, BPF_MOV64_REG(reg, BPF_REG_10));
  bpf_asm_emit(b->a, BPF_ALU64_IMM(BPF_ADD, reg, offset));
}

/* bpf_probe_read_kernel(r10 + stack_offset, 8, r[base_reg] + field_offset); r0 = result. */
static void emit_read_kernel_u64(struct builder *b, int stack_offset, int base_reg, int field_offset) {
  struct bpf_asm *a = b->a;
  bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_3, base_reg));
  bpf_asm_emit(a, BPF_ALU64_IMM(BPF_ADD, BPF_REG_3, field_offset));
  emit_stack_pointer(b, BPF_REG_1, stack_offset);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, 8));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_kernel));
}

/*
 * argv of the connecting task, read now so a process that exits 5 ms later keeps it:
 * current->mm->arg_start .. arg_end (user memory, NUL-separated), at most RECORD_ARGV_SIZE
 * bytes. Never reads past arg_end (the environment follows it). Uses r7 (mm), r8 (status).
 */
static void emit_argv_capture(struct builder *b) {
  struct bpf_asm *a = b->a;
  const struct argv_offsets *o = &b->p->argv;
  int failed = bpf_asm_new_label(a);
  int no_mm = bpf_asm_new_label(a);
  int read_user = bpf_asm_new_label(a);
  int done = bpf_asm_new_label(a);

  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_task));
  emit_read_kernel_u64(b, STACK_MM, BPF_REG_0, o->task_mm);
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), failed);
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_10, STACK_MM));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_7, 0, 0), no_mm);
  emit_read_kernel_u64(b, STACK_ARG_START, BPF_REG_7, o->mm_arg_start);
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), failed);
  emit_read_kernel_u64(b, STACK_ARG_END, BPF_REG_7, o->mm_arg_end);
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), failed);

  bpf_asm_emit(a, BPF_LDX_MEM(BPF_DW, BPF_REG_3, BPF_REG_10, STACK_ARG_START));
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, STACK_ARG_END));
  bpf_asm_jump(a, BPF_JMP_REG(BPF_JLT, BPF_REG_2, BPF_REG_3, 0), failed);
  bpf_asm_emit(a, BPF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_3)); /* r2 = length */
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_8, ARGV_STATUS_OK));
  /* The verifier needs r2 bounded to the buffer: [0, RECORD_ARGV_SIZE] on both paths. */
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JLE, BPF_REG_2, RECORD_ARGV_SIZE, 0), read_user);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, RECORD_ARGV_SIZE));
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_8, ARGV_STATUS_TRUNCATED));
  bpf_asm_place(a, read_user);
  bpf_asm_emit(a, BPF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, STACK_RECORD + RECORD_ARGV_LENGTH));
  emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_ARGV);
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_user));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), failed);
  bpf_asm_emit(a, BPF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_8, STACK_RECORD + RECORD_ARGV_STATUS));
  bpf_asm_jump(a, BPF_JMP_A(0), done);

  bpf_asm_place(a, no_mm);
  bpf_asm_emit(a, BPF_ST_MEM(BPF_B, BPF_REG_10, STACK_RECORD + RECORD_ARGV_STATUS, ARGV_STATUS_NO_MM));
  bpf_asm_jump(a, BPF_JMP_A(0), done);

  bpf_asm_place(a, failed);
  bpf_asm_emit(a, BPF_ST_MEM(BPF_W, BPF_REG_10, STACK_RECORD + RECORD_ARGV_LENGTH, 0));
  bpf_asm_emit(a, BPF_ST_MEM(BPF_B, BPF_REG_10, STACK_RECORD + RECORD_ARGV_STATUS, ARGV_STATUS_FAILED));
  emit_count(b, COUNTER_ARGV_FAILED);
  bpf_asm_place(a, done);
}

/*
 * r[reg] = *(u64 *)(r[base_reg] + field_offset), read with bpf_probe_read_kernel through
 * STACK_POINTER; goes to `failed` when the read fails or the pointer read is NULL.
 * reg must be callee-saved (r7-r9): the helper call clobbers r0-r5.
 */
static void emit_follow_pointer(struct builder *b, int reg, int base_reg, int field_offset, int failed) {
  emit_read_kernel_u64(b, STACK_POINTER, base_reg, field_offset);
  bpf_asm_jump(b->a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), failed);
  bpf_asm_emit(b->a, BPF_LDX_MEM(BPF_DW, reg, BPF_REG_10, STACK_POINTER));
  bpf_asm_jump(b->a, BPF_JMP_IMM(BPF_JEQ, reg, 0, 0), failed);
}

/* The record's status byte for `field` := IDENTITY_STATUS_OK. */
static const int identity_status_offsets[IDENTITY_FIELD_COUNT] = {
    [IDENTITY_PARENT_PID] = RECORD_PARENT_STATUS,
    [IDENTITY_PARENT_COMM] = RECORD_PARENT_COMM_STATUS,
    [IDENTITY_START_TIME] = RECORD_START_STATUS,
    [IDENTITY_EXE_NAME] = RECORD_EXE_NAME_STATUS,
};

static void emit_identity_status(struct builder *b, int field, int status) {
  bpf_asm_emit(b->a, BPF_ST_MEM(BPF_B, BPF_REG_10, STACK_RECORD + identity_status_offsets[field], status));
}

static int identity_wanted(const struct builder *b, int field) {
  return b->p->identity_capture && b->p->identity.available[field];
}

/* A failed read of `field`: mark it and count it, then go on with the next field. */
static void emit_identity_failed(struct builder *b, int field) {
  emit_identity_status(b, field, IDENTITY_STATUS_FAILED);
  emit_count(b, COUNTER_IDENTITY_FAILED);
}

/*
 * Who the connecting process is, read now so a process that exits 1 ms later keeps it; each
 * field on its own (a failed one leaves the others). /proc/PID/stat describes the thread group
 * leader, and so do these: current->group_leader's start_boottime (stat field 22 is
 * nsec_to_clock_t(leader->start_boottime)) and real_parent (the parent's tgid and the comm of
 * the thread that forked it). The exe name is current->mm->exe_file->f_path.dentry->d_name.name
 * (mm is shared by the group; the leader's is NULL once it exited). Uses r7-r9.
 */
static void emit_identity_capture(struct builder *b) {
  struct bpf_asm *a = b->a;
  const struct identity_offsets *o = &b->p->identity;
  int want_parent = identity_wanted(b, IDENTITY_PARENT_PID);
  int want_parent_comm = identity_wanted(b, IDENTITY_PARENT_COMM);
  int want_start = identity_wanted(b, IDENTITY_START_TIME);
  int want_exe = identity_wanted(b, IDENTITY_EXE_NAME);

  if (want_parent || want_parent_comm || want_start) {
    int leader_failed = bpf_asm_new_label(a);
    int leader_done = bpf_asm_new_label(a);
    bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_task));
    bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_7, BPF_REG_0));
    emit_follow_pointer(b, BPF_REG_7, BPF_REG_7, o->task_group_leader, leader_failed); /* r7 = leader */

    if (want_start) {
      int start_failed = bpf_asm_new_label(a);
      int start_done = bpf_asm_new_label(a);
      bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_3, BPF_REG_7));
      bpf_asm_emit(a, BPF_ALU64_IMM(BPF_ADD, BPF_REG_3, o->task_start_boottime));
      emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_START_BOOTTIME_NS);
      bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, 8));
      bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_kernel));
      bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), start_failed);
      emit_identity_status(b, IDENTITY_START_TIME, IDENTITY_STATUS_OK);
      bpf_asm_jump(a, BPF_JMP_A(0), start_done);
      bpf_asm_place(a, start_failed);
      emit_identity_failed(b, IDENTITY_START_TIME);
      bpf_asm_place(a, start_done);
    }

    if (want_parent || want_parent_comm) {
      int parent_failed = bpf_asm_new_label(a);
      int parent_done = bpf_asm_new_label(a);
      emit_follow_pointer(b, BPF_REG_8, BPF_REG_7, o->task_real_parent, parent_failed); /* r8 = parent */
      if (want_parent) {
        int tgid_failed = bpf_asm_new_label(a);
        int tgid_done = bpf_asm_new_label(a);
        bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_3, BPF_REG_8));
        bpf_asm_emit(a, BPF_ALU64_IMM(BPF_ADD, BPF_REG_3, o->task_tgid));
        emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_PARENT_TGID);
        bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, 4));
        bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_kernel));
        bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), tgid_failed);
        emit_identity_status(b, IDENTITY_PARENT_PID, IDENTITY_STATUS_OK);
        bpf_asm_jump(a, BPF_JMP_A(0), tgid_done);
        bpf_asm_place(a, tgid_failed);
        emit_identity_failed(b, IDENTITY_PARENT_PID);
        bpf_asm_place(a, tgid_done);
      }
      if (want_parent_comm) {
        int comm_failed = bpf_asm_new_label(a);
        bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_3, BPF_REG_8));
        bpf_asm_emit(a, BPF_ALU64_IMM(BPF_ADD, BPF_REG_3, o->task_comm));
        emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_PARENT_COMM);
        bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, RECORD_PARENT_COMM_SIZE));
        bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_kernel_str));
        /* The length read, NUL included (> 0), or a negative error. */
        bpf_asm_jump(a, BPF_JMP_IMM(BPF_JSLE, BPF_REG_0, 0, 0), comm_failed);
        emit_identity_status(b, IDENTITY_PARENT_COMM, IDENTITY_STATUS_OK);
        bpf_asm_jump(a, BPF_JMP_A(0), parent_done);
        bpf_asm_place(a, comm_failed);
        emit_identity_failed(b, IDENTITY_PARENT_COMM);
      }
      bpf_asm_jump(a, BPF_JMP_A(0), parent_done);
      bpf_asm_place(a, parent_failed);
      if (want_parent) emit_identity_failed(b, IDENTITY_PARENT_PID);
      if (want_parent_comm) emit_identity_failed(b, IDENTITY_PARENT_COMM);
      bpf_asm_place(a, parent_done);
    }
    bpf_asm_jump(a, BPF_JMP_A(0), leader_done);

    bpf_asm_place(a, leader_failed);
    if (want_start) emit_identity_failed(b, IDENTITY_START_TIME);
    if (want_parent) emit_identity_failed(b, IDENTITY_PARENT_PID);
    if (want_parent_comm) emit_identity_failed(b, IDENTITY_PARENT_COMM);
    bpf_asm_place(a, leader_done);
  }

  if (want_exe) {
    int exe_failed = bpf_asm_new_label(a);
    int exe_done = bpf_asm_new_label(a);
    bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_task));
    bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_9, BPF_REG_0));
    emit_follow_pointer(b, BPF_REG_9, BPF_REG_9, o->task_mm, exe_failed);     /* mm (NULL: kernel thread) */
    emit_follow_pointer(b, BPF_REG_9, BPF_REG_9, o->mm_exe_file, exe_failed); /* struct file * */
    emit_follow_pointer(b, BPF_REG_9, BPF_REG_9, o->file_dentry, exe_failed); /* struct dentry * */
    emit_follow_pointer(b, BPF_REG_9, BPF_REG_9, o->dentry_name, exe_failed); /* const char * */
    emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_EXE_NAME);
    bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, RECORD_EXE_NAME_SIZE));
    bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_3, BPF_REG_9));
    bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_probe_read_kernel_str));
    bpf_asm_jump(a, BPF_JMP_IMM(BPF_JSLE, BPF_REG_0, 0, 0), exe_failed);
    emit_identity_status(b, IDENTITY_EXE_NAME, IDENTITY_STATUS_OK);
    bpf_asm_jump(a, BPF_JMP_A(0), exe_done);
    bpf_asm_place(a, exe_failed);
    emit_identity_failed(b, IDENTITY_EXE_NAME);
    bpf_asm_place(a, exe_done);
  }
}

/* r1 = *(u64 *)(ctx + skaddr); *(u64 *)(r10 + STACK_SKADDR_KEY) = r1 */
static void emit_store_skaddr_key(struct builder *b) {
  bpf_asm_emit(b->a, BPF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_6, b->p->format.skaddr.offset));
  bpf_asm_emit(b->a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, STACK_SKADDR_KEY));
}

/* CLOSE -> SYN_SENT: build the record on the stack and park it in the pending map. */
static void emit_connect_started(struct builder *b, int exit_label) {
  struct bpf_asm *a = b->a;
  int map_full = bpf_asm_new_label(a);

  emit_imds_filter(b, exit_label);
  for (int offset = 0; offset < RECORD_SIZE; offset += 8) {
    bpf_asm_emit(a, BPF_ST_MEM(BPF_DW, BPF_REG_10, STACK_RECORD + offset, 0));
  }
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_ktime_get_ns));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_RECORD + RECORD_CONNECT_TIME_NS));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_RECORD + RECORD_END_TIME_NS));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_pid_tgid));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_RECORD + RECORD_PID_TGID));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_uid_gid));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_RECORD + RECORD_UID_GID));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_cgroup_id));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, STACK_RECORD + RECORD_CGROUP_ID));
  emit_stack_pointer(b, BPF_REG_1, STACK_RECORD + RECORD_COMM);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_2, RECORD_COMM_SIZE));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_get_current_comm));
  emit_copy_tuple(b, BPF_REG_10, STACK_RECORD);
  if (b->p->argv_capture) emit_argv_capture(b);
  emit_identity_capture(b);

  emit_store_skaddr_key(b);
  bpf_asm_ld_map_fd(a, BPF_REG_1, b->p->pending_map_fd);
  emit_stack_pointer(b, BPF_REG_2, STACK_SKADDR_KEY);
  emit_stack_pointer(b, BPF_REG_3, STACK_RECORD);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_4, MAP_ENTRY_ANY));
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_map_update_elem));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_0, 0, 0), map_full);
  emit_count(b, COUNTER_TRACKED);
  bpf_asm_jump(a, BPF_JMP_A(0), exit_label);

  /* No room to wait for the handshake: say what we know now (no client port yet). */
  bpf_asm_place(a, map_full);
  emit_count(b, COUNTER_MAP_FULL);
  bpf_asm_emit(a, BPF_ST_MEM(BPF_B, BPF_REG_10, STACK_RECORD + RECORD_OUTCOME, RECORD_OUTCOME_CONNECTING));
  emit_stack_pointer(b, BPF_REG_2, STACK_RECORD);
  emit_ring_output(b);
  bpf_asm_jump(a, BPF_JMP_A(0), exit_label);
}

/* Leaving SYN_SENT / SYN_RECV: finish the pending record, if any, and send it. */
static void emit_connect_finished(struct builder *b, int exit_label) {
  struct bpf_asm *a = b->a;
  const struct tp_format *f = &b->p->format;
  int unmatched = bpf_asm_new_label(a);
  int outcome_known = bpf_asm_new_label(a);
  int count_failed = bpf_asm_new_label(a);

  /* Simultaneous open (SYN_SENT -> SYN_RECV): wait for the next transition. */
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, f->newstate.offset));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_1, TCP_STATE_SYN_RECV, 0), exit_label);

  emit_store_skaddr_key(b);
  bpf_asm_ld_map_fd(a, BPF_REG_1, b->p->pending_map_fd);
  emit_stack_pointer(b, BPF_REG_2, STACK_SKADDR_KEY);
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_map_lookup_elem));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 0), unmatched);
  bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_9, BPF_REG_0)); /* r9 = the pending record (map value) */

  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_ktime_get_ns));
  bpf_asm_emit(a, BPF_STX_MEM(BPF_DW, BPF_REG_9, BPF_REG_0, RECORD_END_TIME_NS));
  emit_copy_tuple(b, BPF_REG_9, 0);
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, f->newstate.offset));
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_7, RECORD_OUTCOME_FAILED));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, TCP_STATE_ESTABLISHED, 0), outcome_known);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_7, RECORD_OUTCOME_ESTABLISHED));
  bpf_asm_place(a, outcome_known);
  bpf_asm_emit(a, BPF_STX_MEM(BPF_B, BPF_REG_9, BPF_REG_7, RECORD_OUTCOME));
  bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_2, BPF_REG_9));
  emit_ring_output(b);

  bpf_asm_ld_map_fd(a, BPF_REG_1, b->p->pending_map_fd);
  emit_stack_pointer(b, BPF_REG_2, STACK_SKADDR_KEY);
  bpf_asm_emit(a, BPF_EMIT_CALL(BPF_FUNC_map_delete_elem));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_7, RECORD_OUTCOME_ESTABLISHED, 0), count_failed);
  emit_count(b, COUNTER_ESTABLISHED);
  bpf_asm_jump(a, BPF_JMP_A(0), exit_label);
  bpf_asm_place(a, count_failed);
  emit_count(b, COUNTER_FAILED);
  bpf_asm_jump(a, BPF_JMP_A(0), exit_label);

  /* An IMDS connect we never saw start (it began before the tracer was opened). */
  bpf_asm_place(a, unmatched);
  emit_imds_filter(b, exit_label);
  emit_count(b, COUNTER_UNMATCHED);
  bpf_asm_jump(a, BPF_JMP_A(0), exit_label);
}

const char *program_build(struct bpf_asm *a, const struct program_params *params) {
  struct builder b = {a, params};
  const struct tp_format *f = &params->format;
  bpf_asm_init(a);
  int exit_label = bpf_asm_new_label(a);
  int leaving_handshake = bpf_asm_new_label(a);

  bpf_asm_emit(a, BPF_MOV64_REG(BPF_REG_6, BPF_REG_1)); /* r6 = tracepoint record, kept across calls */
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, f->oldstate.offset));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_2, TCP_STATE_SYN_SENT, 0), leaving_handshake);
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JEQ, BPF_REG_2, TCP_STATE_SYN_RECV, 0), leaving_handshake);
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_2, TCP_STATE_CLOSE, 0), exit_label);
  bpf_asm_emit(a, BPF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, f->newstate.offset));
  bpf_asm_jump(a, BPF_JMP_IMM(BPF_JNE, BPF_REG_1, TCP_STATE_SYN_SENT, 0), exit_label);
  emit_connect_started(&b, exit_label);

  bpf_asm_place(a, leaving_handshake);
  emit_connect_finished(&b, exit_label);

  bpf_asm_place(a, exit_label);
  bpf_asm_emit(a, BPF_MOV64_IMM(BPF_REG_0, 0));
  bpf_asm_emit(a, BPF_EXIT_INSN());
  return bpf_asm_finish(a);
}
