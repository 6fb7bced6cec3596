/* malloc and its relatives: the lock-free, atomic-free fast path, calloc, realloc, aligned allocation. */
#include "internal.h"

#include <errno.h>
#include <string.h>

static void *ts_oom(void) {
  errno = ENOMEM;
  return NULL;
}

/* A young thread, without a heap yet, takes its first TSMALLOC_YOUNG_MALLOCS small mallocs (128), up to
 * TS_YOUNG_BYTES of blocks in all, from the shared heap (init.c), under its lock; the next one gives it a heap of
 * its own. Why: a heap costs a thread an OS page for itself, two or three of its first segment's header and one
 * per size class it uses, and a thread that makes a few mallocs and exits left those pages behind for the next
 * thread, most of them in classes that thread did not use. A/B over 9 runs (peak RSS, time):
 *   bench threadchurn (20000 threads of 64 mallocs, 4 at a time)  2.42 -> 2.04 MiB (glibc 1.73), 0.415 -> 0.437 s
 *   bench/programs/manythreads.c 1000 (1000 threads alive at once) 33.0 -> 10.3 MiB (glibc 10.9), 0.059 -> 0.040 s
 *   bench larson (4 threads a round, live sets handed on)          8.43 -> 8.71 MiB, 0.363 -> 0.390 s
 *   bench prodcons (2 producers)                                   4.78 -> 4.92 MiB
 * The gain is for threads that never get a heap: with 16 or 32 mallocs threadchurn's threads (64 each) came out
 * worse than with none (2.65 and 2.54 MiB against 2.36: pages in both heaps), with 64 as with 128; at 256 larson
 * took 8.92 MiB. The byte limit keeps a thread that builds a working set at once out of the shared heap (bench
 * threadwork, 4-8 KiB blocks, went 6.01 -> 6.35 MiB without it; at 16 or 32 KiB threadchurn kept most of its cost).
 * Frees of the shared heap's blocks take the lock-free remote path; the shared heap returns a page that empties
 * when it next walks its queue (page.c), or at the timed collection the first such free schedules (init.c). The
 * thread that starts the allocator is never young (below). Cost: a young thread's mallocs take a lock,
 * uncontended in these workloads; with many cores and many young threads at once they would wait on each other,
 * which TSMALLOC_YOUNG_MALLOCS=0 turns off. */
#define TS_YOUNG_BYTES ((uint32_t)64 << 10)
static __thread uint32_t ts_young_mallocs __attribute__((tls_model("initial-exec")));
static __thread uint32_t ts_young_bytes __attribute__((tls_model("initial-exec")));

/* The thread that starts the allocator (the main thread, in practice) is never young: it usually lives as long as
 * the program, and a single-threaded program then uses no shared heap at all. */
void ts_young_skip(void) { ts_young_mallocs = UINT32_MAX; }

static bool ts_young_take(size_t cls) {
  uint32_t bs = ts_cls_size[cls];
  if (ts_young_mallocs >= (uint32_t)ts_opt(TS_OPT_YOUNG_MALLOCS) || bs > TS_YOUNG_BYTES - ts_young_bytes) return false;
  ts_young_mallocs++;
  ts_young_bytes += bs;
  return true;
}

/* Blocks up to 128 KiB for the calling thread, whatever state its heap is in (first call, young, after exit). lend:
 * a block of a slightly larger class may serve (page.c); not for aligned requests, whose class was picked as a
 * multiple of the alignment. */
static TS_NOINLINE void *ts_small_slow(size_t n, bool lend) {
  size_t cls = ts_size_class(n);
  ts_heap_t *h = ts_tls_heap;
  if (TS_UNLIKELY(h->kind != TS_HEAP_NORMAL)) {
    if (h->kind == TS_HEAP_EMPTY) {
      ts_init(); /* options and the arena, before the first look at either */
      if (!ts_young_take(cls)) h = ts_heap_get_slow();
    }
    if (h->kind != TS_HEAP_NORMAL) {
      void *p = ts_backup_alloc(cls, lend); /* young, or past its own teardown: the shared, locked heap */
      return p ? p : ts_oom();
    }
  }
  /* One-block pages must be parked as they give their block: only the slow path does that (page.c). */
  void *p = cls >= TS_CLS_SOLO ? ts_heap_alloc_slow(h, cls, lend) : ts_heap_alloc(h, cls, lend);
  return p ? p : ts_oom();
}

static TS_NOINLINE void *ts_malloc_slow(size_t n) {
  if (n <= TS_MEDIUM_MAX) return ts_small_slow(n, true);
  if (ts_tls_heap->kind == TS_HEAP_EMPTY) ts_init();
  void *p = ts_large_alloc(n, TS_OS_PAGE, false);
  return p ? p : ts_oom();
}

/* Fast path: a table lookup, a TLS load, a list pop and the popped block's tag check; no lock, no atomic. NULL when
 * n is above the table or the class's current page ran dry. */
