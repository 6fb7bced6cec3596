/* tsmalloc's shared types and constants, and the map of which file owns each internal function. */
#ifndef TS_INTERNAL_H
#define TS_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/diag.h" /* relative: builds without -Icsrc/common too */

/* ---- Build switches ------------------------------------------------------------------------------------------
 * TSMALLOC_PREFIX  export tsm_malloc, tsm_free, ... instead of the glibc names (and none of the __libc_ aliases),
 *                  so the allocator can be linked into a program next to another malloc, e.g. a sanitizer's.
 *                  It is switched on by itself under -fsanitize=address or -fsanitize=thread: ASan and TSan
 *                  replace malloc themselves, and two definitions of malloc in one program cannot both win.
 * No other switch exists; everything else is a TSMALLOC_* environment option (options.c). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#ifndef TSMALLOC_PREFIX
#define TSMALLOC_PREFIX 1
#endif
#endif
#if !defined(__x86_64__) && !defined(__aarch64__)
#error "tsmalloc assumes a 64-bit Linux target (47-bit user addresses, 4 KiB pages)"
#endif

#define TS_LIKELY(x) __builtin_expect(!!(x), 1)
#define TS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TS_HIDDEN __attribute__((visibility("hidden")))
#define TS_NOINLINE __attribute__((noinline))

/* ---- Geometry -------------------------------------------------------------------------------------------------
 * Memory for blocks up to TS_MEDIUM_MAX comes in 4 MiB segments aligned to 4 MiB, so the segment header (and the
 * page descriptor of any block) is found from a block pointer with a mask: no global lookup on the fast path.
 * A segment is 64 slices of 64 KiB; a page is 1, 2 or 4 aligned slices and holds blocks of one size class.
 * The header takes the first TS_HDR_SIZE bytes of slice 0, which can still hold a (shorter) 1-slice page. */
#define TS_SEG_SHIFT 22
#define TS_SEG_SIZE ((size_t)1 << TS_SEG_SHIFT)
#define TS_SEG_MASK (TS_SEG_SIZE - 1)
#define TS_SLICE_SHIFT 16
#define TS_SLICE_SIZE ((size_t)1 << TS_SLICE_SHIFT)
#define TS_SLICES 64
#define TS_HDR_SIZE ((size_t)16384)
#define TS_OS_PAGE ((size_t)4096)

/* Size classes: 16-byte steps to 128, then 8 classes per doubling up to 128 KiB, so a block wastes at most
 * 12.5% of itself (plus the 16-byte rounding of the smallest ones). Every class is a multiple of 16. Four more
 * sit 32 bytes above a power of two (544, 1056, 2080, 4128): "2^k plus a small header" is what many programs
 * ask for. sqlite's 4096-byte pages arrive as 4104 bytes, and class 4608 wasted 11% of its page cache (bench
 * sqlite peak RSS 140.7 -> 133.9 MiB, glibc 129.3; the uniform random sizes of bench churn pay 0.2 MiB of 12).
 * Only requests up to 2^k + 32 land in such a class, and a multiple of an alignment above 32 never does, so
 * aligned allocation (which rounds the size up to a multiple of the alignment) still gets aligned blocks. */
#define TS_NCLS 92
#define TS_CLS_SOLO 76 /* classes from here (above 32 KiB) have one block per page (page.c) */
#define TS_SMALL_TBL_MAX 8192
#define TS_MEDIUM_MAX ((size_t)128 << 10)
#define TS_ALIGN_MAX_SMALL ((size_t)16384) /* larger alignments go to the large path */

/* Large blocks (> TS_MEDIUM_MAX) are their own mappings: one header page, then the block (page aligned). */
#define TS_LARGE_HDR TS_OS_PAGE

/* ---- Types ---------------------------------------------------------------------------------------------------- */
typedef struct ts_block_s {
  struct ts_block_s *next; /* free-list link */
  uintptr_t tag;           /* address ^ ts_secret while free: the cheap double-free check (free.c) */
} ts_block_t;

/* Low bit of ts_page_t.thread_free: set by the owner when the page went full; the first remote free clears it
 * and tells the owner heap, so full pages are not scanned to find remote frees. */
#define TS_TF_FULL ((uintptr_t)1)
/* The rest of the word: the list's head block (bits 4..47: blocks are 16-byte aligned and the arena lies below
 * 2^48, checked at start) and, in bits 48..63, how many blocks the list holds, so the owner can take the list
 * without walking it (page.c). A page holds at most 4096 blocks. */
