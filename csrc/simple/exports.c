/* The glibc malloc API for `simple`: argument rules, errno and overflow checks, then forwards to heap.c. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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
