/* free: pointer validation, the owner's lock-free push, and the atomic push for frees from other threads. */
#include "internal.h"

/* Misuse reports, all through ts_misuse ("tsmalloc: <error> of 0x... in <call>()", then abort). The complete
 * list of <error> phrases, whatever the file that raises them (the first three are shared with `simple`, see
 * csrc/common/diag.h):
 *   "double free"                              free/free_sized/realloc(p, 0) of a block already free
 *   "use after free"                           realloc/reallocarray/malloc_usable_size of a block already free
 *   "invalid pointer"                          a pointer tsmalloc never returned: outside its memory (glibc's
 *                                              heap from before the preload, a static buffer, garbage), inside a
 *                                              block but not at its start, or in memory with no live page
 *   "sized free with a size larger than the block"  free_sized/free_aligned_sized got a size the block can't hold
 *   "double free or write after free"          malloc found a free block's tag overwritten (below)
 *   "corrupted free list (write after free?)"  a remote-free list's head, length or links are wrong (links are
 *                                              walked only when the list joins a non-empty free list, page.c)
 *   "corrupted large block header"             the header page before a large block was overwritten
 * Every free block carries a tag, address ^ a random secret, in its second word; malloc checks it and clears it.
 * free does not read the block it frees: that load missed the cache whenever the program had not touched the block
 * lately, and free then waited for it (bench churn, A/B over 9 runs: 0.317 -> 0.287 s, tcmalloc 0.252 s). A
 * double free is caught instead, in this order:
 *   - at the free itself when the block is the one its page's list took last (free(p); free(p)): a compare with
 *     the list head free loads anyway, and the same for kept blocks and other threads' lists;
 *   - by the malloc that would hand the block out a second time: its tag is gone (cleared when its first copy
 *     was handed out, or overwritten since by the program), reported as "double free" of it in malloc();
 *   - when a page's count of blocks in use goes below zero, or reaches zero while a carved block has no tag
 *     (ts_page_check_empty, before the page's memory is given back: a block still in use must not be).
 * So a double free is named before it can hand one block to two owners or free a page under a live block, but
 * possibly later than the second free() and from another call. It can miss one whose block was reused in between
 * (glibc can too); the tag cannot fire on a correct program unless it writes that exact 64-bit value there. */

_Noreturn void ts_report_foreign(const void *p, const char *call) { ts_misuse("invalid pointer", p, call); }

/* A free block b whose tag is wrong, found by malloc (or a walk of a free list). Pops clear the tag, so a block
 * listed twice shows 0 at its second pop; anything else is a write into a free block, or a double free whose
 * first copy the program has written since. */
_Noreturn void ts_report_tag(const void *b, const char *call) {
  ts_misuse(((const ts_block_t *)b)->tag == 0 ? "double free" : "double free or write after free", b, call);
}

/* p is in no live block. If it is where the first block of a page since given back was (always the case for a
 * freed one-block page, above 32 KiB), it is reported as freed rather than as never allocated. Cold path only:
 * it reads the segment header without a lock, which is fine for a report. */
static TS_NOINLINE __attribute__((cold)) _Noreturn void ts_report_outside(const void *p, const char *call,
                                                                         const char *freed_error) {
  const ts_segment_t *seg = ts_segment_of(p);
  unsigned i = ((uintptr_t)p >> TS_SLICE_SHIFT) & (TS_SLICES - 1);
  uintptr_t first = (uintptr_t)seg + (uintptr_t)i * TS_SLICE_SIZE + (i == 0 ? TS_HDR_SIZE : 0);
  uint64_t used = __atomic_load_n(&seg->used_slices, __ATOMIC_RELAXED);
  uint64_t dirty = __atomic_load_n(&seg->dirty_slices, __ATOMIC_RELAXED);
  if ((uintptr_t)p == first && !(used >> i & 1) && (dirty >> i & 1)) ts_misuse(freed_error, p, call);
  ts_report_foreign(p, call);
}

/* p is not the start of a block already carved from pg. The offset test is one multiply: with recip =
 * ceil(2^40 / size), off is a whole number of blocks exactly when the low 40 bits of off * recip stay below recip
 * (for a multiple they hold blocks x the rounding error, under the page size, which is under 2^40 / size for
 * every class; a remainder adds at least recip and cannot wrap). A descriptor that is not a live page's has
 * start and bump NULL, so every p fails. */
