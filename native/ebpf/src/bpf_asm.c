#include "bpf_asm.h"

#include <string.h>

void bpf_asm_init(struct bpf_asm *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < BPF_ASM_MAX_LABELS; i++) a->label_at[i] = -1;
}

int bpf_asm_new_label(struct bpf_asm *a) {
  if (a->label_count >= BPF_ASM_MAX_LABELS) {
    if (a->error == NULL) a->error = "too many labels";
    return 0;
  }
  return a->label_count++;
}

void bpf_asm_place(struct bpf_asm *a, int label) {
  if (label < 0 || label >= a->label_count) {
    if (a->error == NULL) a->error = "unknown label";
    return;
  }
  if (a->label_at[label] >= 0) {
    if (a->error == NULL) a->error = "label placed twice";
    return;
  }
  a->label_at[label] = a->count;
}

void bpf_asm_emit(struct bpf_asm *a, struct bpf_insn insn) {
  if (a->count >= BPF_ASM_MAX_INSNS) {
    if (a->error == NULL) a->error = "program too long";
    return;
  }
  a->insns[a->count++] = insn;
}

void bpf_asm_jump(struct bpf_asm *a, struct bpf_insn insn, int label) {
  if (a->fixup_count >= BPF_ASM_MAX_FIXUPS) {
    if (a->error == NULL) a->error = "too many jumps";
    return;
  }
  a->fixups[a->fixup_count].insn = a->count;
  a->fixups[a->fixup_count].label = label;
  a->fixup_count++;
  insn.off = 0;
  bpf_asm_emit(a, insn);
}

void bpf_asm_ld_map_fd(struct bpf_asm *a, int dst, int map_fd) {
  bpf_asm_emit(a, BPF_LD_IMM64_LO(dst, BPF_PSEUDO_MAP_FD, (__u32)map_fd));
  bpf_asm_emit(a, BPF_LD_IMM64_HI(0));
}

void bpf_asm_ld_imm64(struct bpf_asm *a, int dst, __u64 value) {
  bpf_asm_emit(a, BPF_LD_IMM64_LO(dst, 0, value));
  bpf_asm_emit(a, BPF_LD_IMM64_HI(value));
}

const char *bpf_asm_finish(struct bpf_asm *a) {
  if (a->error != NULL) return a->error;
  for (int i = 0; i < a->fixup_count; i++) {
    int label = a->fixups[i].label;
    if (label < 0 || label >= a->label_count || a->label_at[label] < 0) return "jump to a label never placed";
    /* Jump offsets count from the instruction after the jump. */
    int off = a->label_at[label] - (a->fixups[i].insn + 1);
    if (off < -32768 || off > 32767) return "jump out of range";
    a->insns[a->fixups[i].insn].off = (__s16)off;
  }
  return NULL;
}