#define TS_TF_COUNT_SHIFT 48
#define TS_TF_ONE ((uintptr_t)1 << TS_TF_COUNT_SHIFT)
#define TS_TF_PTR (TS_TF_ONE - 16)
/* High bit of ts_page_t.used mirrors in_full, so the owner's free tests "emptied or was full" with one
 * decrement and a sign test. */
#define TS_USED_FULL 0x80000000u

struct ts_heap_s;

/* A page descriptor is three cache lines, one per writer, so that no thread's writes evict what another reads:
 * line 0 is read by every free and written only when the page is set up, carved or changes owner; line 1 is the
 * owner's (every malloc and local free writes it); line 2 is where other threads push their frees. With the
 * owner's list head in the line that every free reads, and remote frees' CAS beside the owner's list links, each
 * remote free missed twice and the owner missed after it: bench prodcons took 0.555 s, now 0.361 s (A/B over 9
 * interleaved runs; its peak RSS went from 4.4 to 4.7 MiB, as consumers now keep up sooner). Single-threaded
 * workloads did not move (churn 0.331 -> 0.329 s, pair 4.8 ns). Cost: 64 more bytes per descriptor, 4 KiB of
 * segment header, untouched for slices that never hold a page. */
typedef struct ts_page_s {
  /* Line 0: read by every free. */
  uint64_t recip;                   /* ceil(2^40 / block_size): block index by multiplication */
  uint8_t *start;                   /* first block */
  uint8_t *bump;                    /* blocks below this have been carved; above, never touched */
  _Atomic(struct ts_heap_s *) heap; /* owner (as segment.heap) */
  uint8_t *end;                     /* end of the last whole block */
  uint32_t block_size;              /* 0 while the page is not in use */
  uint8_t cls;
  uint8_t nslices;
  /* Line 1: the owner's. */
  _Alignas(64) ts_block_t *free; /* owner pops from here, and its frees push here (free.c): a LIFO stack */
  uint32_t used;                 /* blocks handed out and not yet back in free, | TS_USED_FULL */
  uint8_t in_full;               /* owner's view: on the heap's full list */
  struct ts_page_s *next, *prev; /* heap queue or full list */
  /* Line 2: other threads'. */
  _Alignas(64) _Atomic uintptr_t thread_free; /* blocks freed by other threads: count, head | TS_TF_FULL */
} ts_page_t;
_Static_assert(sizeof(ts_page_t) == 192, "a page descriptor is three cache lines");

enum { TS_SEG_FREE = 0, TS_SEG_OWNED = 1, TS_SEG_ABANDONED = 2 };

typedef struct ts_segment_s {
  /* Fields up to slice_page survive purging of a pooled segment (purge starts at TS_OS_PAGE). */
  uintptr_t magic;                   /* TS_SEG_MAGIC ^ address */
  _Atomic(struct ts_heap_s *) heap;  /* owner; NULL while abandoned or pooled */
  uint64_t used_slices;              /* bit i: slice i belongs to a page */
  uint64_t dirty_slices;             /* bit i: free slice whose memory has not been returned to the OS */
  uint64_t purge_at;                 /* ms: when the dirty slices may be returned */
  struct ts_segment_s *next, *prev;  /* heap avail/full list, pool or abandoned list */
  struct ts_segment_s *pnext, *pprev; /* heap purge list */
  uint8_t state; /* atomic: read by a free that may adopt the segment (ts_abandoned_take) */
  uint8_t in_avail, in_purge;
  uint8_t no_reclaim; /* atomic: abandoned with too little in use to adopt on a free (free.c) */
  uint32_t aband_gen; /* the abandoned list's generation when put on it (segment.c) */
  uint8_t slice_page[TS_SLICES]; /* slice -> first slice of its page (itself when unused) */
  /* 4 KiB units of each slice that may be resident: the furthest any of its pages carved since it was last
   * purged. Dirty slices are counted by this (segment.c), not by their 64 KiB, so the retain limit weighs what
   * they really hold: a thread that used 30 classes leaves 30 slices of 4-8 KiB each, not 1.9 MiB. */
  uint8_t resident[TS_SLICES];
  /* When each free slice went dirty (ts_os_now_ms, low 32 bits): over the retain limit, the slices idle longest
   * are returned first and those freed a moment ago are kept (segment.c, ts_heap_trim). */
  uint32_t dirty_ms[TS_SLICES];
  ts_page_t pages[TS_SLICES];    /* indexed by a page's first slice */
} ts_segment_t;

