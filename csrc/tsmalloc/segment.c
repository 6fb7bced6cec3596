/* The arena of 4 MiB segments: slices for pages, the shared pool of free segments, abandonment and purging. */
#include "internal.h"

#include <string.h>

/* The arena is one big MAP_NORESERVE reservation made at start (TSMALLOC_RESERVE_GB, 1 TiB by default, halved
 * until the kernel agrees, down to TS_ARENA_MIN under a tight `ulimit -v`). Untouched pages cost nothing, and
 * every address in it is readable, so free() can tell "mine" from "foreign" with one subtraction and then read
 * the segment header without risk of a fault.
 * Segments are handed out by bumping an offset and are never unmapped, only purged, so a header stays
 * readable for the life of the process. Cost of the check on the free fast path: two loads and a compare. */
uintptr_t ts_arena_lo;
size_t ts_arena_size;
static _Atomic size_t ts_arena_next;
static _Atomic size_t ts_segments_owned;

#define TS_SEG_MAGIC ((uintptr_t)0x7473736567ULL) /* "tsseg" */

/* Free segments shared by all threads, in two lists. Warm ones hold resident slices: most recently freed at the
 * head, purged from the tail once older than the purge delay or when more than the retain limit waits, and then
 * moved to the cold list (singly linked), which is used only when no warm one is left. Why two lists: purged
 * segments used to stay in the one list, and every release and every purge deadline walked past all of them from
 * the tail under the pool lock. When many threads exit at once that is quadratic: bench/programs/manythreads.c
 * with 4000 threads took 1.53 s (glibc 0.19 s), most of it in that walk and in threads spinning on its lock; 0.26 s
 * now. Every warm segment has dirty slices, so both walks stop at the first one they keep. */
static ts_lock_t ts_pool_lock;
static ts_segment_t *ts_pool_head, *ts_pool_tail; /* warm */
static ts_segment_t *ts_pool_cold;
static size_t ts_pool_dirty;
static _Atomic uint64_t ts_pool_deadline = UINT64_MAX;

/* Segments of exited threads that still hold live blocks; a thread that needs a page adopts one. */
static ts_lock_t ts_aband_lock;
static ts_segment_t *ts_aband_head;
static uint32_t ts_aband_gen; /* bumped when a fork child forgets a list another thread was changing */

#define TS_ARENA_MIN ((size_t)64 << 20) /* 16 segments: what a small program under `ulimit -v 200000` gets */
bool ts_arena_init(void) {
  size_t want = (size_t)ts_opt(TS_OPT_RESERVE_GB) << 30;
  for (size_t size = want; size >= TS_ARENA_MIN; size >>= 1) {
    uint8_t *p = ts_os_map(size + TS_SEG_SIZE, true);
    if (!p) continue;
    if (size < want && size >= ((size_t)2 << 30)) {
      /* Under a limit (ulimit -v, overcommit_memory=2, valgrind): take half of what fits, so that large blocks,
       * thread stacks and the program's own mappings still have room. What fits lies between size and twice
       * that: found to 64 MiB by bisection (a dozen map/unmap pairs, once), so a 3 GB limit gives small blocks
       * 1.4 GiB rather than the 1 GiB that half of the power of two gave (glibc, reserving nothing, gets 2.9). */
      ts_os_unmap(p, size + TS_SEG_SIZE);
      size_t fits = size, step = size >> 1;
      for (; step >= TS_ARENA_MIN; step >>= 1) {
        uint8_t *q = ts_os_map(fits + step + TS_SEG_SIZE, true);
        if (!q) continue;
        ts_os_unmap(q, fits + step + TS_SEG_SIZE);
        fits += step;
      }
      size = (fits >> 1) & ~(size_t)TS_SEG_MASK;
      p = ts_os_map(size + TS_SEG_SIZE, true);
      if (!p) continue;
    }
    uintptr_t lo = ((uintptr_t)p + TS_SEG_MASK) & ~(uintptr_t)TS_SEG_MASK;
    if (lo > (uintptr_t)p) ts_os_unmap(p, lo - (uintptr_t)p);
    uintptr_t tail = (uintptr_t)p + size + TS_SEG_SIZE - (lo + size);
    if (tail) ts_os_unmap((void *)(lo + size), tail);
    if (lo + size > TS_TF_ONE) { /* remote-free lists keep a count above bit 47 (internal.h) */
      ts_os_unmap((void *)lo, size);
      return false;
    }
    ts_arena_size = size;
    ts_arena_lo = lo;
    atomic_store(&ts_os_purged_bytes, 0);
    return true;
  }
  return false;
}

