/* Pages of one size class: the per-heap queues, free-list refill, remote-free collection and the slow path. */
#include "internal.h"

#include <string.h>

/* Class of size (i * 16), for i = (n + 15) >> 4 and n <= 8192: one load on the malloc fast path (513 bytes). */
const uint8_t ts_cls_tbl[TS_SMALL_TBL_MAX / 16 + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22,
    23, 23, 24, 24, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31,
    31, 31, 32, 32, 32, 32, 33, 33, 34, 34, 34, 34, 34, 34, 35, 35, 35, 35, 35, 35, 35, 35, 36, 36, 36, 36, 36, 36,
    36, 36, 37, 37, 37, 37, 37, 37, 37, 37, 38, 38, 38, 38, 38, 38, 38, 38, 39, 39, 39, 39, 39, 39, 39, 39, 40, 40,
    40, 40, 40, 40, 40, 40, 41, 41, 41, 41, 41, 41, 41, 41, 42, 42, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43, 43,
    43, 43, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 45, 45, 45, 45, 45, 45, 45, 45, 45, 45,
    45, 45, 45, 45, 45, 45, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 46, 47, 47, 47, 47, 47, 47,
    47, 47, 47, 47, 47, 47, 47, 47, 47, 47, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 48, 49, 49,
    49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50,
    50, 50, 51, 51, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52, 52,
    52, 52, 52, 52, 52, 52, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53,
    53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54,
    54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55,
    55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56,
    56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 56, 57, 57, 57, 57, 57, 57,
    57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 58, 58,
    58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58, 58,
    58, 58, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59,
    59, 59, 59, 59, 59, 59,
};

const uint32_t ts_cls_size[TS_NCLS] = {
    16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480,
    512, 544, 576, 640, 704, 768, 832, 896, 960, 1024, 1056, 1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048, 2080,
    2304, 2560, 2816, 3072, 3328, 3584, 3840, 4096, 4128, 4608, 5120, 5632, 6144, 6656, 7168, 7680, 8192, 9216,
    10240, 11264, 12288, 13312, 14336, 15360, 16384, 18432, 20480, 22528, 24576, 26624, 28672, 30720, 32768, 36864,
    40960, 45056, 49152, 53248, 57344, 61440, 65536, 73728, 81920, 90112, 98304, 106496, 114688, 122880, 131072};

/* A page with no blocks: every sentinel heap's cur[] points here, so the fast path needs no NULL check. */
ts_page_t ts_empty_page;

/* Up to 8 KiB blocks: 64 KiB pages; up to 32 KiB: 256 KiB (at least 8 blocks each). From TS_CLS_SOLO (above
 * 32 KiB) a page holds one block (1 slice up to 64 KiB, else 2), so a freed block's memory goes back to the
 * segment and serves any size: with 1 MiB pages of 8+ blocks, a buffer grown through these classes by realloc
 * left resident blocks in every class it passed (bench realloc mib=256: peak RSS 7.0 MB, now 5.4 MB). */
static unsigned ts_cls_slices(size_t cls) {
  size_t bs = ts_cls_size[cls];
  return bs <= 8192 ? 1 : cls < TS_CLS_SOLO ? 4 : bs <= TS_SLICE_SIZE ? 1 : 2;
}

/* Pages of blocks above TS_HIGH_MIN are placed from the top of a segment, smaller ones from the bottom. A free
 * slice stays resident up to the furthest any of its past pages reached, and a page of 8 KiB blocks reaches far
 * sooner than a page of 48-byte ones; sharing slices made every slice grow to the big pages' reach. Measured on
 * bench threadchurn (short-lived threads, each using a few pages of many classes): peak RSS 2.9 -> 2.3 MiB, glibc
 * 1.8 MiB (A/B 2.8 -> 2.4 MiB). */
#define TS_HIGH_MIN 1024 /* block sizes above this */