_Static_assert(sizeof(ts_segment_t) <= TS_HDR_SIZE, "segment header too large");
_Static_assert(offsetof(ts_segment_t, pages) <= TS_OS_PAGE, "pool links must stay in the first OS page");

typedef struct ts_queue_s {
  ts_page_t *head, *tail;
} ts_queue_t;

enum { TS_HEAP_EMPTY = 0, TS_HEAP_NORMAL = 1, TS_HEAP_BACKUP = 2, TS_HEAP_DEAD = 3 };

/* The per-class entry malloc's fast path reads: 8 bytes, so 8 classes share a cache line. */
typedef struct {
  struct ts_page_s *cur; /* queue head, or &ts_empty_page */
} ts_class_t;

typedef struct ts_heap_s {
  ts_class_t c[TS_NCLS];
  ts_queue_t queue[TS_NCLS]; /* pages with (possibly) free blocks */
  ts_queue_t full[TS_NCLS];  /* pages that were full when last looked at */
  _Atomic uint64_t notify[2]; /* class bits: a full page of this class got a remote free */
  ts_segment_t *avail;        /* owned segments with a free slice */
  ts_segment_t *fullsegs;     /* owned segments without one */
  ts_segment_t *purge_head, *purge_tail; /* owned segments with dirty free slices, oldest first */
  size_t dirty_bytes;
  uint64_t xfree;          /* frees this thread did into other threads' pages */
  uint64_t large_count;    /* large allocations by this thread */
  int64_t live_published;  /* small live bytes already added to the global live counter */
  uint32_t slow_count;
  uint32_t trim_ms; /* when ts_heap_trim last looked for idle slices (segment.c) */
  int32_t beat; /* fast-path mallocs to the next tick while timed work is pending (page.c) */
  int kind;
  uint64_t kept_mask[2]; /* classes whose stand-in page below has held kept blocks since the last flush */
  struct ts_heap_s *next_free; /* heap pool */
  struct ts_heap_s *all_next;  /* every heap ever made, for statistics */
  /* Mallocs per class, counted only with TSMALLOC_STATS (free counts nothing: statistics derive frees from mallocs
   * and the blocks still in use, stats.c). Past the part ts_heap_reset clears, so that without statistics the
   * part a thread's heap touches fits in one OS page; ts_stats_fold zeroes them. */
  uint64_t nmalloc[TS_NCLS];
  /* Blocks of live threads' pages that this thread freed, kept for its own mallocs (free.c). One stand-in page
   * per class: not in any segment, so nothing frees into it; the slow path makes it the class's current page and
   * the fast path pops it like any other. Its used goes down by one per block kept and up by one per pop, so it
   * holds minus the count (ts_kept_count). Only threads' heaps have these TS_CLS_SOLO entries (TS_HEAP_BYTES):
   * the static sentinel and backup heaps stop here, so their 44 KiB of stand-ins do not sit in the library's
   * data. Past the part ts_heap_reset clears: the lists are empty whenever a heap is handed out (flushed at
   * thread exit), and a stand-in's memory is touched only if it is used. */
  ts_page_t kept[];
} ts_heap_t;
/* Rounded to whole OS pages, so that each heap of a chunk starts on one and its cleared part takes one page (with
 * 1000 threads alive, 4 KiB less per thread). */
#define TS_HEAP_BYTES ((sizeof(ts_heap_t) + TS_CLS_SOLO * sizeof(ts_page_t) + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1))
_Static_assert(offsetof(ts_heap_t, next_free) <= TS_OS_PAGE, "a heap's cleared part fits in one OS page");

_Static_assert(TS_NCLS <= 2 * 64, "notify holds one bit per class in two words; ts_page_t.cls is a byte");

/* ---- Spin lock: leaf locks only, held for a few hundred instructions at most (see init.c for fork). ---- */
typedef struct {
  _Atomic int v;
} ts_lock_t;
void ts_lock_slow(ts_lock_t *l); /* init.c */
static inline void ts_cpu_relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#else
  __asm__ __volatile__("yield");
#endif
}
/* Takes the lock if it is free: a plain load first, so that a waiter does not pull the line from its holder. */
static inline bool ts_trylock(ts_lock_t *l) {
  return !atomic_load_explicit(&l->v, memory_order_relaxed) &&
         !atomic_exchange_explicit(&l->v, 1, memory_order_acquire);
}
static inline void ts_lock(ts_lock_t *l) {
  if (TS_UNLIKELY(atomic_exchange_explicit(&l->v, 1, memory_order_acquire))) ts_lock_slow(l);
}
static inline void ts_unlock(ts_lock_t *l) { atomic_store_explicit(&l->v, 0, memory_order_release); }