/* What the slices of mask may hold resident (ts_segment_t.resident). */
static size_t ts_slice_bytes(const ts_segment_t *s, uint64_t mask) {
  size_t units = 0;
  for (; mask; mask &= mask - 1) units += s->resident[__builtin_ctzll(mask)];
  return units * TS_OS_PAGE;
}
static void ts_slices_purged(ts_segment_t *s, uint64_t mask) {
  for (; mask; mask &= mask - 1) s->resident[__builtin_ctzll(mask)] = 0;
}

/* ---- owner-private segment lists of a heap ---- */
static void ts_list_remove(ts_segment_t **head, ts_segment_t *s) {
  if (s->prev) s->prev->next = s->next;
  else *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}
static void ts_list_push(ts_segment_t **head, ts_segment_t *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
}
static void ts_purge_list_remove(ts_heap_t *h, ts_segment_t *s) {
  if (!s->in_purge) return;
  if (s->pprev) s->pprev->pnext = s->pnext;
  else h->purge_head = s->pnext;
  if (s->pnext) s->pnext->pprev = s->pprev;
  else h->purge_tail = s->pprev;
  s->pnext = s->pprev = NULL;
  s->in_purge = 0;
}
static void ts_purge_list_append(ts_heap_t *h, ts_segment_t *s, uint64_t now) {
  if (s->in_purge) return;
  s->in_purge = 1;
  s->purge_at = now + (uint64_t)ts_opt(TS_OPT_PURGE_DELAY_MS);
  s->pnext = NULL;
  s->pprev = h->purge_tail;
  if (h->purge_tail) h->purge_tail->pnext = s;
  else h->purge_head = s;
  h->purge_tail = s;
}

static size_t ts_retain_bytes(void) { return (size_t)ts_opt(TS_OPT_RETAIN_KB) << 10; }

/* A heap holding more free memory than the retain limit because it is young (ts_heap_purge). */
static _Atomic(ts_heap_t *) ts_trim_waiter;

/* Returns the dirty free slices of an owned segment that mask selects to the OS, one madvise per run of slices. */
static void ts_segment_purge_mask(ts_heap_t *h, ts_segment_t *s, uint64_t mask) {
  uint64_t sel = s->dirty_slices & mask;
  for (uint64_t d = sel; d;) {
    unsigned i = (unsigned)__builtin_ctzll(d);
    unsigned j = i;
    while (j < TS_SLICES && (d >> j & 1)) j++;
    uint8_t *lo = (uint8_t *)s + (size_t)i * TS_SLICE_SIZE + (i == 0 ? TS_HDR_SIZE : 0);
    uint8_t *hi = (uint8_t *)s + (size_t)j * TS_SLICE_SIZE;
    ts_os_purge(lo, (size_t)(hi - lo));
    d &= j >= 64 ? 0 : ~0ULL << j;
  }
  h->dirty_bytes -= ts_slice_bytes(s, sel);
  ts_slices_purged(s, sel);
  s->dirty_slices &= ~sel;
  if (!s->dirty_slices) ts_purge_list_remove(h, s);
}
static void ts_segment_purge(ts_heap_t *h, ts_segment_t *s) { ts_segment_purge_mask(h, s, ~0ULL); }

/* Beyond the retain limit, slices idle at least this long go back to the OS at once, oldest first; younger ones
 * only beyond TS_RETAIN_HARD times the limit. Measured with the coarse clock (ticks of 1-4 ms), so in practice
 * "freed before the current tick". */
#define TS_IDLE_MIN_MS 2u
#define TS_RETAIN_HARD 8u

/* Memory freed this long ago is young: spared up to the hard limit, in a heap and in the pool alike. */
static bool ts_young(uint64_t age_ms) { return age_ms < TS_IDLE_MIN_MS; }

/* How long slice i has been idle, as a power of two of milliseconds: 0 for young. */
static unsigned ts_idle_log2(const ts_segment_t *s, unsigned i, uint32_t now) {
  uint32_t age = now - s->dirty_ms[i];
  return ts_young(age) ? 0u : 32u - (unsigned)__builtin_clz(age);
}