static inline __attribute__((always_inline)) void *ts_small_pop(size_t n) {
  if (TS_LIKELY(n <= TS_SMALL_TBL_MAX)) return ts_heap_pop(ts_tls_heap, ts_cls_tbl[(n + 15) >> 4]);
  return NULL;
}

void *ts_malloc(size_t n) {
  void *b = ts_small_pop(n);
  return TS_LIKELY(b != NULL) ? b : ts_malloc_slow(n);
}

void *ts_calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return ts_oom();
  if (total > TS_MEDIUM_MAX) {
    if (ts_tls_heap->kind == TS_HEAP_EMPTY) ts_init();
    void *p = ts_large_alloc(total, TS_OS_PAGE, true); /* fresh mappings are already zero */
    return p ? p : ts_oom();
  }
  void *p = ts_malloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* malloc(n) for n <= TS_MEDIUM_MAX, from n's own class only: no lending. */
static void *ts_malloc_exact(size_t n) {
  void *b = ts_small_pop(n);
  return TS_LIKELY(b != NULL) ? b : ts_small_slow(n, false);
}

/* Aligned blocks up to 128 KiB come from the ordinary classes: a class that is a multiple of the alignment,
 * in a page whose first block is aligned to 16 KiB or more, only holds aligned blocks. Larger alignments map. */
static void *ts_aligned(size_t align, size_t n) {
  if (align <= 16) return ts_malloc(n);
  if (align <= TS_ALIGN_MAX_SMALL && n <= TS_MEDIUM_MAX) {
    size_t m = n < align ? align : (n + align - 1) & ~(align - 1);
    if (m <= TS_MEDIUM_MAX) return ts_malloc_exact(m);
  }
  if (n > SIZE_MAX / 2 || align > SIZE_MAX / 4) return ts_oom();
  if (ts_tls_heap->kind == TS_HEAP_EMPTY) ts_init();
  void *p = ts_large_alloc(n, align < TS_OS_PAGE ? TS_OS_PAGE : align, false);
  return p ? p : ts_oom();
}

/* memalign rounds an alignment that is not a power of two up to the next one (glibc); one above 2^63 has
 * none, which glibc reports as EINVAL. */
void *ts_memalign(size_t align, size_t n) {
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  if (align > ((size_t)1 << 62)) return ts_oom();
  if (align & (align - 1)) align = (size_t)1 << (64 - __builtin_clzl(align));
  return ts_aligned(align, n);
}

/* glibc 2.36 aligned_alloc is memalign: any alignment, any size. */
void *ts_aligned_alloc(size_t align, size_t n) { return ts_memalign(align, n); }

int ts_posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)) || align % sizeof(void *)) return EINVAL;
  int saved = errno;
  void *p = ts_aligned(align, n);
  if (!p) {
    errno = saved;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

void *ts_valloc(size_t n) { return ts_aligned(TS_OS_PAGE, n); }

void *ts_pvalloc(size_t n) {
  if (n > SIZE_MAX - TS_OS_PAGE) return ts_oom();
  size_t m = (n + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1);
  return ts_aligned(TS_OS_PAGE, m ? m : TS_OS_PAGE);
}

/* realloc with glibc's rules: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL. A small
 * block stays put while the new size fits and wastes at most half of it; large blocks grow with mremap. */
void *ts_realloc(void *p, size_t n, const char *call) {
  if (!p) return ts_malloc(n);
  if (n == 0) {
    ts_free_block(p, call);
    return NULL;
  }
  if (ts_in_arena(p)) {
    ts_page_t *pg = ts_block_page(p, call, "use after free");
    size_t bs = pg->block_size;
    if (n <= bs && (n >= bs / 2 || bs <= 64)) return p;
    /* Growing: at least half again, so a buffer grown byte by byte is copied O(1) times per byte, not once
     * per 12.5% class step (tcmalloc grows by a quarter; glibc often extends in place). */
    size_t m = n;
    if (n > bs && n <= TS_MEDIUM_MAX) {
      m = bs + bs / 2;
      if (m < n) m = n;
      if (m > TS_MEDIUM_MAX) m = TS_MEDIUM_MAX;
    }
    void *q = ts_malloc(m);
    if (!q) return NULL;
    memcpy(q, p, n < bs ? n : bs);
    ts_free_block(p, call);
    return q;
  }
  return ts_large_realloc(p, n, call);
}

void *ts_reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return ts_oom();
  return ts_realloc(p, total, "reallocarray");
}

size_t ts_usable_size(const void *p) {
  if (!p) return 0;
  if (ts_in_arena(p)) {
    ts_page_t *pg = ts_block_page(p, "malloc_usable_size", "use after free");
    return pg->block_size;
  }
  return ts_large_usable(p, "malloc_usable_size");
}
