/*
 * Force-included into every source of both addons (`-include portable.h` in their binding.gyp)
 * so that one build runs on every glibc from 2.17 on, not only on the glibc it was built with.
 *
 * Why: a program built against glibc binds each symbol to the newest version of it that glibc
 * exports, and the dynamic loader refuses to load it where that version is missing. Built here
 * (Debian 12, glibc 2.36) the addons needed GLIBC_2.34, while Node 20's own binaries need only
 * 2.28 and RHEL 8 has 2.28, Debian 11 and Ubuntu 20.04 2.31. The new versions came from:
 *   - pthread_create, pthread_join (GLIBC_2.34), pthread_sigmask (2.32): glibc 2.34 moved
 *     libpthread into libc and gave them new versions there;
 *   - dlopen, dlsym, dlerror, dlclose (2.34): libdl moved into libc the same way;
 *   - stat, fstat (2.33): before 2.33 they were inline wrappers around __xstat, since then they
 *     are real functions, with no older version to ask for.
 * Flags do not help (-lpthread -ldl link glibc 2.34's empty stubs; _FORTIFY_SOURCE is unrelated).
 *
 * What this does:
 *   - .symver pins the seven functions to their original versions, GLIBC_2.2.5 on x86_64 and
 *     GLIBC_2.17 on aarch64 (the first glibc of each architecture). New glibc still exports those
 *     versions (as compatibility symbols, the same code); old glibc has them in libpthread.so.0
 *     and libdl.so.2, which the loader searches too because Node itself links both (Node 20's
 *     official binaries list them in DT_NEEDED);
 *   - stat() and fstat() become the raw system calls (newfstatat with AT_FDCWD, fstat), which
 *     fill the kernel's struct stat: on x86_64 and aarch64 that is exactly glibc's struct stat
 *     (asserted below), and those are the only architectures pinned here.
 * Elsewhere (another architecture, or not glibc) nothing changes: the build is simply not
 * portable there. The binding.gyp files also link with -static-libgcc, so that compiler helper
 * routines never make libgcc_s.so.1 a dependency. test/native/elf-check.test.ts reads the built
 * binaries and fails on any symbol version above GLIBC_2.28 or any library but libc.so.6.
 */
#ifndef IMDS_NATIVE_PORTABLE_H
#define IMDS_NATIVE_PORTABLE_H

#include <features.h>

#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))

#if defined(__x86_64__)
#define IMDS_GLIBC_BASE_VERSION "GLIBC_2.2.5"
#else
#define IMDS_GLIBC_BASE_VERSION "GLIBC_2.17"
#endif

/* In assembler: a reference to NAME in this object binds to NAME@VERSION. */
#define IMDS_PIN_SYMBOL(name) __asm__(".symver " #name "," #name "@" IMDS_GLIBC_BASE_VERSION)
IMDS_PIN_SYMBOL(pthread_create);
IMDS_PIN_SYMBOL(pthread_join);
IMDS_PIN_SYMBOL(pthread_sigmask);
IMDS_PIN_SYMBOL(dlopen);
IMDS_PIN_SYMBOL(dlsym);
IMDS_PIN_SYMBOL(dlerror);
IMDS_PIN_SYMBOL(dlclose);
#undef IMDS_PIN_SYMBOL

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's struct stat (arch/x86/include/uapi/asm/stat.h, include/uapi/asm-generic/stat.h). */
#if defined(__x86_64__)
_Static_assert(sizeof(struct stat) == 144, "glibc's struct stat is not the kernel's on x86_64");
#else
_Static_assert(sizeof(struct stat) == 128, "glibc's struct stat is not the kernel's on aarch64");
#endif

static inline int imds_stat(const char *path, struct stat *buffer) {
  return (int)syscall(SYS_newfstatat, AT_FDCWD, path, buffer, 0);
}

static inline int imds_fstat(int fd, struct stat *buffer) { return (int)syscall(SYS_fstat, fd, buffer); }

/* Function-like macros: `struct stat` is untouched, only calls are redirected. Defined after
 * <sys/stat.h> is included (above), so its declarations are not rewritten either. */
#define stat(path, buffer) imds_stat((path), (buffer))
#define fstat(fd, buffer) imds_fstat((fd), (buffer))

#endif

#endif