/* Returns dirty slices, those idle longest first, until about target bytes wait; slices freed a moment ago only
 * when young is set. Why not whole segments, oldest first, as before: a program cycling blocks through a few
 * slices has them in one segment, and purging it took the slices about to be reused too. Why spare young ones:
 * memory freed a moment ago is the likeliest to be taken again at once. A thread that frees a megabyte and exits,
 * followed by one that allocates the same, refaulted all of it when the limit purged it (4 threads x 1000 rounds
 * of 1.2 MiB each: 0.76 s with 2 MiB and whole segments, 1.5 s with 512 KiB and no age; 0.25 s now; glibc 0.80 s;
 * at 3.6 MiB a thread: 2.9, 4.7 and 1.2 s, glibc 2.8 s). Ages are grouped by powers of two: two passes over the
 * dirty bits of the segments on the purge list, no sort. */
static void ts_heap_trim(ts_heap_t *h, size_t target, uint32_t now, bool young) {
  size_t bytes[33] = {0};
  for (ts_segment_t *s = h->purge_head; s; s = s->pnext)
    for (uint64_t d = s->dirty_slices; d; d &= d - 1) {
      unsigned i = (unsigned)__builtin_ctzll(d);
      bytes[ts_idle_log2(s, i, now)] += (size_t)s->resident[i] * TS_OS_PAGE;
    }
  size_t excess = h->dirty_bytes - target, sum = 0;
  unsigned floor = young ? 0u : 1u, cut = 32;
  for (; cut > floor; cut--) {
    sum += bytes[cut];
    if (sum >= excess) break;
  }
  for (ts_segment_t *s = h->purge_head, *next; s; s = next) {
    next = s->pnext;
    uint64_t mask = 0;
    for (uint64_t d = s->dirty_slices; d; d &= d - 1) {
      unsigned i = (unsigned)__builtin_ctzll(d);
      if (ts_idle_log2(s, i, now) >= cut) mask |= 1ULL << i;
    }
    if (mask) ts_segment_purge_mask(h, s, mask);
  }
}

/* Purges segments whose delay has passed (all of them when forced); then, beyond the retain limit, idle slices
 * (looked for once per clock tick: what was young stays young within one), and beyond TS_RETAIN_HARD times the
 * limit any. Cost: nothing unless a deadline passed or the limit is crossed; then two passes over the dirty
 * bits of the heap's segments that have some, and a syscall per run of slices returned. */
void ts_heap_purge(ts_heap_t *h, uint64_t now, bool force) {
  while (h->purge_head && (force || h->purge_head->purge_at <= now)) ts_segment_purge(h, h->purge_head);
  size_t retain = ts_retain_bytes();
  if (h->dirty_bytes > retain) {
    uint32_t now32 = (uint32_t)now;
    if (h->dirty_bytes > retain * TS_RETAIN_HARD) {
      ts_heap_trim(h, retain / 2, now32, true);
    } else if (h->trim_ms != now32) {
      h->trim_ms = now32;
      ts_heap_trim(h, retain / 2, now32, false);
    }
  }
  /* Spared young slices must still go, even if this heap frees nothing more: while some wait, the malloc countdown
   * ticks (ts_pop_hooked in page.c), as for the pool, and the purge delay returns them (bench rss.c, 900 MB freed
   * then 0.5 s of light use: 3.4-3.7 MiB left, against 3.6-7.4 without the countdown and 5.3 before the spare).
   * The countdown does not trim (the tick purges only past the delay): trimming there cost bench threadwork 8%.
   * One heap is remembered; another that waits too may take its place, and then the first one's slices wait for
   * its own next slow path. */
  ts_heap_t *waiter = atomic_load_explicit(&ts_trim_waiter, memory_order_relaxed);
  if (h->dirty_bytes > retain && waiter != h) {
    atomic_store_explicit(&ts_trim_waiter, h, memory_order_relaxed);
    ts_timed_work_update();
  } else if (h->dirty_bytes <= retain && waiter == h) {
    atomic_store_explicit(&ts_trim_waiter, NULL, memory_order_relaxed);
    ts_timed_work_update();
  }
}

bool ts_trim_pending(void) { return atomic_load_explicit(&ts_trim_waiter, memory_order_relaxed) != NULL; }

/* ---- the shared pool ---- */
static void ts_pool_push_cold_locked(ts_segment_t *s) {
  s->prev = NULL;
  s->next = ts_pool_cold;
  ts_pool_cold = s;
}

