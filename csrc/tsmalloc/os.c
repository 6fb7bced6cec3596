/* The kernel behind a small contract: mapping, purging, time, randomness and the environment, errno preserved. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Contract for the rest of tsmalloc: sizes are multiples of 4 KiB, functions return NULL on failure and never
 * change errno (free must leave errno alone, glibc tst-free-errno), nothing here allocates or locks. */

_Atomic uint64_t ts_os_purged_bytes;

void *ts_os_map(size_t size, bool noreserve) {
  int saved = errno;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  errno = saved;
  return p == MAP_FAILED ? NULL : p;
}

void ts_os_unmap(void *p, size_t size) {
  int saved = errno;
  if (munmap(p, size) == 0) atomic_fetch_add_explicit(&ts_os_purged_bytes, size, memory_order_relaxed);
  errno = saved;
}

/* Cost: one syscall plus the page-table walk; the pages read back as zero and fault in again on use. */
bool ts_os_purge(void *p, size_t size) {
  if (size == 0) return true;
  int saved = errno;
  bool ok = madvise(p, size, MADV_DONTNEED) == 0;
  if (ok) atomic_fetch_add_explicit(&ts_os_purged_bytes, size, memory_order_relaxed);
  if (ts_opt(TS_OPT_VERBOSE) >= 2) {
    char line[96] = "tsmalloc: purged ", num[24];
    ts_fmt_dec(num, size >> 10);
    strcat(line, num);
    strcat(line, " KiB at ");
    ts_fmt_hex(num, (uintptr_t)p);
    strcat(line, num);
    strcat(line, "\n");
    ts_write_str(line);
  }
  errno = saved;
  return ok;
}

/* mremap moves page-table entries instead of copying bytes: growing a 32 MiB block costs microseconds.
 * Under TSan it always fails (callers fall back to map, copy, unmap): TSan does not intercept mremap, so the
 * range a move vacated kept its old accesses and a later mmap there by another thread was reported as a race
 * (about one stress run in eight). */
void *ts_os_remap(void *p, size_t old_size, size_t new_size, bool may_move) {
#if defined(__SANITIZE_THREAD__)
  (void)p, (void)old_size, (void)new_size, (void)may_move;
  return NULL;
#endif
  int saved = errno;
  void *q = mremap(p, old_size, new_size, may_move ? MREMAP_MAYMOVE : 0);
  errno = saved;
  return q == MAP_FAILED ? NULL : q;
}

/* The coarse clock is a vDSO read of the last tick (about 4 ms resolution): enough for purge deadlines. */
uint64_t ts_os_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ts_os_random(void) {
  int saved = errno;
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&r;
  }
  errno = saved;
  return r;
}

size_t ts_os_read_file(const char *path, char *buf, size_t cap) {
  int saved = errno;
  size_t len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    while (len + 1 < cap) {
      ssize_t r = read(fd, buf + len, cap - 1 - len);
      if (r <= 0) break;
      len += (size_t)r;
    }
    close(fd);
  }
  buf[len] = '\0';
  errno = saved;
  return len;
}

long ts_os_rss_kib(const char *field) {
  char buf[4096];
  size_t flen = strlen(field);
  ts_os_read_file("/proc/self/status", buf, sizeof buf);
  for (char *line = buf; *line;) {
    if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
      long v = 0;
      for (char *q = line + flen + 1; *q && *q != '\n'; q++)
        if (*q >= '0' && *q <= '9') v = v * 10 + (*q - '0');
      return v;
    }
    char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  return -1;
}

/* getenv is not safe before libc has set itself up, and under LD_PRELOAD malloc can be called that early (by
 * the loader, or by another library's constructor). __environ is set by the loader before any of that; when it
 * is still NULL we read /proc/self/environ into a static buffer instead. Nothing here allocates. */
extern char **__environ;
static char ts_env_buf[32768];
static size_t ts_env_len;

const char *ts_os_getenv(const char *name) {
  size_t n = strlen(name);
  char **env = __environ;
  if (env) {
    for (; *env; env++)
      if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
    return NULL;
  }
  if (ts_env_len == 0) ts_env_len = ts_os_read_file("/proc/self/environ", ts_env_buf, sizeof ts_env_buf);
  for (size_t i = 0; i < ts_env_len;) {
    const char *e = ts_env_buf + i;
    size_t elen = strnlen(e, ts_env_len - i);
    if (elen > n && strncmp(e, name, n) == 0 && e[n] == '=') return e + n + 1;
    i += elen + 1;
  }
  return NULL;
}
