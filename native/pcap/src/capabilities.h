/* Dropping capabilities on every thread of the process after live capture is set up. */
#ifndef IMDS_CAPABILITIES_H
#define IMDS_CAPABILITIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  /* Threads in the process after the drop, and those still holding more than was kept. */
  int threads;
  int threads_not_dropped;
  /* Threads whose own drop reported an error (they are counted again by the read-back). */
  int thread_failures;
} capability_drop_result;

/* "CAP_SYS_PTRACE" -> 19; -1 for an unknown name. */
int capability_number(const char *name);
/* 19 -> "CAP_SYS_PTRACE"; NULL when unknown. */
const char *capability_name_of(int number);

/*
 * Keeps only the capabilities in `keep_mask` (bit N = capability N) on every thread: bounding
 * and ambient sets, permitted and effective; sets no_new_privs. 0 on success (the result says
 * whether every thread complied; `problem` may still explain a partial result), -1 when the
 * calling thread itself could not drop (then `problem` says why).
 */
int drop_capabilities_everywhere(uint64_t keep_mask, capability_drop_result *result, char *problem, size_t problem_bytes);
/* The calling thread's permitted set as a mask (what it really holds); 0 when capget fails. */
uint64_t capabilities_permitted(void);

#endif