/* Takes a warm segment out of the pool onto *out, to be purged by ts_pool_purge_out once the lock is released:
 * a madvise that shoots down TLB entries on other cores takes long, and threads that exit or start wait for this
 * lock (4000 threads exiting at once, with the walk already gone: 0.29 -> 0.26 s, and sched_yield from 20% of the
 * samples to 4%). Until it is back in the cold list, no thread can take it. */
static void ts_pool_detach_locked(ts_segment_t *s, ts_segment_t **out) {
  ts_pool_dirty -= ts_slice_bytes(s, s->dirty_slices);
  s->dirty_slices = 0;
  if (s->prev) s->prev->next = s->next;
  else ts_pool_head = s->next;
  if (s->next) s->next->prev = s->prev;
  else ts_pool_tail = s->prev;
  s->prev = NULL;
  s->next = *out;
  *out = s;
}

/* Returns the detached segments' memory to the OS and puts them on the cold list. */
static void ts_pool_purge_out(ts_segment_t *list) {
  if (!list) return;
  ts_segment_t *last = list;
  for (ts_segment_t *s = list; s; s = s->next) {
    /* The first OS page keeps the pool links and the magic; the rest, page descriptors included, goes. */
    ts_os_purge((uint8_t *)s + TS_OS_PAGE, TS_SEG_SIZE - TS_OS_PAGE);
    ts_slices_purged(s, ~0ULL);
    last = s;
  }
  ts_lock(&ts_pool_lock);
  last->next = ts_pool_cold;
  ts_pool_cold = list;
  ts_unlock(&ts_pool_lock);
}

static void ts_pool_update_deadline_locked(uint64_t now, bool force, ts_segment_t **out) {
  uint64_t deadline = UINT64_MAX;
  for (ts_segment_t *s = ts_pool_tail, *prev; s; s = prev) {
    prev = s->prev;
    if (force || s->purge_at <= now) {
      ts_pool_detach_locked(s, out);
      continue;
    }
    deadline = s->purge_at;
    break;
  }
  atomic_store_explicit(&ts_pool_deadline, deadline, memory_order_relaxed);
  ts_timed_work_update();
}

bool ts_pool_pending(void) { return atomic_load_explicit(&ts_pool_deadline, memory_order_relaxed) != UINT64_MAX; }

void ts_pool_tick(uint64_t now, bool force) {
  if (!force && now < atomic_load_explicit(&ts_pool_deadline, memory_order_relaxed)) return;
  ts_segment_t *out = NULL;
  ts_lock(&ts_pool_lock);
  ts_pool_update_deadline_locked(now, force, &out);
  ts_unlock(&ts_pool_lock);
  ts_pool_purge_out(out);
}

static void ts_segment_release(ts_heap_t *h, ts_segment_t *s, uint64_t now) {
  if (s->in_avail) ts_list_remove(&h->avail, s);
  else ts_list_remove(&h->fullsegs, s);
  s->in_avail = 0;
  ts_purge_list_remove(h, s);
  h->dirty_bytes -= ts_slice_bytes(s, s->dirty_slices);
  atomic_store_explicit(&s->heap, NULL, memory_order_relaxed);
  __atomic_store_n(&s->state, TS_SEG_FREE, __ATOMIC_RELAXED);
  uint64_t delay = (uint64_t)ts_opt(TS_OPT_PURGE_DELAY_MS);
  s->purge_at = now + delay;
  atomic_fetch_sub_explicit(&ts_segments_owned, 1, memory_order_relaxed);
  size_t retain = ts_retain_bytes();
  ts_segment_t *out = NULL; /* to purge once the lock is released */
  ts_lock(&ts_pool_lock);
  if (!s->dirty_slices) {
    ts_pool_push_cold_locked(s);
    ts_unlock(&ts_pool_lock);
    return;
  }
  s->prev = NULL;
  s->next = ts_pool_head;
  if (ts_pool_head) ts_pool_head->prev = s;
  else ts_pool_tail = s;
  ts_pool_head = s;
  ts_pool_dirty += ts_slice_bytes(s, s->dirty_slices);
  if (delay == 0 || ts_pool_dirty > retain) {
    /* As in a heap (ts_heap_trim): a segment released a moment ago is spared up to the hard limit. Most often
     * it is the segment of a thread that just exited, and the next thread to start takes it. Towards the head
     * segments were released later, so the walk stops at the first young one. */
    bool young = delay == 0 || ts_pool_dirty > retain * TS_RETAIN_HARD;
    for (ts_segment_t *t = ts_pool_tail, *prev; t && ts_pool_dirty > retain / 2; t = prev) {
      prev = t->prev;
      uint64_t released = t->purge_at - delay; /* by another thread's clock read: it may be ahead of now */
      if (!young && (now < released || ts_young(now - released))) break;
      ts_pool_detach_locked(t, &out);
    }
    if (delay == 0 && s->dirty_slices) ts_pool_detach_locked(s, &out);
  }
  if (atomic_load_explicit(&ts_pool_deadline, memory_order_relaxed) == UINT64_MAX && s->dirty_slices) {
    atomic_store_explicit(&ts_pool_deadline, s->purge_at, memory_order_relaxed);
    ts_timed_work_update();
  }
  ts_unlock(&ts_pool_lock);
  ts_pool_purge_out(out);
}

