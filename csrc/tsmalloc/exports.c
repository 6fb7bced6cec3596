/* The exported glibc-named functions; each only forwards to its ts_ implementation (a direct jump). */
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>

/* Under TSMALLOC_PREFIX (see internal.h) every name gets a tsm_ prefix and the __libc_ aliases are left out. */
#ifdef TSMALLOC_PREFIX
#define TS_API(name) tsm_##name
#else
#define TS_API(name) name
#endif
#define TS_EXPORT __attribute__((visibility("default")))

TS_EXPORT void *TS_API(malloc)(size_t n) { return ts_malloc(n); }
TS_EXPORT void TS_API(free)(void *p) { ts_free(p); }
TS_EXPORT void *TS_API(calloc)(size_t n, size_t size) { return ts_calloc(n, size); }
TS_EXPORT void *TS_API(realloc)(void *p, size_t n) { return ts_realloc(p, n, "realloc"); }
TS_EXPORT void *TS_API(reallocarray)(void *p, size_t n, size_t size) { return ts_reallocarray(p, n, size); }
TS_EXPORT void *TS_API(memalign)(size_t align, size_t n) { return ts_memalign(align, n); }
TS_EXPORT int TS_API(posix_memalign)(void **out, size_t align, size_t n) { return ts_posix_memalign(out, align, n); }
TS_EXPORT void *TS_API(aligned_alloc)(size_t align, size_t n) { return ts_aligned_alloc(align, n); }
TS_EXPORT void *TS_API(valloc)(size_t n) { return ts_valloc(n); }
TS_EXPORT void *TS_API(pvalloc)(size_t n) { return ts_pvalloc(n); }
TS_EXPORT size_t TS_API(malloc_usable_size)(void *p) { return ts_usable_size(p); }
TS_EXPORT int TS_API(malloc_trim)(size_t pad) { return ts_malloc_trim(pad); }
TS_EXPORT struct mallinfo2 TS_API(mallinfo2)(void) { return ts_mallinfo2(); }
TS_EXPORT struct mallinfo TS_API(mallinfo)(void) { return ts_mallinfo(); }
TS_EXPORT void TS_API(malloc_stats)(void) { ts_malloc_stats(); }
TS_EXPORT int TS_API(malloc_info)(int options, FILE *fp) { return ts_malloc_info(options, fp); }
TS_EXPORT int TS_API(mallopt)(int param, int value) { return ts_mallopt(param, value); }
TS_EXPORT void TS_API(free_sized)(void *p, size_t n) { ts_free_sized(p, n, 0, "free_sized"); }
TS_EXPORT void TS_API(free_aligned_sized)(void *p, size_t align, size_t n) {
  ts_free_sized(p, n, align, "free_aligned_sized");
}
TS_EXPORT void TS_API(cfree)(void *p) { ts_free_block(p, "cfree"); }

#ifndef TSMALLOC_PREFIX
/* glibc's internal names: some programs and libraries (and glibc's own code paths) call these directly. */
TS_EXPORT void *__libc_malloc(size_t n) { return ts_malloc(n); }
TS_EXPORT void __libc_free(void *p) { ts_free(p); }
TS_EXPORT void *__libc_calloc(size_t n, size_t size) { return ts_calloc(n, size); }
TS_EXPORT void *__libc_realloc(void *p, size_t n) { return ts_realloc(p, n, "realloc"); }
TS_EXPORT void *__libc_memalign(size_t align, size_t n) { return ts_memalign(align, n); }
TS_EXPORT void *__libc_valloc(size_t n) { return ts_valloc(n); }
TS_EXPORT void *__libc_pvalloc(size_t n) { return ts_pvalloc(n); }
TS_EXPORT int __posix_memalign(void **out, size_t align, size_t n) { return ts_posix_memalign(out, align, n); }
#endif