/* ---- owner-private page lists; queue[cls].head is mirrored in cur[cls] ---- */
static void ts_q_unlink(ts_queue_t *q, ts_page_t *pg) {
  if (pg->prev) pg->prev->next = pg->next;
  else q->head = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  else q->tail = pg->prev;
  pg->next = pg->prev = NULL;
}
static void ts_q_push_front(ts_queue_t *q, ts_page_t *pg) {
  pg->prev = NULL;
  pg->next = q->head;
  if (q->head) q->head->prev = pg;
  else q->tail = pg;
  q->head = pg;
}
static void ts_q_push_back(ts_queue_t *q, ts_page_t *pg) {
  pg->next = NULL;
  pg->prev = q->tail;
  if (q->tail) q->tail->next = pg;
  else q->head = pg;
  q->tail = pg;
}
static inline void ts_sync_cur(ts_heap_t *h, size_t cls) {
  h->c[cls].cur = h->queue[cls].head ? h->queue[cls].head : &ts_empty_page;
}

static inline void ts_page_set_full(ts_page_t *pg, bool full) {
  pg->in_full = full;
  pg->used = full ? pg->used | TS_USED_FULL : pg->used & ~TS_USED_FULL;
}

static _Noreturn void ts_bad_list(const void *b) { ts_misuse("corrupted free list (write after free?)", b, "malloc"); }

/* Takes the remote frees into pg->free (always when force: that also clears TS_TF_FULL).
 * The list carries its length, so when the page has no free block of its own (the usual case: the slow path
 * collects once the free list ran dry) the list simply becomes the free list. Why: walking it to count was a
 * chain of cache misses on lines another core had just written, 28% of bench prodcons's time, paid again when
 * malloc hands the blocks out. Links are then checked only where a walk happens (joining a non-empty free list);
 * the head and the count always are. Cost: one atomic exchange when remote frees are pending. */
static void ts_page_collect_ex(ts_page_t *pg, bool force) {
  uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
  if (force || (tf & ~TS_TF_FULL)) {
    tf = atomic_exchange_explicit(&pg->thread_free, 0, memory_order_acquire);
    ts_block_t *head = (ts_block_t *)(tf & TS_TF_PTR);
    if (head) {
      uint32_t count = (uint32_t)(tf >> TS_TF_COUNT_SHIFT);
      uintptr_t lo = (uintptr_t)pg->start, span = (uintptr_t)(pg->bump - pg->start);
      if ((uintptr_t)head - lo >= span || count == 0 || count > (pg->used & ~TS_USED_FULL)) ts_bad_list(head);
      if (pg->free) {
        uint32_t n = 1;
        ts_block_t *tail = head;
        for (; tail->next; n++) {
          tail = tail->next;
          if ((uintptr_t)tail - lo >= span || n >= count) ts_bad_list(tail);
        }
        if (n != count) ts_bad_list(head);
        tail->next = pg->free;
      }
      pg->free = head;
      pg->used -= count;
      if (TS_UNLIKELY(ts_stats_on)) ts_stats_remote(-(int64_t)count * pg->block_size);
    }
  }
}
void ts_page_collect(ts_page_t *pg) { ts_page_collect_ex(pg, false); }

/* Carves never-used blocks into the free list, doubling from 256 bytes' worth up to 4 KiB (or one block if
 * larger): a fresh page is touched a little at a time, so a program that needs three blocks of a class does
 * not fault in 64 KiB (carving 16 KiB at once cost small programs about 0.5 MiB of RSS). Cost: a slow-path
 * trip per 4 KiB of new blocks. */
static void ts_page_extend(ts_page_t *pg) {
  size_t bs = pg->block_size;
  size_t n = (size_t)(pg->end - pg->bump) / bs;
  if (n == 0) return;
  size_t want = (size_t)(pg->bump - pg->start) / bs; /* as many as carved so far: doubling */
  if (want < 256 / bs) want = 256 / bs;
  if (want > 4096 / bs) want = 4096 / bs;
  if (want == 0) want = 1;
  if (n > want) n = want;
  uint8_t *p = pg->bump;
  uintptr_t secret = ts_secret; /* loaded once: the tag stores below could alias it */
  for (size_t i = 0; i < n; i++) { /* free blocks, so tagged (free.c) */
    ts_block_t *b = (ts_block_t *)(p + i * bs);
    b->next = i + 1 < n ? (ts_block_t *)(p + (i + 1) * bs) : pg->free;
    b->tag = (uintptr_t)b ^ secret;
  }
  pg->free = (ts_block_t *)p;
  __atomic_store_n(&pg->bump, p + n * bs, __ATOMIC_RELAXED); /* read by remote frees (free.c) */
}

