/* The glibc malloc API for `simple`: argument rules, errno and overflow checks, then forwards to heap.c. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "simple.h"

#define EXPORT __attribute__((visibility("default")))

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }
static int is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* memalign's rule (glibc): a non-power-of-two alignment is rounded up, a small one becomes the default. */
static size_t memalign_align(size_t align) {
  if (align <= SIMPLE_ALIGN) return SIMPLE_ALIGN;
  if (align > SIZE_MAX / 2 + 1) return 0; /* no power of two that large */
  size_t a = SIMPLE_ALIGN;
  while (a < align) a <<= 1;
  return a;
}

EXPORT void *malloc(size_t size) { return simple_alloc(size, SIMPLE_ALIGN); }

EXPORT void free(void *p) {
  if (p == NULL) return;
  int saved = errno; /* glibc's free never changes errno (tst-free-errno) */
  simple_free(p, "free");
  errno = saved;
}

EXPORT void *calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  char *p = simple_alloc(total, SIMPLE_ALIGN);
  if (p != NULL) {
    /* A word loop over the 16-byte-rounded size (blocks are padded to 16); with -fno-builtin gcc cannot turn it
       back into a call to calloc. */
    size_t words = (total + 15) / 16 * 2;
    for (size_t i = 0; i < words; i++) ((uint64_t *)(void *)p)[i] = 0;
  }
  return p;
}

EXPORT void *realloc(void *p, size_t size) {
  if (p == NULL) return simple_alloc(size, SIMPLE_ALIGN);
  if (size == 0) { /* glibc: frees and returns NULL */
    free(p);
    return NULL;
  }
  return simple_resize(p, size, "realloc");
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

EXPORT void *memalign(size_t align, size_t size) {
  size_t a = memalign_align(align);
  if (a == 0) {
    errno = EINVAL;
    return NULL;
  }
  return simple_alloc(size, a);
}

/* glibc 2.36 treats aligned_alloc exactly like memalign (any alignment, any size). */
EXPORT void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (!is_pow2(align) || align % sizeof(void *) != 0) return EINVAL; /* *out untouched on error */
  int saved = errno;
  void *p = simple_alloc(size, align < SIMPLE_ALIGN ? SIMPLE_ALIGN : align);
  errno = saved; /* posix_memalign reports through its result, not errno */
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

EXPORT void *valloc(size_t size) { return simple_alloc(size, page_size()); }

EXPORT void *pvalloc(size_t size) {
  size_t page = page_size();
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = (size + page - 1) & ~(page - 1);
  return simple_alloc(rounded == 0 ? page : rounded, page);
}

EXPORT size_t malloc_usable_size(void *p) { return p == NULL ? 0 : simple_usable(p, "malloc_usable_size"); }

/* Old names some programs and glibc's own internals still call. */
EXPORT void cfree(void *p) { free(p); }
EXPORT void *__libc_malloc(size_t size) { return malloc(size); }
EXPORT void __libc_free(void *p) { free(p); }
EXPORT void *__libc_calloc(size_t n, size_t size) { return calloc(n, size); }
EXPORT void *__libc_realloc(void *p, size_t size) { return realloc(p, size); }
EXPORT void *__libc_memalign(size_t align, size_t size) { return memalign(align, size); }
EXPORT void *__libc_valloc(size_t size) { return valloc(size); }
EXPORT void *__libc_pvalloc(size_t size) { return pvalloc(size); }
EXPORT int __posix_memalign(void **out, size_t align, size_t size) { return posix_memalign(out, align, size); }

/* The introspection calls. Without them glibc's own versions run on glibc's heap, which an interposed malloc never
 * initialises: wrong numbers at best, and from several threads at once its first-use setup races (test/c/fuzz.c
 * under `simple` crashed in 13 of 40 runs, in glibc's thread-exit cleanup, before these existed). */
EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  return 0; /* nothing is ever returned to the OS: "no memory released" */
}

EXPORT struct mallinfo2 mallinfo2(void) {
  simple_totals_t t = simple_totals();
  struct mallinfo2 mi = {0};
  mi.arena = t.mapped;
  mi.ordblks = t.free_count;
  mi.uordblks = t.in_use;
  mi.fordblks = t.free_bytes;
  return mi;
}

static int clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m = mallinfo2();
  struct mallinfo mi = {0};
  mi.arena = clamp_int(m.arena);
  mi.ordblks = clamp_int(m.ordblks);
  mi.uordblks = clamp_int(m.uordblks);
  mi.fordblks = clamp_int(m.fordblks);
  return mi;
}

/* glibc's layout, one arena: what was mapped and what is in use. */
EXPORT void malloc_stats(void) {
  simple_totals_t t = simple_totals();
  fprintf(stderr, "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\nTotal (incl. mmap):\n"
                  "system bytes     = %10zu\nin use bytes     = %10zu\nmax mmap regions = %10d\n"
                  "max mmap bytes   = %10lu\n",
          t.mapped, t.in_use, t.mapped, t.in_use, 0, 0UL);
}

EXPORT int malloc_info(int options, FILE *out) {
  if (options != 0) return EINVAL; /* glibc: the error as the result, errno untouched */
  simple_totals_t t = simple_totals();
  fprintf(out, "<malloc version=\"1\">\n<heap nr=\"0\">\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
               "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n<system type=\"current\" size=\"%zu\"/>\n"
               "<system type=\"max\" size=\"%zu\"/>\n</heap>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
               "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
               "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n</malloc>\n",
          t.free_count, t.free_bytes, t.mapped, t.mapped, t.free_count, t.free_bytes, t.mapped, t.mapped);
  return 0;
}

/* Every parameter is accepted and none has an effect: there is nothing to tune. */
EXPORT int mallopt(int param, int value) {
  (void)param, (void)value;
  return 1;
}
