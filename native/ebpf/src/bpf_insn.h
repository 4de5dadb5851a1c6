/*
 * Instruction builders for hand-assembled eBPF (our own small version of the kernel's
 * samples/bpf/bpf_insn.h). Each macro is one `struct bpf_insn` (two for the 64-bit immediate
 * loads). Only what program.c uses is here.
 */
#ifndef IMDS_EBPF_BPF_INSN_H
#define IMDS_EBPF_BPF_INSN_H

#include <linux/bpf.h>

#define INSN(CODE, DST, SRC, OFF, IMM)                                                          \
  ((struct bpf_insn){.code = (CODE), .dst_reg = (DST), .src_reg = (SRC), .off = (OFF), .imm = (IMM)})

/* dst = src / dst = imm (64-bit). */
#define BPF_MOV64_REG(DST, SRC) INSN(BPF_ALU64 | BPF_MOV | BPF_X, DST, SRC, 0, 0)
#define BPF_MOV64_IMM(DST, IMM) INSN(BPF_ALU64 | BPF_MOV | BPF_K, DST, 0, 0, IMM)
/* dst OP= src / dst OP= imm (64-bit). */
#define BPF_ALU64_REG(OP, DST, SRC) INSN(BPF_ALU64 | BPF_OP(OP) | BPF_X, DST, SRC, 0, 0)
#define BPF_ALU64_IMM(OP, DST, IMM) INSN(BPF_ALU64 | BPF_OP(OP) | BPF_K, DST, 0, 0, IMM)

/* dst = *(SIZE *)(src + off) */
#define BPF_LDX_MEM(SIZE, DST, SRC, OFF) INSN(BPF_LDX | BPF_SIZE(SIZE) | BPF_MEM, DST, SRC, OFF, 0)
/* *(SIZE *)(dst + off) = src */
#define BPF_STX_MEM(SIZE, DST, SRC, OFF) INSN(BPF_STX | BPF_SIZE(SIZE) | BPF_MEM, DST, SRC, OFF, 0)
/* *(SIZE *)(dst + off) = imm */
#define BPF_ST_MEM(SIZE, DST, OFF, IMM) INSN(BPF_ST | BPF_SIZE(SIZE) | BPF_MEM, DST, 0, OFF, IMM)
/* lock *(SIZE *)(dst + off) OP= src (BPF_ADD: the old BPF_XADD encoding). */
#define BPF_ATOMIC_OP(SIZE, OP, DST, SRC, OFF) INSN(BPF_STX | BPF_SIZE(SIZE) | BPF_ATOMIC, DST, SRC, OFF, OP)

/* The two halves of `dst = imm64`; SRC = BPF_PSEUDO_MAP_FD makes IMM a map fd. */
#define BPF_LD_IMM64_LO(DST, SRC, IMM64) INSN(BPF_LD | BPF_DW | BPF_IMM, DST, SRC, 0, (__s32)(__u32)(IMM64))
#define BPF_LD_IMM64_HI(IMM64) INSN(0, 0, 0, 0, (__s32)(__u32)(((__u64)(IMM64)) >> 32))

/* Conditional jumps: 64-bit compare (BPF_JMP) and 32-bit compare (BPF_JMP32, Linux >= 5.1). */
#define BPF_JMP_REG(OP, DST, SRC, OFF) INSN(BPF_JMP | BPF_OP(OP) | BPF_X, DST, SRC, OFF, 0)
#define BPF_JMP_IMM(OP, DST, IMM, OFF) INSN(BPF_JMP | BPF_OP(OP) | BPF_K, DST, 0, OFF, IMM)
#define BPF_JMP32_IMM(OP, DST, IMM, OFF) INSN(BPF_JMP32 | BPF_OP(OP) | BPF_K, DST, 0, OFF, IMM)
#define BPF_JMP_A(OFF) INSN(BPF_JMP | BPF_JA, 0, 0, OFF, 0)

/* call helper FUNC (a BPF_FUNC_* number); r1-r5 are arguments and clobbered, r0 the result. */
#define BPF_EMIT_CALL(FUNC) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, FUNC)
#define BPF_EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#endif