static ts_page_t *ts_page_new(ts_heap_t *h, size_t cls) {
  ts_page_t *pg = ts_segment_page_alloc(h, ts_cls_slices(cls), cls >= TS_CLS_SOLO, ts_cls_size[cls] > TS_HIGH_MIN);
  if (!pg) return NULL;
  size_t bs = ts_cls_size[cls];
  pg->block_size = (uint32_t)bs;
  pg->cls = (uint8_t)cls;
  pg->recip = (((uint64_t)1 << 40) + bs - 1) / bs;
  pg->end = pg->start + ((size_t)(pg->end - pg->start) / bs) * bs;
  pg->bump = pg->start;
  pg->free = NULL;
  pg->used = 0;
  pg->in_full = 0;
  atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
  ts_q_push_front(&h->queue[cls], pg);
  ts_sync_cur(h, cls);
  return pg;
}

/* Moves full pages whose TS_TF_FULL bit a remote free has cleared back to the queue. Runs only after such a
 * free told the heap (notify bit), so full pages are never polled. Cost: one pass over the class's full list. */
static void ts_heap_sweep_full(ts_heap_t *h, size_t cls) {
  uint64_t bit = 1ULL << (cls & 63);
  _Atomic uint64_t *word = &h->notify[cls >> 6];
  if (!(atomic_load_explicit(word, memory_order_relaxed) & bit)) return;
  atomic_fetch_and_explicit(word, ~bit, memory_order_acq_rel);
  for (ts_page_t *pg = h->full[cls].head, *next; pg; pg = next) {
    next = pg->next;
    if (atomic_load_explicit(&pg->thread_free, memory_order_relaxed) == TS_TF_FULL) continue;
    ts_q_unlink(&h->full[cls], pg);
    ts_page_set_full(pg, false);
    ts_page_collect_ex(pg, true);
    ts_q_push_back(&h->queue[cls], pg);
  }
  ts_sync_cur(h, cls);
}

/* A one-block page whose block was just taken goes straight to the full list, so that the block's free takes
 * the slow path, which gives the page back to its segment even while it is the class's current page. */
static void *ts_solo_park(ts_heap_t *h, ts_page_t *pg, size_t cls, void *b) {
  uintptr_t expect = 0;
  if (pg->free ||
      !atomic_compare_exchange_strong_explicit(&pg->thread_free, &expect, TS_TF_FULL, memory_order_acq_rel,
                                               memory_order_relaxed))
    return b;
  ts_q_unlink(&h->queue[cls], pg);
  ts_page_set_full(pg, true);
  ts_q_push_back(&h->full[cls], pg);
  ts_sync_cur(h, cls);
  return b;
}

/* Pops a block in the slow path, the only place a one-block page gives its block (alloc.c sends these classes
 * here), so that it is parked at once. */
static inline void *ts_slow_pop(ts_heap_t *h, ts_page_t *pg, size_t cls) {
  void *b = ts_page_pop(h, pg, cls);
  return cls >= TS_CLS_SOLO ? ts_solo_park(h, pg, cls, b) : b;
}