static inline __attribute__((always_inline)) bool ts_block_outside(const ts_page_t *pg, const void *p) {
  const uint8_t *start = pg->start; /* read once: gcc reloads a field across an atomic load */
  uintptr_t off = (uintptr_t)p - (uintptr_t)start;
  /* bump only grows, and a block being freed lies below it already: a relaxed read of a racing update is fine */
  uint8_t *bump = __atomic_load_n(&pg->bump, __ATOMIC_RELAXED);
  return TS_UNLIKELY(off >= (uintptr_t)(bump - start) ||
                     ((off * pg->recip) & (((uint64_t)1 << 40) - 1)) >= pg->recip);
}

/* The page holding p, through the segment's slice map (pages of several slices included). */
static inline ts_page_t *ts_page_lookup(const void *p) {
  ts_segment_t *seg = ts_segment_of(p);
  return &seg->pages[seg->slice_page[((uintptr_t)p >> TS_SLICE_SHIFT) & (TS_SLICES - 1)]];
}

/* Page of a block in the arena, after checking that p is the start of a block handed out and not free again;
 * reports and aborts otherwise. Cost: one byte load, a multiply, one compare for the tag. */
ts_page_t *ts_block_page(const void *p, const char *call, const char *freed_error) {
  ts_page_t *pg = ts_page_lookup(p);
  if (ts_block_outside(pg, p)) ts_report_outside(p, call, freed_error);
  if (TS_UNLIKELY(ts_tagged(p))) ts_misuse(freed_error, p, call);
  return pg;
}

/* The first block listed twice on pg's free list, or NULL. The walk is bounded by the carved blocks: a double free
 * can make the list a cycle. Cold path: a bitmap of the page's blocks on the stack (at most 4096). */
static const void *ts_page_listed_twice(const ts_page_t *pg) {
  uint64_t seen[TS_SLICE_SIZE / 16 / 64] = {0};
  size_t carved = (size_t)(pg->bump - pg->start) / pg->block_size, k = 0;
  for (const ts_block_t *b = pg->free; b && k <= carved; b = b->next, k++) {
    if (ts_block_outside(pg, b)) return NULL; /* a broken link: the caller names what it has */
    size_t i = ((uintptr_t)b - (uintptr_t)pg->start) / pg->block_size;
    if (i >= sizeof seen * 8) return NULL;
    if (seen[i / 64] >> (i % 64) & 1) return b;
    seen[i / 64] |= 1ULL << (i % 64);
  }
  return NULL;
}

/* A block of pg was freed twice: its count of blocks in use went below zero, or reached zero while b is not free.
 * Names the block listed twice when there is one, else b. */
_Noreturn void ts_page_report_double_free(const ts_page_t *pg, const void *b, const char *call) {
  const void *twice = ts_page_listed_twice(pg);
  ts_misuse("double free", twice ? twice : b, call);
}

/* Called before an emptied page's memory goes back to its segment: every block carved there must be free, so
 * carries its tag. One that does not is in use (or was handed out twice) while the count says none is, because a
 * block was freed twice: giving the page back would hand that block's memory to the next page. Cost: one load
 * per block, in address order, once per page emptied. Blocks of 1 KiB and more each sit on a line (and often an OS
 * page) of their own, and the hardware prefetcher does not follow strides that cross pages: the prefetch four
 * blocks ahead does (bench fragment, which empties thousands of such pages at once, A/B over 9 and 11 runs:
 * 0.330 s without the check, 0.347 with it; 0.374 -> 0.367 s with the prefetch, against 0.366 without the check).
 * Burst, which empties 14000 pages of small blocks freed in order, did not move. A prefetch past the page's end
 * is harmless: prefetches do not fault. */
void ts_page_check_empty(const ts_page_t *pg) {
  size_t bs = pg->block_size;
  for (const uint8_t *p = pg->start; p < pg->bump; p += bs) {
    __builtin_prefetch(p + 4 * bs);
    if (TS_UNLIKELY(!ts_tagged((const ts_block_t *)p))) ts_page_report_double_free(pg, p, "free");
  }
}

/* The owner's free: a list push and a decrement, no lock, no atomic. It pushes onto the list malloc pops, so the
 * next malloc of the class takes the block back while its line is still in cache, as tcmalloc's per-class lists
 * do (see ts_pop_hooked in page.c for what that changed). */
static inline __attribute__((always_inline)) void ts_free_local(ts_heap_t *h, ts_page_t *pg, ts_block_t *b,
                                                                uintptr_t tag, const char *call) {
  ts_block_t *head = pg->free;
  if (TS_UNLIKELY(head == b)) ts_misuse("double free", b, call);
  b->next = head;
  b->tag = tag;
  pg->free = b;
  uint32_t used = --pg->used;
  if (TS_UNLIKELY((int32_t)used <= 0) && (used != 0 || h->queue[pg->cls].head != pg))
    ts_page_free_local_slow(h, pg, call);
}