/* ---- Globals --------------------------------------------------------------------------------------------------- */
extern uintptr_t ts_arena_lo;   /* segment.c: reserved range for segments */
extern size_t ts_arena_size;    /* segment.c */
extern uintptr_t ts_secret;     /* init.c: random, for free tags */
/* The tag a free block at p carries (free.c), and whether b carries it. */
static inline uintptr_t ts_tag(const void *p) { return (uintptr_t)p ^ ts_secret; }
static inline bool ts_tagged(const ts_block_t *b) { return b->tag == ts_tag(b); }
/* page.c: what the fast path's pop does besides popping (ts_pop_hooked), one bit each. */
#define TS_HOOK_STATS 1u /* TSMALLOC_STATS=1: count mallocs per class */
#define TS_HOOK_BEAT 2u  /* pooled segments or cached large spans wait for their purge delay: count down to a tick */
extern _Atomic unsigned ts_pop_hook;
extern bool ts_stats_on;        /* stats.c: TSMALLOC_STATS=1, so the fast paths count mallocs and frees */
extern ts_page_t ts_empty_page; /* page.c: never has a free block */
extern __thread ts_heap_t *ts_tls_heap __attribute__((tls_model("initial-exec"))); /* init.c */
extern const uint8_t ts_cls_tbl[TS_SMALL_TBL_MAX / 16 + 1]; /* page.c */
extern const uint32_t ts_cls_size[TS_NCLS];                 /* page.c */

static inline size_t ts_size_class(size_t n) { /* n <= TS_MEDIUM_MAX */
  if (n <= TS_SMALL_TBL_MAX) return ts_cls_tbl[(n + 15) >> 4];
  size_t w = n - 1;
  unsigned k = 63u - (unsigned)__builtin_clzl(w);
  return 12 + (k - 7) * 8 + ((w >> (k - 3)) & 7); /* 8 per doubling, after the 4 extra classes below 8 KiB */
}
/* Set bits of a word. Not __builtin_popcountll: without -mpopcnt gcc calls libgcc's __popcountdi2, and linking
 * that made every preloaded process map libgcc_s.so.1 as well (92 KiB of it resident in a small program). */
static inline unsigned ts_popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
}
static inline ts_segment_t *ts_segment_of(const void *p) {
  return (ts_segment_t *)((uintptr_t)p & ~(uintptr_t)TS_SEG_MASK);
}
static inline bool ts_in_arena(const void *p) { return (uintptr_t)p - ts_arena_lo < ts_arena_size; }

/* ---- options.c: the TSMALLOC_* table ---- */
enum {
  TS_OPT_VERBOSE,
  TS_OPT_STATS,
  TS_OPT_STATS_FILE, /* its value is ts_stats_file; the number is 1 when set */
  TS_OPT_PURGE_DELAY_MS,
  TS_OPT_RETAIN_KB,
  TS_OPT_LARGE_CACHE_MB,
  TS_OPT_RESERVE_GB,
  TS_OPT_YOUNG_MALLOCS,
  TS_OPT_COUNT
};
extern long ts_options[TS_OPT_COUNT];
extern char ts_stats_file[512];
void ts_options_init(void);
static inline long ts_opt(int i) { return ts_options[i]; }

/* ---- os.c: the only file that talks to the kernel about memory, time and the environment ---- */
void *ts_os_map(size_t size, bool noreserve); /* RW anonymous; NULL on failure; errno preserved */
void ts_os_unmap(void *p, size_t size);
bool ts_os_purge(void *p, size_t size);       /* MADV_DONTNEED (reads back zero); counts bytes returned */
void *ts_os_remap(void *p, size_t old_size, size_t new_size, bool may_move); /* NULL on failure */
uint64_t ts_os_now_ms(void);
const char *ts_os_getenv(const char *name);
uint64_t ts_os_random(void);
size_t ts_os_read_file(const char *path, char *buf, size_t cap);
long ts_os_rss_kib(const char *field); /* "VmRSS" / "VmHWM" from /proc/self/status, -1 if unknown */
extern _Atomic uint64_t ts_os_purged_bytes;