static ts_segment_t *ts_segment_new(ts_heap_t *h, uint64_t now) {
  ts_segment_t *s = NULL;
  uint64_t dirty = 0;
  ts_lock(&ts_pool_lock);
  if (ts_pool_head) {
    s = ts_pool_head;
    ts_pool_head = s->next;
    if (ts_pool_head) ts_pool_head->prev = NULL;
    else ts_pool_tail = NULL;
    dirty = s->dirty_slices;
    ts_pool_dirty -= ts_slice_bytes(s, dirty);
  } else if (ts_pool_cold) {
    s = ts_pool_cold;
    ts_pool_cold = s->next;
  }
  ts_unlock(&ts_pool_lock);
  if (!s) {
    size_t off = atomic_fetch_add_explicit(&ts_arena_next, TS_SEG_SIZE, memory_order_relaxed);
    if (off + TS_SEG_SIZE > ts_arena_size) return NULL; /* the reservation is used up: ENOMEM */
    s = (ts_segment_t *)(ts_arena_lo + off);
  }
  /* Only the fields before slice_page are cleared: resident[] tells what a pooled segment's dirty slices hold, and
   * every page descriptor was reset when its page was freed (ts_segment_page_free); a fresh segment is all zero.
   * Clearing the whole header faulted in its two other OS pages in every program (pages[] is 8 KiB). */
  memset(s, 0, offsetof(ts_segment_t, slice_page));
  s->magic = TS_SEG_MAGIC ^ (uintptr_t)s;
  __atomic_store_n(&s->state, TS_SEG_OWNED, __ATOMIC_RELAXED);
  __atomic_store_n(&s->no_reclaim, 0, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < TS_SLICES; i++) s->slice_page[i] = (uint8_t)i;
  atomic_store_explicit(&s->heap, h, memory_order_release);
  atomic_fetch_add_explicit(&ts_segments_owned, 1, memory_order_relaxed);
  s->in_avail = 1;
  ts_list_push(&h->avail, s);
  if (dirty) {
    s->dirty_slices = dirty;
    h->dirty_bytes += ts_slice_bytes(s, dirty);
    ts_purge_list_append(h, s, now);
  }
  return s;
}

/* First (or with high, last) slice of a free aligned run of n slices (1, 2, 4 or 16), preferring slices still
 * resident; -1 if none. whole: the page needs all of its slices, so not slice 0, whose first TS_HDR_SIZE bytes are
 * the header. */
static int ts_find_run(const ts_segment_t *s, unsigned n, bool whole, bool high) {
  uint64_t f = ~s->used_slices, m;
  if (n == 1) {
    m = f;
  } else {
    m = f & (f >> 1);
    if (n == 2) {
      m &= 0x5555555555555555ULL;
    } else {
      m &= m >> 2;
      if (n == 16) {
        m &= m >> 4;
        m &= m >> 8;
        m &= 0x0001000100010001ULL;
      } else {
        m &= 0x1111111111111111ULL;
      }
    }
  }
  if (n > 1 || whole) m &= ~1ULL; /* slice 0 carries the header: only a short 1-slice page fits there */
  uint64_t warm = m & s->dirty_slices;
  if (warm) m = warm;
  if (!m) return -1;
  return high ? 63 - __builtin_clzll(m) : __builtin_ctzll(m);
}