/* A free into the segment of an exited thread that nobody has adopted yet, while that segment still holds at least
 * TS_RECLAIM_MIN in use: the freeing thread adopts it, and the block and every later free there become its own.
 * Why: only a segment's owner reuses the blocks freed in it, so a live set handed over by an exited thread (bench
 * larson) or freed by whoever cleans up after it stayed resident, free, until some thread needing a page happened
 * to adopt that segment. A/B over 5 interleaved runs: larson peak RSS 11.0 -> 9.4 MiB (glibc 9.0); threadchurn
 * and threadwork unchanged. The size rule leaves a segment holding a few leftover blocks to a thread that needs a
 * page: adopting every one of them in bench threadchurn, whose main thread frees 8 blocks of each exited thread,
 * parked their memory in a heap that hardly allocates (peak RSS 2.3 -> 3.5 MiB). Cost: on the first free into
 * an abandoned segment, a lock and a walk of its page descriptors, then the adoption or a flag that spares the
 * next frees the look; nothing on frees into live threads' pages. */
#define TS_RECLAIM_MIN ((size_t)64 << 10)
static TS_NOINLINE bool ts_free_reclaim(ts_page_t *pg, ts_block_t *b, const char *call) {
  ts_heap_t *me = ts_tls_heap;
  if (me->kind != TS_HEAP_NORMAL) return false; /* no heap yet, or past its teardown: the plain remote free */
  ts_segment_t *s = ts_segment_of(pg);
  if (__atomic_load_n(&s->no_reclaim, __ATOMIC_RELAXED)) return false;
  if (!ts_abandoned_take(s)) return false; /* another thread was first */
  /* Taken, so no thread writes its pages' counts now (remote frees only push): this walk is exact. Blocks in use
   * only go down while it is abandoned, so one look decides for good, until some thread adopts it. */
  if (ts_segment_used_bytes(s, true, NULL) < TS_RECLAIM_MIN) {
    __atomic_store_n(&s->no_reclaim, 1, __ATOMIC_RELAXED);
    ts_abandoned_put_back(s);
    return false;
  }
  ts_heap_adopt_segment(me, s); /* pg holds b, which is in use: the page stays, and so does the segment */
  ts_free_local(me, pg, b, ts_tag(b), call);
  return true;
}

/* A free into a page whose owner is another live thread: the freeing thread keeps the block for its own mallocs of
 * the class, up to TS_KEEP_BYTES per class, when it allocates that class itself (a thread that only frees, such
 * as a consumer, would never reuse it). Why: only a page's owner reuses the blocks freed into it, so where many
 * threads free each other's blocks every thread kept a reserve of its own that the others filled. In
 * bench/programs/xfree.c (64 threads replacing blocks in one shared table, under 16 MiB live) peak RSS was
 * 383-419 MiB and time 0.73-0.86 s; with 32 KiB kept per class, 70-78 MiB and 0.23-0.24 s. tcmalloc, jemalloc
 * and glibc's caches are per thread and take any block; mimalloc gives blocks back to their owner, as tsmalloc
 * did, and keeps 286 MiB. Kept blocks are free (tagged) and count as free in the statistics; they go home at
 * thread exit and at malloc_trim. Cost: a thread may hold up to 32 KiB per class of other threads' memory; a
 * block can then travel between threads for a while instead of going home (bench larson with 2 threads on 2
 * cores: 0.28 -> 0.32 s, 4 threads 0.368 -> 0.378 s, peak RSS 9.5 -> 8.5 MiB), and a kept block holds its page
 * (bench threadchurn: the main thread keeps about 50 blocks of pages that short-lived threads adopted, which then
 * stay: peak RSS 2.39 -> 2.55 MiB, A/B over 15 runs). 8 and 16 KiB kept more memory in xfree (139 and 94 MiB)
 * and were no faster in larson; 64 KiB gave 65 MiB. Keeping only while the class's own pages are out of free
 * blocks, or only while the slow path recently had to look beyond them, lost larson's gain and half of xfree's
 * (102-116 MiB) and did not help threadchurn. */