/* Lending: when a class of 512 B or more has no free block left, a free block of one of the next classes up to
 * 40% larger serves the request (from that class's current page, where the fast path would pop it) before any
 * fresh block is carved. Why: each class's count of live blocks wanders, and a class carves up to its own
 * high-water mark, which lies further above the mean the fewer blocks the class has; classes of a few KiB have
 * few. Lending lets neighbouring classes share that reserve, as a coalescing allocator shares all of it. A/B over
 * 7-11 interleaved runs (lending from 512 B / from 1 KiB / none): peak RSS of bench churn 11.1 / 11.4 / 12.2 MiB,
 * threads 13.9 / 14.3 / 15.6, prodcons 4.0 / 4.2 / 4.6, larson 10.5 / 10.6 / 10.8 (glibc 10.6, 12.6, 3.5, 9.1);
 * time: churn 0.248 / 0.242 / 0.244 s, larson 0.474 / 0.464 / 0.461 s. Lending to every class cost larson 10%:
 * with its frees coming from other threads, a small class short of blocks took the slow path on every malloc
 * instead of carving a batch. Cost: a borrowed block wastes up to 40% while it lives (malloc_usable_size says
 * so), and a class short of blocks takes the slow path per malloc while it borrows.
 * A lender's current page with no free block of its own first takes the blocks other threads freed into it: where
 * every free comes from another thread, a lender's list is as empty as the borrower's and its free blocks wait
 * there (bench prodcons, A/B over 9 and 11 runs: peak RSS 4.85 -> 4.64 and 4.88 -> 4.63 MiB, no change in time;
 * larson, realloc, fragment, threadwork and the real programs unchanged over 5). Lending from up to twice the
 * size as well took prodcons to 4.5 MiB but threadwork from 6.2 to 7.0; from 128 B too, 4.4 MiB, but larson took
 * 24-54% longer. Cost: nothing unless another thread freed into the lender's page; then an atomic exchange. */
#define TS_LEND_MIN 512
static void *ts_borrow(ts_heap_t *h, size_t cls) {
  size_t lim = ts_cls_size[cls] + ts_cls_size[cls] * 2 / 5;
  for (size_t k = cls + 1; k < TS_CLS_SOLO && ts_cls_size[k] <= lim; k++) {
    ts_page_t *pg = h->c[k].cur;
    if (!pg->free) ts_page_collect(pg); /* the sentinel and stand-in pages have no remote frees: a load */
    if (pg->free) return ts_page_pop(h, pg, k);
  }
  return NULL;
}

/* The allocation slow path for a real heap: refill from the queue's pages (collecting their frees), then
 * notified full pages, then (lend) a larger class's free block, then fresh blocks. Also where time-based purging
 * advances. */
void *ts_heap_alloc_slow(ts_heap_t *h, size_t cls, bool lend) {
  if ((++h->slow_count & 7) == 0) ts_heap_tick(h, false);
  ts_queue_t *q = &h->queue[cls];
  ts_page_t *carve = NULL; /* a page with never-used room: carved only when no page has a free block */
  for (int round = 0; round < 2; round++) {
    ts_page_t *pg = q->head;
    while (pg) {
      ts_page_collect(pg);
      /* The shared heap (init.c) has no frees of its own, so its pages empty here: they go back to their segment.
       * Other heaps keep theirs for the blocks to come (returning them too cost bench prodcons 11% more peak RSS,
       * its producers then taking fresh slices for the pages they had just given back). */
      if (pg->used == 0 && pg != q->head && h->kind == TS_HEAP_BACKUP) {
        ts_page_t *next = pg->next;
        ts_q_unlink(q, pg);
        ts_segment_page_free(h, pg);
        pg = next;
        continue;
      }
      if (!pg->free && pg->bump < pg->end) {
        /* Freed blocks in the other pages first: they are resident, fresh blocks are not (carving the head page
         * first cost 4-7% more peak RSS in bench churn, threads and prodcons). */
        if (!carve) carve = pg;
        pg = pg->next;
        continue;
      }
      if (pg->free) {
        if (pg != q->head) {
          ts_q_unlink(q, pg);
          ts_q_push_front(q, pg);
        }
        ts_sync_cur(h, cls);
        return ts_slow_pop(h, pg, cls);
      }
      /* Full: park it on the full list, unless a remote free slipped in (then collect it on the next turn). */
      uintptr_t expect = 0;
      if (!atomic_compare_exchange_strong_explicit(&pg->thread_free, &expect, TS_TF_FULL, memory_order_acq_rel,
                                                   memory_order_relaxed))
        continue;
      ts_page_t *next = pg->next;
      ts_q_unlink(q, pg);
      ts_page_set_full(pg, true);
      ts_q_push_back(&h->full[cls], pg);
      pg = next;
    }
    ts_sync_cur(h, cls);
    if (round == 0) ts_heap_sweep_full(h, cls);
    if (!q->head) break;
  }
  /* Blocks this thread freed into other threads' pages (free.c): resident, so before lending or carving. Their
   * stand-in page becomes current and the fast path pops it until it runs dry. */
  ts_page_t *kept = ts_heap_kept(h, cls);
  if (kept && kept->free) {
    h->c[cls].cur = kept;
    return ts_page_pop(h, kept, cls);
  }
  if (lend && ts_cls_size[cls] >= TS_LEND_MIN) {
    void *b = ts_borrow(h, cls);
    if (b) return b;
  }
  if (carve) {
    ts_page_extend(carve);
    if (carve != q->head) {
      ts_q_unlink(q, carve);
      ts_q_push_front(q, carve);
    }
    ts_sync_cur(h, cls);
    return ts_slow_pop(h, carve, cls);
  }
  ts_page_t *pg = ts_page_new(h, cls);
  if (!pg) return NULL;
  ts_page_extend(pg);
  return ts_slow_pop(h, pg, cls);
}