static ts_page_t *ts_segment_take(ts_heap_t *h, ts_segment_t *s, unsigned i, unsigned n) {
  uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << i;
  s->used_slices |= mask;
  uint64_t d = s->dirty_slices & mask;
  if (d) {
    s->dirty_slices &= ~mask;
    h->dirty_bytes -= ts_slice_bytes(s, d);
    if (!s->dirty_slices) ts_purge_list_remove(h, s);
  }
  if (s->used_slices == ~0ULL) {
    ts_list_remove(&h->avail, s);
    s->in_avail = 0;
    ts_list_push(&h->fullsegs, s);
  }
  for (unsigned k = i; k < i + n; k++) s->slice_page[k] = (uint8_t)i;
  ts_page_t *pg = &s->pages[i];
  pg->nslices = (uint8_t)n;
  atomic_store_explicit(&pg->heap, h, memory_order_release);
  pg->start = (uint8_t *)s + (size_t)i * TS_SLICE_SIZE + (i == 0 ? TS_HDR_SIZE : 0);
  pg->end = (uint8_t *)s + (size_t)(i + n) * TS_SLICE_SIZE; /* page.c trims to whole blocks */
  return pg;
}

/* A page of n slices for heap h: from its own segments, an exited thread's segment, the pool or the arena.
 * Cost: a bitmap search per segment looked at (few); a lock only when a segment changes hands. */
ts_page_t *ts_segment_page_alloc(ts_heap_t *h, unsigned n, bool whole, bool high) {
  for (int adopted = 0;; adopted++) {
    int tries = 0;
    for (ts_segment_t *s = h->avail; s && tries < 8; s = s->next, tries++) {
      int i = ts_find_run(s, n, whole, high);
      if (i >= 0) return ts_segment_take(h, s, (unsigned)i, n);
    }
    if (adopted >= 4) break;
    ts_segment_t *a = ts_abandoned_pop();
    if (!a) break;
    ts_heap_adopt_segment(h, a);
  }
  ts_segment_t *s = ts_segment_new(h, ts_os_now_ms());
  if (!s) return NULL;
  int i = ts_find_run(s, n, whole, high);
  return ts_segment_take(h, s, (unsigned)i, n);
}

/* Gives an empty page's slices back to its segment (dirty), and an empty segment back to the pool. */
void ts_segment_page_free(ts_heap_t *h, ts_page_t *pg) {
  ts_page_check_empty(pg);
  ts_segment_t *s = ts_segment_of(pg);
  unsigned i = (unsigned)(pg - s->pages), n = pg->nslices;
  uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << i;
  /* The page touched its slices up to bump (carving writes the free-list links): the slices keep at least that. */
  size_t reach = (size_t)(pg->bump - ((uint8_t *)s + (size_t)i * TS_SLICE_SIZE));
  for (unsigned k = 0; k < n; k++) {
    size_t ext = reach <= k * TS_SLICE_SIZE ? 0 : reach - k * TS_SLICE_SIZE;
    if (ext > TS_SLICE_SIZE) ext = TS_SLICE_SIZE;
    uint8_t units = (uint8_t)((ext + TS_OS_PAGE - 1) / TS_OS_PAGE);
    if (units > s->resident[i + k]) s->resident[i + k] = units;
  }
  uint64_t now = ts_os_now_ms();
  for (unsigned k = i; k < i + n; k++) {
    s->slice_page[k] = (uint8_t)k;
    s->dirty_ms[k] = (uint32_t)now; /* segments change hands with these: one clock for all threads */
  }
  pg->block_size = 0;
  pg->start = pg->bump = pg->end = NULL;
  atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
  pg->free = NULL;
  pg->used = 0;
  pg->recip = 0;
  pg->in_full = 0;
  atomic_store_explicit(&pg->thread_free, 0, memory_order_relaxed);
  bool was_full = s->used_slices == ~0ULL;
  s->used_slices &= ~mask;
  s->dirty_slices |= mask;
  h->dirty_bytes += ts_slice_bytes(s, mask);
  if (was_full) {
    ts_list_remove(&h->fullsegs, s);
    ts_list_push(&h->avail, s);
    s->in_avail = 1;
  }
  if (s->used_slices == 0) {
    ts_segment_release(h, s, now);
  } else {
    ts_purge_list_append(h, s, now);
    if (ts_opt(TS_OPT_PURGE_DELAY_MS) == 0) ts_segment_purge(h, s);
  }
  ts_heap_purge(h, now, false);
}