#define TS_KEEP_BYTES ((size_t)32 << 10)
static inline bool ts_keep(ts_heap_t *me, size_t cls, ts_block_t *b, const char *call) {
  ts_page_t *k = ts_heap_kept(me, cls);
  if (!k || me->c[cls].cur == &ts_empty_page) return false;
  if (TS_UNLIKELY(k->free == b)) ts_misuse("double free", b, call);
  uint32_t n = 0u - k->used;
  if ((size_t)(n + 1) * ts_cls_size[cls] > TS_KEEP_BYTES) return false;
  b->next = k->free; /* the caller tagged it */
  k->free = b;
  k->used--;
  me->kept_mask[cls >> 6] |= 1ULL << (cls & 63);
  return true;
}

/* A block of another thread's page (or an abandoned one): kept (above), or pushed onto the page's thread_free list
 * with a CAS. If the owner had parked the page as full, this free clears the mark and tells the owner's heap once.
 * flush: a kept block going home (ts_kept_flush), already counted as a cross-thread free. */
static TS_NOINLINE void ts_free_remote(ts_page_t *pg, ts_block_t *b, bool flush, const char *call) {
  ts_heap_t *owner0 = atomic_load_explicit(&pg->heap, memory_order_relaxed);
  b->tag = ts_tag(b); /* free now, whichever list takes it */
  if (TS_UNLIKELY(owner0 == NULL)) {
    if (ts_free_reclaim(pg, b, call)) return;
  } else if (!flush && ts_keep(ts_tls_heap, pg->cls, b, call)) {
    if (TS_UNLIKELY(ts_stats_on)) {
      ts_stats_remote((int64_t)pg->block_size); /* free, and not yet back in its page */
      ts_tls_heap->xfree++;
    }
    return;
  }
  size_t cls = pg->cls; /* before the push: once pushed, the owner may empty and reuse the page */
  if (TS_UNLIKELY(ts_stats_on)) ts_stats_remote((int64_t)pg->block_size); /* before the push too */
  uintptr_t old = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  do {
    if (TS_UNLIKELY((old & TS_TF_PTR) == (uintptr_t)b)) ts_misuse("double free", b, call);
    b->next = (ts_block_t *)(old & TS_TF_PTR);
  } while (!atomic_compare_exchange_weak_explicit(&pg->thread_free, &old,
                                                  (uintptr_t)b | ((old & ~(TS_TF_ONE - 1)) + TS_TF_ONE),
                                                  memory_order_acq_rel, memory_order_relaxed));
  if (old & TS_TF_FULL) {
    ts_heap_t *owner = atomic_load_explicit(&pg->heap, memory_order_acquire);
    if (owner) atomic_fetch_or_explicit(&owner->notify[cls >> 6], 1ULL << (cls & 63), memory_order_release);
  }
  if (owner0 == &ts_backup_heap) ts_backup_freed();
  if (TS_LIKELY(!ts_stats_on) || flush) return;
  /* Counted in the freeing thread's heap, or in the totals by a thread without one (young, or torn down). */
  ts_heap_t *me = ts_tls_heap;
  if (TS_LIKELY(me->kind == TS_HEAP_NORMAL)) me->xfree++;
  else ts_stats_dead_free();
}

static TS_NOINLINE void ts_free_outside(void *p, const char *call) {
  if (!p) return;
  ts_large_free(p, call);
}

/* A live block of pg back home, for heap h's thread: the owner's push, or the remote one (flush: see above). */
static inline __attribute__((always_inline)) void ts_free_home(ts_heap_t *h, ts_page_t *pg, ts_block_t *b,
                                                               uintptr_t tag, bool flush, const char *call) {
  if (TS_LIKELY(atomic_load_explicit(&pg->heap, memory_order_relaxed) == h)) {
    ts_free_local(h, pg, b, tag, call);
    return;
  }
  ts_free_remote(pg, b, flush, call);
}

/* The free proper, once p is known to be a live block of pg. */
static inline __attribute__((always_inline)) void ts_free_to(ts_page_t *pg, ts_block_t *b, uintptr_t tag,
                                                             const char *call) {
  ts_free_home(ts_tls_heap, pg, b, tag, false, call);
}

/* A block of a page that does not start at the block's own slice (classes above 8 KiB have pages of 2 or 4
 * slices), or a bad pointer: the full lookup through slice_page, then the same free or a report. */
static TS_NOINLINE void ts_free_indirect(void *p, const char *call) {
  uintptr_t tag = ts_tag(p);
  ts_page_t *pg = ts_page_lookup(p);
  if (ts_block_outside(pg, p)) ts_report_outside(p, call, "double free");
  ts_free_to(pg, p, tag, call);
}

/* Frees a block; call names the API function for misuse reports. Pages of classes up to 8 KiB take one slice,
 * so p's page is the descriptor of p's own slice, found without loading slice_page (one dependent load less on
 * every free). Any descriptor that is not the first slice of a live page has start and bump NULL (segment.c),
 * which fails the check and takes the full lookup. */