/* ---- segment.c: the arena, segments, slices, the free-segment pool and purging ---- */
bool ts_arena_init(void);
/* NULL when out of memory. high: take the highest free run instead of the lowest (see TS_HIGH_MIN in page.c). */
ts_page_t *ts_segment_page_alloc(ts_heap_t *h, unsigned nslices, bool whole, bool high);
void ts_segment_page_free(ts_heap_t *h, ts_page_t *pg);
void ts_heap_purge(ts_heap_t *h, uint64_t now, bool force);
void ts_pool_tick(uint64_t now, bool force);
bool ts_pool_pending(void);        /* a pooled segment waits to be purged */
bool ts_trim_pending(void);        /* a heap spares young free memory beyond the retain limit */
void ts_segments_abandon(ts_heap_t *h);
ts_segment_t *ts_abandoned_pop(void);
bool ts_abandoned_take(ts_segment_t *s); /* s is still abandoned: it is now the caller's to adopt */
void ts_abandoned_put_back(ts_segment_t *s); /* undoes a take */
void ts_segment_adopted(ts_heap_t *h, ts_segment_t *s); /* links an adopted segment into h's lists */
void ts_segment_after_fork_child(void);
size_t ts_segment_mapped_bytes(void);
/* Bytes of the blocks in use in every segment (racy, approximate while other threads run); with per_class, also
 * the count of blocks in use per class. Blocks freed by other threads and not yet collected count as free. */
size_t ts_segment_live_bytes(uint64_t *per_class);
size_t ts_segment_used_bytes(const ts_segment_t *s, bool less_remote, uint64_t *per_class); /* one segment */

/* ---- page.c: pages, queues, the allocation slow path ---- */
void *ts_heap_alloc_slow(ts_heap_t *h, size_t cls, bool lend); /* lend: a larger class may serve (page.c) */
void ts_page_collect(ts_page_t *pg);                   /* owner: merge remote frees into free */
void ts_page_free_local_slow(ts_heap_t *h, ts_page_t *pg, const char *call); /* owner: left the full list, emptied */
void ts_heap_adopt_segment(ts_heap_t *h, ts_segment_t *s);
void ts_heap_collect_all(ts_heap_t *h, bool retire_all);
void ts_heap_tick(ts_heap_t *h, bool force);
void ts_timed_work_update(void); /* after timed work was scheduled or done: sets or clears TS_HOOK_BEAT */
__attribute__((returns_nonnull)) void *ts_pop_hooked(ts_heap_t *h, size_t cls, void *b); /* returns b */
_Noreturn void ts_report_tag(const void *b, const char *call); /* free.c: a free block's tag is wrong */
/* Takes the first block of a page's free list, which must not be empty: the one pop of the fast path (below) and
 * the slow path (page.c). The tag check stops a block freed twice from being handed out twice (free.c); clearing
 * the tag marks the block in use for the checks of realloc, malloc_usable_size and emptied pages. The prefetch
 * warms the next block, whose link the next malloc of this class reads: a program that frees blocks in random
 * order leaves that block cold (bench churn: 3% less time, A/B 0.304 -> 0.293 s; prefetching NULL is harmless). */
static inline __attribute__((always_inline)) void *ts_page_pop(ts_heap_t *h, ts_page_t *pg, size_t cls) {
  ts_block_t *b = pg->free;
  ts_block_t *next = b->next;
  if (TS_UNLIKELY(!ts_tagged(b))) ts_report_tag(b, "malloc");
  pg->free = next;
  __builtin_prefetch(next, 1);
  pg->used++;
  b->tag = 0;
  if (TS_UNLIKELY(atomic_load_explicit(&ts_pop_hook, memory_order_relaxed))) return ts_pop_hooked(h, cls, b);
  return b;
}
/* The fast path proper: pop the current page's free list; NULL when it is empty. No lock, no atomic. */
static inline __attribute__((always_inline)) void *ts_heap_pop(ts_heap_t *h, size_t cls) {
  ts_page_t *pg = h->c[cls].cur;
  if (TS_UNLIKELY(pg->free == NULL)) return NULL;
  return ts_page_pop(h, pg, cls);
}
static inline void *ts_heap_alloc(ts_heap_t *h, size_t cls, bool lend) {
  void *b = ts_heap_pop(h, cls);
  return TS_LIKELY(b != NULL) ? b : ts_heap_alloc_slow(h, cls, lend);
}

