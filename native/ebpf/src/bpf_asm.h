/*
 * A tiny assembler for hand-written eBPF: an instruction buffer with a fixed capacity and named
 * labels for jumps, so program.c can say "goto done" instead of counting instructions. Forward
 * jumps are patched when the program is finished. Errors (full buffer, unknown label, jump out
 * of range) are sticky and reported once by bpf_asm_finish().
 */
#ifndef IMDS_EBPF_BPF_ASM_H
#define IMDS_EBPF_BPF_ASM_H

#include <linux/bpf.h>

#include "bpf_insn.h"

#define BPF_ASM_MAX_INSNS 1024
#define BPF_ASM_MAX_LABELS 256
#define BPF_ASM_MAX_FIXUPS 512

struct bpf_asm {
  struct bpf_insn insns[BPF_ASM_MAX_INSNS];
  int count;
  /* Instruction index of each label, -1 while not placed. */
  int label_at[BPF_ASM_MAX_LABELS];
  int label_count;
  struct {
    int insn;
    int label;
  } fixups[BPF_ASM_MAX_FIXUPS];
  int fixup_count;
  const char *error;
};

void bpf_asm_init(struct bpf_asm *a);
/* A new label, not yet placed. */
int bpf_asm_new_label(struct bpf_asm *a);
/* Places LABEL at the next instruction. */
void bpf_asm_place(struct bpf_asm *a, int label);
void bpf_asm_emit(struct bpf_asm *a, struct bpf_insn insn);
/* Emits INSN (a jump whose `off` is ignored) with its target set to LABEL. */
void bpf_asm_jump(struct bpf_asm *a, struct bpf_insn insn, int label);
/* r[dst] = map fd (the ld_imm64 pair with BPF_PSEUDO_MAP_FD). */
void bpf_asm_ld_map_fd(struct bpf_asm *a, int dst, int map_fd);
/* r[dst] = a 64-bit constant. */
void bpf_asm_ld_imm64(struct bpf_asm *a, int dst, __u64 value);
/* Resolves jumps; returns NULL on success or the first error. */
const char *bpf_asm_finish(struct bpf_asm *a);

#endif