/* Thread exit: every segment still holding blocks is put on the abandoned list, where remote frees keep
 * landing (atomically) until another thread adopts it, dirty slices and all. Nothing is purged here: a program
 * that churns threads would pay a TLB-shootdown madvise per thread exit (measured: 80% of its time), and the
 * next thread adopts the resident memory instead. Empty segments went to the pool already. */
void ts_segments_abandon(ts_heap_t *h) {
  while (h->purge_head) ts_purge_list_remove(h, h->purge_head);
  h->dirty_bytes = 0;
  ts_heap_t *me = h;
  if (atomic_compare_exchange_strong(&ts_trim_waiter, &me, NULL)) ts_timed_work_update();
  ts_segment_t *lists[2] = {h->avail, h->fullsegs};
  h->avail = h->fullsegs = NULL;
  for (int l = 0; l < 2; l++) {
    for (ts_segment_t *s = lists[l], *next; s; s = next) {
      next = s->next;
      s->in_avail = 0;
      atomic_store_explicit(&s->heap, NULL, memory_order_release);
      for (unsigned i = 0; i < TS_SLICES; i++)
        if (s->used_slices >> i & 1 && s->slice_page[i] == i)
          atomic_store_explicit(&s->pages[i].heap, NULL, memory_order_release);
      ts_abandoned_put_back(s);
    }
  }
}

/* The state changes with the list, under its lock: ABANDONED in the list's current generation means "on the list"
 * to ts_abandoned_take. */
void ts_abandoned_put_back(ts_segment_t *s) {
  ts_lock(&ts_aband_lock);
  __atomic_store_n(&s->state, TS_SEG_ABANDONED, __ATOMIC_RELAXED);
  s->aband_gen = ts_aband_gen;
  s->prev = NULL;
  s->next = ts_aband_head;
  if (ts_aband_head) ts_aband_head->prev = s;
  __atomic_store_n(&ts_aband_head, s, __ATOMIC_RELAXED); /* peeked without the lock */
  ts_unlock(&ts_aband_lock);
}

static void ts_abandoned_unlink_locked(ts_segment_t *s) {
  if (s->prev) s->prev->next = s->next;
  else __atomic_store_n(&ts_aband_head, s->next, __ATOMIC_RELAXED);
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  __atomic_store_n(&s->state, TS_SEG_OWNED, __ATOMIC_RELAXED); /* claimed: the caller adopts it */
}

ts_segment_t *ts_abandoned_pop(void) {
  if (!__atomic_load_n(&ts_aband_head, __ATOMIC_RELAXED)) return NULL; /* cheap peek; the lock decides */
  ts_lock(&ts_aband_lock);
  ts_segment_t *s = ts_aband_head;
  if (s) ts_abandoned_unlink_locked(s);
  ts_unlock(&ts_aband_lock);
  return s;
}

bool ts_abandoned_take(ts_segment_t *s) {
  ts_lock(&ts_aband_lock);
  bool listed = __atomic_load_n(&s->state, __ATOMIC_RELAXED) == TS_SEG_ABANDONED && s->aband_gen == ts_aband_gen;
  if (listed) ts_abandoned_unlink_locked(s);
  ts_unlock(&ts_aband_lock);
  return listed;
}

void ts_segment_adopted(ts_heap_t *h, ts_segment_t *s) {
  __atomic_store_n(&s->state, TS_SEG_OWNED, __ATOMIC_RELAXED);
  __atomic_store_n(&s->no_reclaim, 0, __ATOMIC_RELAXED);
  atomic_store_explicit(&s->heap, h, memory_order_release);
  for (unsigned i = 0; i < TS_SLICES; i++)
    if (s->used_slices >> i & 1 && s->slice_page[i] == i)
      atomic_store_explicit(&s->pages[i].heap, h, memory_order_release);
  if (s->used_slices == ~0ULL) {
    s->in_avail = 0;
    ts_list_push(&h->fullsegs, s);
  } else {
    s->in_avail = 1;
    ts_list_push(&h->avail, s);
  }
  if (s->dirty_slices) {
    /* An exited thread's free slices count as idle since long ago, so they are returned first. Bench larson
     * (its threads are replaced every 2 ms), A/B over 7 runs: peak RSS 11.1 -> 10.9 MiB with this. */
    uint64_t now = ts_os_now_ms();
    uint32_t long_ago = (uint32_t)now - (1u << 30);
    for (uint64_t d = s->dirty_slices; d; d &= d - 1) s->dirty_ms[__builtin_ctzll(d)] = long_ago;
    h->dirty_bytes += ts_slice_bytes(s, s->dirty_slices);
    ts_purge_list_append(h, s, now);
  }
}