/* ---- alloc.c: malloc, calloc, realloc, aligned allocation, usable size ---- */
void *ts_malloc(size_t n);
void ts_young_skip(void); /* the calling thread takes a heap of its own at its first malloc */
void *ts_calloc(size_t n, size_t size);
void *ts_realloc(void *p, size_t n, const char *call);
void *ts_reallocarray(void *p, size_t n, size_t size);
void *ts_memalign(size_t align, size_t n);
int ts_posix_memalign(void **out, size_t align, size_t n);
void *ts_aligned_alloc(size_t align, size_t n);
void *ts_valloc(size_t n);
void *ts_pvalloc(size_t n);
size_t ts_usable_size(const void *p);

/* ---- free.c: free, sized free, remote free, pointer validation ---- */
void ts_free(void *p);
void ts_free_sized(void *p, size_t n, size_t align, const char *call);
ts_page_t *ts_block_page(const void *p, const char *call, const char *freed_error); /* aborts on misuse */
void ts_page_check_empty(const ts_page_t *pg); /* before an emptied page is given back: aborts on a double free */
_Noreturn void ts_page_report_double_free(const ts_page_t *pg, const void *b, const char *call);
void ts_free_block(void *p, const char *call);
void ts_kept_flush(ts_heap_t *h);          /* the kept blocks back to their pages: thread exit, malloc_trim */
size_t ts_kept_bytes(uint64_t *per_class); /* over every heap, racy: for statistics */
static inline uint32_t ts_kept_count(const ts_page_t *k) { return 0u - __atomic_load_n(&k->used, __ATOMIC_RELAXED); }
/* h's stand-in page of kept blocks for cls; NULL for the heaps that have none (ts_heap_t.kept) and classes with
 * one block per page. */
static inline ts_page_t *ts_heap_kept(ts_heap_t *h, size_t cls) {
  return cls < TS_CLS_SOLO && h->kind == TS_HEAP_NORMAL ? &h->kept[cls] : NULL;
}
_Noreturn void ts_report_foreign(const void *p, const char *call); /* never-allocated report, phrase by call */

/* ---- large.c: blocks above TS_MEDIUM_MAX, the page map of their addresses, the cache of freed spans ---- */
void *ts_large_alloc(size_t n, size_t align, bool zero);
void ts_large_free(void *p, const char *call);
void *ts_large_realloc(void *p, size_t n, const char *call);
size_t ts_large_usable(const void *p, const char *call);
bool ts_large_owns(const void *p); /* page map says p is a live large block */
void ts_large_tick(uint64_t now, bool force);
bool ts_large_pending(void); /* the span cache holds something, to be unmapped after the purge delay */
void ts_large_after_fork_child(void);
void ts_large_totals(size_t *count, size_t *bytes, size_t *cached);

/* ---- init.c: initialisation, thread heaps, thread exit, fork ---- */
void ts_init(void);
ts_heap_t *ts_heap_get_slow(void); /* for a thread whose heap is a sentinel */
void *ts_backup_alloc(size_t cls, bool lend);
extern ts_heap_t ts_backup_heap; /* the shared heap, used under ts_backup_lock (init.c) */
extern ts_lock_t ts_backup_lock;
void ts_backup_trim(void);
void ts_backup_freed(void);           /* a remote free landed in one of the shared heap's pages */
void ts_backup_tick(uint64_t now);    /* timed work: the shared heap's frees and idle pages */
bool ts_backup_pending(void);
extern ts_heap_t ts_heap_dead;
extern ts_heap_t *ts_all_heaps;
extern ts_lock_t ts_heaps_lock;

/* ---- stats.c: counters merged from heaps, printed at exit ---- */
void ts_stats_fold(ts_heap_t *h); /* thread exit, before its pages are abandoned: counters to the totals */
void ts_stats_adopted(int64_t bytes); /* blocks in use in a segment being adopted, already counted as live */
void ts_stats_remote(int64_t bytes);  /* + freed by another thread, - collected by the owner */
void ts_stats_publish_live(ts_heap_t *h);
void ts_stats_large(int64_t delta_bytes);
void ts_stats_dead_free(void); /* a remote free by a thread past its teardown */
void ts_stats_print_exit(void);
void ts_stats_init(void); /* after the options: keeps a copy of stderr for the exit report */
void ts_stats_after_fork_child(void);

/* ---- introspect.c: malloc_trim, mallinfo, malloc_stats, malloc_info, mallopt ---- */
int ts_malloc_trim(size_t pad);
struct mallinfo2 ts_mallinfo2(void);
struct mallinfo ts_mallinfo(void);
void ts_malloc_stats(void);
int ts_malloc_info(int options, FILE *fp);
int ts_mallopt(int param, int value);
#endif