/* Owner free that needs more than a push: the page left the full list, or it emptied and is not the queue's
 * head. The head stays even while kept blocks serve the class: the slow path comes back to it. */
void ts_page_free_local_slow(ts_heap_t *h, ts_page_t *pg, const char *call) {
  size_t cls = pg->cls;
  if (pg->in_full) {
    uintptr_t tf = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&pg->thread_free, &tf, tf & ~TS_TF_FULL, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
    }
    ts_q_unlink(&h->full[cls], pg);
    ts_page_set_full(pg, false);
    ts_q_push_back(&h->queue[cls], pg);
    ts_sync_cur(h, cls);
  }
  if (TS_UNLIKELY((int32_t)pg->used < 0)) ts_page_report_double_free(pg, pg->free, call);
  if (pg->used == 0 && (h->queue[cls].head != pg || cls >= TS_CLS_SOLO)) {
    ts_q_unlink(&h->queue[cls], pg);
    ts_sync_cur(h, cls);
    ts_segment_page_free(h, pg);
  }
}

/* Adopts an exited thread's segment: collects every page and queues the ones with room, frees the empty ones. */
void ts_heap_adopt_segment(ts_heap_t *h, ts_segment_t *s) {
  /* The blocks in use here were counted live when their heap exited (ts_stats_fold), remote frees not yet
   * collected included, as the heap's own walk counts them (stats.c). */
  if (ts_stats_on) ts_stats_adopted((int64_t)ts_segment_used_bytes(s, false, NULL));
  ts_segment_adopted(h, s);
  for (unsigned i = 0; i < TS_SLICES;) {
    if (!(s->used_slices >> i & 1)) {
      i++;
      continue;
    }
    ts_page_t *pg = &s->pages[i];
    unsigned n = pg->nslices;
    size_t cls = pg->cls;
    pg->next = pg->prev = NULL;
    ts_page_set_full(pg, false);
    ts_page_collect_ex(pg, true);
    if (pg->used == 0) {
      bool last = (s->used_slices & ~(((n == 64 ? ~0ULL : (1ULL << n) - 1)) << i)) == 0;
      ts_segment_page_free(h, pg);
      if (last) return; /* the segment went back to the pool and may already be someone else's */
    } else {
      ts_q_push_back(&h->queue[cls], pg);
      ts_sync_cur(h, cls);
      if (cls >= TS_CLS_SOLO) ts_solo_park(h, pg, cls, NULL);
    }
    i += n;
  }
}

/* Collects every page of the heap; frees the empty ones (all of them, current pages too, when retire_all).
 * Used at thread exit (before abandoning) and by malloc_trim. Cost: one pass over all the heap's pages. */
void ts_heap_collect_all(ts_heap_t *h, bool retire_all) {
  for (size_t cls = 0; cls < TS_NCLS; cls++) {
    for (ts_page_t *pg = h->full[cls].head, *next; pg; pg = next) {
      next = pg->next;
      ts_q_unlink(&h->full[cls], pg);
      ts_page_set_full(pg, false);
      ts_q_push_back(&h->queue[cls], pg);
    }
    for (ts_page_t *pg = h->queue[cls].head, *next; pg; pg = next) {
      next = pg->next;
      ts_page_collect_ex(pg, true);
      if (pg->used == 0 && (retire_all || pg != h->queue[cls].head)) {
        ts_q_unlink(&h->queue[cls], pg);
        ts_segment_page_free(h, pg);
      }
    }
    ts_sync_cur(h, cls);
    /* Pages left in the queue may be full: that is fine, the slow path re-parks them. */
  }
}