size_t ts_segment_mapped_bytes(void) { return atomic_load(&ts_segments_owned) * TS_SEG_SIZE; }

/* Blocks on a page's remote-free list: the count the list carries (internal.h). */
static uint32_t ts_page_pending_remote(const ts_page_t *pg) {
  return (uint32_t)(atomic_load_explicit(&pg->thread_free, memory_order_relaxed) >> TS_TF_COUNT_SHIFT);
}

/* Used blocks x block size over the pages of s; with less_remote, less the blocks other threads freed and the
 * owner has not collected yet; with per_class, also the count per class. Other threads may change these fields
 * meanwhile: each read is a single relaxed load, so the sum is approximate (as mallinfo is) but never reads freed
 * memory (segments are never unmapped). */
size_t ts_segment_used_bytes(const ts_segment_t *s, bool less_remote, uint64_t *per_class) {
  size_t total = 0;
  uint64_t used = __atomic_load_n(&s->used_slices, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < TS_SLICES; i++) {
    if (!(used >> i & 1) || __atomic_load_n(&s->slice_page[i], __ATOMIC_RELAXED) != i) continue;
    const ts_page_t *pg = &s->pages[i];
    uint32_t n = __atomic_load_n(&pg->used, __ATOMIC_RELAXED) & ~TS_USED_FULL;
    uint32_t bs = __atomic_load_n(&pg->block_size, __ATOMIC_RELAXED);
    if (!bs) continue;
    if (less_remote) {
      uint32_t pending = ts_page_pending_remote(pg);
      n = n > pending ? n - pending : 0;
    }
    total += (size_t)n * bs;
    uint8_t cls = __atomic_load_n(&pg->cls, __ATOMIC_RELAXED);
    if (per_class && cls < TS_NCLS) per_class[cls] += n;
  }
  return total;
}

/* The same over every segment handed out so far, remote frees not yet collected and kept blocks taken out.
 * Cost: a pass over the segment headers and the heaps, on mallinfo/malloc_stats/malloc_info and the statistics
 * report only. */
size_t ts_segment_live_bytes(uint64_t *per_class) {
  size_t total = 0, end = atomic_load_explicit(&ts_arena_next, memory_order_relaxed);
  if (end > ts_arena_size) end = ts_arena_size;
  for (size_t off = 0; off < end; off += TS_SEG_SIZE) {
    const ts_segment_t *s = (const ts_segment_t *)(ts_arena_lo + off);
    if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) == TS_SEG_FREE) continue;
    total += ts_segment_used_bytes(s, true, per_class);
  }
  /* Blocks kept by the threads that freed them (free.c) count as used in their pages: they are free. */
  uint64_t kept[TS_NCLS] = {0};
  size_t kept_bytes = ts_kept_bytes(per_class ? kept : NULL);
  if (per_class)
    for (size_t c = 0; c < TS_NCLS; c++) per_class[c] = per_class[c] > kept[c] ? per_class[c] - kept[c] : 0;
  return total > kept_bytes ? total - kept_bytes : 0;
}

/* fork() in a threaded program: another thread may have held a lock at that instant. Its structure may be
 * half-updated, so the child forgets it (leaking what it held: those segments stay reserved, never reused). */
void ts_segment_after_fork_child(void) {
  /* The heap waiting to trim may be another thread's, which the child never runs: forget it (the next tick then
   * clears the malloc countdown). If it was this thread's, its young slices wait for its next slow path. */
  atomic_store_explicit(&ts_trim_waiter, NULL, memory_order_relaxed);
  if (atomic_load(&ts_pool_lock.v)) {
    ts_pool_head = ts_pool_tail = ts_pool_cold = NULL;
    ts_pool_dirty = 0;
    atomic_store(&ts_pool_deadline, UINT64_MAX);
    ts_unlock(&ts_pool_lock);
  }
  if (atomic_load(&ts_aband_lock.v)) {
    ts_aband_head = NULL;
    ts_aband_gen++; /* the forgotten segments still say ABANDONED: ts_abandoned_take must not unlink them */
    ts_unlock(&ts_aband_lock);
  }
}