static inline __attribute__((always_inline)) void ts_free_impl(void *p, const char *call) {
  if (TS_UNLIKELY(!ts_in_arena(p))) {
    ts_free_outside(p, call);
    return;
  }
  uintptr_t tag = ts_tag(p); /* loaded once: the stores below could alias ts_secret */
  ts_segment_t *seg = ts_segment_of(p);
  ts_page_t *pg = &seg->pages[((uintptr_t)p >> TS_SLICE_SHIFT) & (TS_SLICES - 1)];
  if (ts_block_outside(pg, p)) {
    ts_free_indirect(p, call);
    return;
  }
  ts_free_to(pg, p, tag, call);
}

void ts_free(void *p) { ts_free_impl(p, "free"); }
void ts_free_block(void *p, const char *call) { ts_free_impl(p, call); }

/* free_sized / free_aligned_sized: the size is checked against the block (cheaply, it is known) and ignored. */
void ts_free_sized(void *p, size_t n, size_t align, const char *call) {
  (void)align;
  if (p && n > 0) {
    size_t usable = ts_in_arena(p) ? ts_block_page(p, call, "double free")->block_size : ts_large_usable(p, call);
    if (n > usable) ts_misuse("sized free with a size larger than the block", p, call);
  }
  ts_free_impl(p, call);
}

/* Sends a heap's kept blocks of one class back to their pages. A block whose page the heap has adopted since is
 * its own: a local free. A block kept twice (a double free the list-head check missed) makes the list a cycle
 * and would go home twice, so the walks are bounded by the count, and a first walk checks and clears every tag:
 * the second copy then shows without one. Cost: a second walk over at most 32 KiB of blocks, at thread exit and
 * malloc_trim. */
static void ts_kept_flush_class(ts_heap_t *h, size_t cls) {
  ts_page_t *k = &h->kept[cls];
  ts_block_t *first = k->free;
  uint32_t n = ts_kept_count(k);
  k->free = NULL; /* if k is the current page, the next malloc of the class takes the slow path */
  k->used = 0;
  ts_block_t *b = first;
  for (uint32_t i = 0; i < n; i++, b = b->next) {
    if (!b) ts_fatal("corrupted list of kept blocks: shorter than its count");
    if (!ts_tagged(b)) ts_report_tag(b, "free");
    b->tag = 0;
  }
  b = first;
  for (uint32_t i = 0; i < n; i++) {
    ts_block_t *next = b->next;
    if (TS_UNLIKELY(ts_stats_on)) ts_stats_remote(-(int64_t)ts_cls_size[cls]);
    ts_free_home(h, ts_page_lookup(b), b, ts_tag(b), true, "free");
    b = next;
  }
}

/* Sends all of a heap's kept blocks back. Called by the heap's own thread: at its exit (ts_tls_heap is the dead
 * heap by then, so nothing is kept again) and at malloc_trim. Only the classes that kept something are visited:
 * clearing every stand-in page wrote all 15 KiB of them in each heap at its thread's exit (bench threadchurn, whose
 * 5 heaps serve 20000 threads, A/B over 15 runs: peak RSS 2.43 -> 2.32 MiB). */
void ts_kept_flush(ts_heap_t *h) {
  for (unsigned w = 0; w < 2; w++)
    for (uint64_t m = h->kept_mask[w]; m; m &= m - 1) ts_kept_flush_class(h, w * 64 + (size_t)__builtin_ctzll(m));
  h->kept_mask[0] = h->kept_mask[1] = 0;
}

/* Bytes kept over every heap, and with per_class the count per class: read without the owners' consent, so
 * approximate while other threads run, as the rest of the statistics are. */
size_t ts_kept_bytes(uint64_t *per_class) {
  size_t total = 0;
  for (ts_heap_t *h = __atomic_load_n(&ts_all_heaps, __ATOMIC_ACQUIRE); h; h = h->all_next) {
    if (__atomic_load_n(&h->kind, __ATOMIC_RELAXED) != TS_HEAP_NORMAL) continue;
    for (size_t cls = 0; cls < TS_CLS_SOLO; cls++) {
      uint32_t n = ts_kept_count(&h->kept[cls]);
      if ((size_t)n * ts_cls_size[cls] > TS_KEEP_BYTES) continue; /* a torn read */
      total += (size_t)n * ts_cls_size[cls];
      if (per_class) per_class[cls] += n;
    }
  }
  return total;
}