/* A pop's extra work, when ts_pop_hook asks for any. The fast path tests one word for both, as it tested the
 * statistics flag alone before.
 * Why a countdown: owners' frees push onto the list malloc pops (free.c), where the block is reused while still in
 * cache (A/B over 10 runs: bench churn 0.265 -> 0.252 s, pair 0.493 -> 0.454 s; tcmalloc 0.205 and 0.512 s).
 * They used to go onto a second list, swapped in when the first ran dry, as mimalloc does. That also brought the
 * slow path, where purging advances, round every so often; a program whose mallocs and frees balance on its
 * current pages now never takes it. So while a pooled segment or a cached large span waits for its purge delay,
 * every TS_BEAT_MALLOCS-th malloc ticks. Without it, bench burst kept 11.4 MiB resident after its idle second
 * (16 mallocs every 50 ms) instead of 3.2 MiB. A heap's own dirty slices do not count (only those it spares
 * beyond the retain limit for being young, segment.c): a program like bench churn nearly always has some, and
 * counting for them took back the whole gain (A/B: churn 0.279 s, against 0.263 s without and 0.277 s before the
 * change). They are purged on the heap's slow paths, at malloc_trim and at thread exit, and no more than
 * TSMALLOC_RETAIN_KB of idle ones wait. Relaxed and racy on purpose: a stale bit costs a purge some delay, never a
 * list. */
#define TS_BEAT_MALLOCS 32
_Atomic unsigned ts_pop_hook;

void *ts_pop_hooked(ts_heap_t *h, size_t cls, void *b) {
  unsigned hook = atomic_load_explicit(&ts_pop_hook, memory_order_relaxed);
  if (hook & TS_HOOK_STATS) {
    h->nmalloc[cls]++;
    /* a kept block leaves the count of blocks freed and not yet back in their pages (free.c) */
    ts_page_t *kept = ts_heap_kept(h, cls);
    if (kept && h->c[cls].cur == kept) ts_stats_remote(-(int64_t)ts_cls_size[cls]);
  }
  if ((hook & TS_HOOK_BEAT) && --h->beat < 0 && h->kind == TS_HEAP_NORMAL) {
    h->beat = TS_BEAT_MALLOCS;
    h->slow_count += 8; /* as 8 slow calls: the statistics sample in ts_heap_tick stays at one tick in 8 */
    ts_heap_tick(h, false);
  }
  return b;
}

void ts_timed_work_update(void) {
  bool pending = ts_pool_pending() || ts_large_pending() || ts_trim_pending() || ts_backup_pending();
  bool set = atomic_load_explicit(&ts_pop_hook, memory_order_relaxed) & TS_HOOK_BEAT;
  /* written only on a change: every thread's malloc reads this line */
  if (pending && !set) atomic_fetch_or_explicit(&ts_pop_hook, TS_HOOK_BEAT, memory_order_relaxed);
  if (!pending && set) atomic_fetch_and_explicit(&ts_pop_hook, ~TS_HOOK_BEAT, memory_order_relaxed);
}

/* Advances time-based work: purging this heap's dirty slices, the pool, the large cache; publishing stats. */
void ts_heap_tick(ts_heap_t *h, bool force) {
  uint64_t now = ts_os_now_ms();
  if (h->purge_head && (force || h->purge_head->purge_at <= now)) ts_heap_purge(h, now, force);
  ts_pool_tick(now, force);
  ts_large_tick(now, force);
  ts_backup_tick(now);
  ts_timed_work_update(); /* mends a stale value left by two threads updating at once */
  /* Every 64th slow call: a walk over the heap's pages. Not once the heap has abandoned its segments at thread
   * exit: its page lists are stale then, and the pages may already be another thread's. */
  if ((force || (h->slow_count & 63) == 0) && (h->avail || h->fullsegs)) ts_stats_publish_live(h);
}
