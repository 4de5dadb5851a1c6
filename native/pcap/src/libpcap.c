#include "libpcap.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Tried in this order: the upstream soname first (Amazon Linux 2023, RHEL, Fedora, and what
 * libpcap itself builds), then Debian's and Ubuntu's historical one. */
static const char *const sonames[] = {"libpcap.so.1", "libpcap.so.0.8"};
#define SONAME_COUNT (sizeof sonames / sizeof sonames[0])

#define INSTALL_HINT                                                                          \
  "install it with `dnf install libpcap` (Amazon Linux, RHEL, Fedora) or `apt-get install " \
  "libpcap0.8` (Debian, Ubuntu)"

libpcap_functions libpcap;

/* The first call decides; later calls give the same answer. Loading is rare and quick: one
 * mutex (whose glibc symbol versions are old, unlike pthread_once's; see
 * native/common/portable.h) is all the thread safety it needs. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static enum { NOT_TRIED, LOADED, FAILED } load_state = NOT_TRIED;
static char load_problem[1024];

/* dlerror()'s text for a file the dynamic loader did not find anywhere (glibc's wording; a
 * library of another architecture is skipped by the search and ends the same way). */
static bool is_not_found(const char *error) {
  return strstr(error, "cannot open shared object file: No such file or directory") != NULL;
}

/* Fills `table` from `handle`; false with `problem` naming the first missing function. */
static bool resolve_functions(void *handle, const char *soname, libpcap_functions *table, char *problem,
                              size_t problem_size) {
  memset(table, 0, sizeof *table);
  /* lib_version first, so a missing function can be told with the version that lacks it. */
  table->lib_version = (__typeof__(table->lib_version))dlsym(handle, "pcap_lib_version");
  const char *version = table->lib_version != NULL ? table->lib_version() : "no pcap_lib_version";
#define LIBPCAP_RESOLVE(name)                                                                              \
  table->name = (__typeof__(table->name))dlsym(handle, "pcap_" #name);                                      \
  if (table->name == NULL) {                                                                               \
    snprintf(problem, problem_size, "%s (%s) lacks pcap_" #name ": live capture needs libpcap 1.5 or newer", \
             soname, version);                                                                             \
    return false;                                                                                          \
  }
  LIBPCAP_FUNCTIONS(LIBPCAP_RESOLVE)
#undef LIBPCAP_RESOLVE
  return true;
}

/* Tries each soname in turn; the first usable one wins. */
static bool load_once(void) {
  /* Why the first soname that was found could not be used; empty while none was found. */
  char unusable[sizeof load_problem] = "";
  for (size_t i = 0; i < SONAME_COUNT; i++) {
    char problem[sizeof load_problem];
    void *handle = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
      const char *error = dlerror();
      if (error == NULL || is_not_found(error)) continue;
      snprintf(problem, sizeof problem, "%s", error);
    } else {
      libpcap_functions table;
      if (resolve_functions(handle, sonames[i], &table, problem, sizeof problem)) {
        libpcap = table;
        return true;
      }
      dlclose(handle);
    }
    if (unusable[0] == '\0') snprintf(unusable, sizeof unusable, "%s", problem);
  }
  if (unusable[0] == '\0') {
    snprintf(load_problem, sizeof load_problem, "libpcap is not installed (tried %s, %s): %s", sonames[0], sonames[1],
             INSTALL_HINT);
  } else {
    snprintf(load_problem, sizeof load_problem, "libpcap cannot be used: %s", unusable);
  }
  return false;
}

bool libpcap_load(char *problem, size_t problem_size) {
  pthread_mutex_lock(&load_lock);
  if (load_state == NOT_TRIED) load_state = load_once() ? LOADED : FAILED;
  bool loaded = load_state == LOADED;
  pthread_mutex_unlock(&load_lock);
  if (!loaded) snprintf(problem, problem_size, "%s", load_problem);
  return loaded;
}
