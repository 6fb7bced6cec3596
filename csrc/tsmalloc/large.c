/* Blocks above 128 KiB: one mapping each, a page map to recognise them, and a decaying cache of freed spans. */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* Layout: [header page][block ...]. The block is page aligned and the header sits in the page before it, so
 * finding it is a subtraction; the 4 KiB it costs is under 3% of the smallest large block.
 *
 * The page map marks the page of every live large block with one byte, in two levels (1 GiB leaves of 256 KiB,
 * mapped on first use and never freed: untouched leaf pages cost nothing). free() of a pointer outside the
 * arena asks it before touching any memory, so a foreign pointer is reported instead of dereferenced.
 *
 * The cache keeps freed spans mapped, most recent first, up to TSMALLOC_LARGE_CACHE_MB. A request takes the
 * smallest span that fits and gives the tail of a much larger one back to the cache, so churn of mixed large
 * sizes reuses resident pages instead of faulting fresh ones in (jemalloc and mimalloc pay that 7x on this
 * workload). Spans unused for TSMALLOC_PURGE_DELAY_MS are unmapped by the next allocator call that looks. */

typedef struct {
  uintptr_t magic; /* TS_LARGE_MAGIC ^ block address */
  size_t map_size; /* bytes mapped, header page included */
} ts_large_hdr_t;

#define TS_LARGE_MAGIC ((uintptr_t)0x74736c61726765ULL) /* "tslarge" */
#define TS_PM_LEAF_BITS 18                               /* 2^18 pages of 4 KiB = 1 GiB per leaf */
#define TS_PM_TOP (1u << (47 - 30))

static _Atomic(uint8_t *) ts_pm_top[TS_PM_TOP];

static uint8_t *ts_pm_leaf(uintptr_t a, bool create) {
  if (a >> 47) return NULL;
  _Atomic(uint8_t *) *slot = &ts_pm_top[a >> 30];
  uint8_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
  if (leaf || !create) return leaf;
  uint8_t *fresh = ts_os_map((size_t)1 << TS_PM_LEAF_BITS, true);
  if (!fresh) return NULL;
  if (!atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel, memory_order_acquire)) {
    ts_os_unmap(fresh, (size_t)1 << TS_PM_LEAF_BITS);
    return leaf;
  }
  return fresh;
}
static bool ts_pm_set(uintptr_t a, uint8_t v) {
  uint8_t *leaf = ts_pm_leaf(a, v != 0);
  if (!leaf) return v == 0;
  __atomic_store_n(&leaf[(a >> 12) & ((1u << TS_PM_LEAF_BITS) - 1)], v, __ATOMIC_RELEASE);
  return true;
}
static bool ts_pm_get(uintptr_t a) {
  uint8_t *leaf = ts_pm_leaf(a, false);
  return leaf && __atomic_load_n(&leaf[(a >> 12) & ((1u << TS_PM_LEAF_BITS) - 1)], __ATOMIC_ACQUIRE) != 0;
}
bool ts_large_owns(const void *p) { return ((uintptr_t)p & (TS_OS_PAGE - 1)) == 0 && ts_pm_get((uintptr_t)p); }

/* ---- the cache of freed spans ---- */
#define TS_LC_SLOTS 64
typedef struct {
  uint8_t *base;
  size_t size;
  uint64_t when; /* ms when freed */
} ts_lc_entry_t;

static ts_lock_t ts_lc_lock;
static ts_lc_entry_t ts_lc[TS_LC_SLOTS]; /* ordered oldest first */
static int ts_lc_n;
static size_t ts_lc_bytes;
static _Atomic uint64_t ts_lc_deadline = UINT64_MAX;
static _Atomic size_t ts_large_live_count, ts_large_live_bytes;

static void ts_lc_remove_locked(int i) {
  ts_lc_bytes -= ts_lc[i].size;
  memmove(&ts_lc[i], &ts_lc[i + 1], (size_t)(ts_lc_n - i - 1) * sizeof ts_lc[0]);
  ts_lc_n--;
}
static void ts_lc_update_deadline_locked(void) {
  uint64_t d = ts_lc_n ? ts_lc[0].when + (uint64_t)ts_opt(TS_OPT_PURGE_DELAY_MS) : UINT64_MAX;
  atomic_store_explicit(&ts_lc_deadline, d, memory_order_relaxed);
  ts_timed_work_update();
}
bool ts_large_pending(void) { return atomic_load_explicit(&ts_lc_deadline, memory_order_relaxed) != UINT64_MAX; }
static void ts_lc_insert_locked(uint8_t *base, size_t size, uint64_t now) {
  ts_lc[ts_lc_n].base = base;
  ts_lc[ts_lc_n].size = size;
  ts_lc[ts_lc_n].when = now;
  ts_lc_n++;
  ts_lc_bytes += size;
}

/* Takes the smallest cached span of at least need bytes and splits off a tail of 256 KiB or more for the cache;
 * without one, the largest smaller span, which the caller grows with mremap: its resident pages come along, so
 * only the difference faults in. */
static uint8_t *ts_lc_take(size_t need, size_t *size_out) {
  if (atomic_load_explicit(&ts_lc_deadline, memory_order_relaxed) == UINT64_MAX) return NULL; /* empty */
  ts_lock(&ts_lc_lock);
  int best = -1, below = -1;
  for (int i = 0; i < ts_lc_n; i++) {
    if (ts_lc[i].size >= need) {
      if (best < 0 || ts_lc[i].size < ts_lc[best].size) best = i;
    } else if (below < 0 || ts_lc[i].size > ts_lc[below].size) {
      below = i;
    }
  }
  if (best < 0) best = below;
  uint8_t *base = NULL;
  if (best >= 0) {
    ts_lc_entry_t e = ts_lc[best];
    ts_lc_remove_locked(best);
    base = e.base;
    *size_out = e.size;
    if (e.size > need && e.size - need >= ((size_t)256 << 10)) {
      ts_lc_insert_locked(e.base + need, e.size - need, e.when);
      *size_out = need;
    }
    ts_lc_update_deadline_locked();
  }
  ts_unlock(&ts_lc_lock);
  return base;
}

static bool ts_lc_contains(uintptr_t base) {
  bool found = false;
  ts_lock(&ts_lc_lock);
  for (int i = 0; i < ts_lc_n && !found; i++)
    found = base >= (uintptr_t)ts_lc[i].base && base < (uintptr_t)ts_lc[i].base + ts_lc[i].size;
  ts_unlock(&ts_lc_lock);
  return found;
}

/* Puts a span in the cache, evicting the oldest to stay under the limit; unmaps outside the lock. */
static void ts_lc_put(uint8_t *base, size_t size) {
  size_t limit = (size_t)ts_opt(TS_OPT_LARGE_CACHE_MB) << 20;
  if (size > limit || ts_opt(TS_OPT_PURGE_DELAY_MS) == 0) {
    ts_os_unmap(base, size);
    return;
  }
  ts_lc_entry_t evict[TS_LC_SLOTS];
  int ne = 0;
  uint64_t now = ts_os_now_ms();
  ts_lock(&ts_lc_lock);
  /* Coalesce with cached neighbours (pieces of an earlier split, or mappings the kernel placed side by side),
   * so that big requests still find big spans after many small ones were cut out. */
  for (int i = 0; i < ts_lc_n;) {
    if (ts_lc[i].base + ts_lc[i].size == base) {
      base = ts_lc[i].base;
      size += ts_lc[i].size;
      ts_lc_remove_locked(i);
    } else if (base + size == ts_lc[i].base) {
      size += ts_lc[i].size;
      ts_lc_remove_locked(i);
    } else {
      i++;
    }
  }
  if (size > limit) {
    /* Side-by-side mappings merged past the limit (40 freed blocks of 50 MB kept 2 GB resident): let it all go. */
    ts_lc_update_deadline_locked();
    ts_unlock(&ts_lc_lock);
    ts_os_unmap(base, size);
    return;
  }
  while (ts_lc_n > 0 && (ts_lc_n == TS_LC_SLOTS || ts_lc_bytes + size > limit)) {
    evict[ne++] = ts_lc[0];
    ts_lc_remove_locked(0);
  }
  ts_lc_insert_locked(base, size, now);
  ts_lc_update_deadline_locked();
  ts_unlock(&ts_lc_lock);
  for (int i = 0; i < ne; i++) ts_os_unmap(evict[i].base, evict[i].size);
}

/* Unmaps spans older than the purge delay (all when forced). Cost when nothing is due: one relaxed load. */
void ts_large_tick(uint64_t now, bool force) {
  if (!force && now < atomic_load_explicit(&ts_lc_deadline, memory_order_relaxed)) return;
  ts_lc_entry_t evict[TS_LC_SLOTS];
  int ne = 0;
  uint64_t delay = (uint64_t)ts_opt(TS_OPT_PURGE_DELAY_MS);
  ts_lock(&ts_lc_lock);
  while (ts_lc_n > 0 && (force || ts_lc[0].when + delay <= now)) {
    evict[ne++] = ts_lc[0];
    ts_lc_remove_locked(0);
  }
  ts_lc_update_deadline_locked();
  ts_unlock(&ts_lc_lock);
  for (int i = 0; i < ne; i++) ts_os_unmap(evict[i].base, evict[i].size);
}

static void *ts_large_finish(uint8_t *base, size_t size) {
  uint8_t *user = base + TS_LARGE_HDR;
  ts_large_hdr_t *hdr = (ts_large_hdr_t *)base;
  hdr->magic = TS_LARGE_MAGIC ^ (uintptr_t)user;
  hdr->map_size = size;
  if (!ts_pm_set((uintptr_t)user, 1)) {
    ts_os_unmap(base, size);
    return NULL;
  }
  atomic_fetch_add_explicit(&ts_large_live_count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ts_large_live_bytes, size, memory_order_relaxed);
  ts_stats_large((int64_t)size);
  ts_heap_t *h = ts_tls_heap;
  if (h->kind == TS_HEAP_NORMAL) h->large_count++;
  return user;
}

/* A large block of n bytes aligned to align (a power of two, at least 4 KiB); zero asks for zeroed memory. */
void *ts_large_alloc(size_t n, size_t align, bool zero) {
  if (n > SIZE_MAX / 2 || align > SIZE_MAX / 4) return NULL;
  size_t need = ((n + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1)) + TS_LARGE_HDR;
  if (n == 0) need += TS_OS_PAGE; /* memalign(64 KiB, 0): the block still gets its own page */
  ts_large_tick(ts_os_now_ms(), false);
  if (align <= TS_OS_PAGE) {
    size_t size;
    uint8_t *base = ts_lc_take(need, &size);
    if (base && size < need) {
      uint8_t *grown = ts_os_remap(base, size, need, true);
      if (!grown) ts_os_unmap(base, size);
      base = grown;
      size = need;
    }
    if (base) {
      /* calloc: a reused span is zeroed by writing it up to 1 MiB, and above that by handing its pages back
       * (MADV_DONTNEED), so they come back as zero pages only where the program touches them, as a fresh mapping
       * would: memset made calloc(64 MB) with two pages used hold 65 MB resident. */
      if (zero && n < ((size_t)1 << 20)) memset(base + TS_LARGE_HDR, 0, n);
      else if (zero && !ts_os_purge(base + TS_LARGE_HDR, size - TS_LARGE_HDR)) memset(base + TS_LARGE_HDR, 0, n);
      return ts_large_finish(base, size);
    }
    base = ts_os_map(need, false);
    return base ? ts_large_finish(base, need) : NULL;
  }
  uint8_t *raw = ts_os_map(need + align, false);
  if (!raw) return NULL;
  uintptr_t user = ((uintptr_t)raw + TS_LARGE_HDR + align - 1) & ~(align - 1);
  uint8_t *base = (uint8_t *)(user - TS_LARGE_HDR);
  if (base > raw) ts_os_unmap(raw, (size_t)(base - raw));
  size_t tail = (size_t)(raw + need + align - (base + need));
  if (tail) ts_os_unmap(base + need, tail);
  return ts_large_finish(base, need);
}

/* Header of a live large block, or a misuse report: a double free if the span sits in the cache. */
static ts_large_hdr_t *ts_large_hdr(const void *p, const char *call, const char *freed_error) {
  uintptr_t a = (uintptr_t)p;
  if (!ts_large_owns(p)) {
    if ((a & (TS_OS_PAGE - 1)) == 0 && ts_lc_contains(a - TS_LARGE_HDR)) ts_misuse(freed_error, p, call);
    ts_report_foreign(p, call);
  }
  ts_large_hdr_t *hdr = (ts_large_hdr_t *)(a - TS_LARGE_HDR);
  if (hdr->magic != (TS_LARGE_MAGIC ^ a)) ts_misuse("corrupted large block header", p, call);
  return hdr;
}

void ts_large_free(void *p, const char *call) {
  ts_large_hdr_t *hdr = ts_large_hdr(p, call, "double free");
  size_t size = hdr->map_size;
  hdr->magic = 0;
  ts_pm_set((uintptr_t)p, 0);
  atomic_fetch_sub_explicit(&ts_large_live_count, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&ts_large_live_bytes, size, memory_order_relaxed);
  ts_stats_large(-(int64_t)size);
  ts_lc_put((uint8_t *)hdr, size);
}

size_t ts_large_usable(const void *p, const char *call) {
  return ts_large_hdr(p, call, "use after free")->map_size - TS_LARGE_HDR;
}

/* Shrinks in place (mremap frees the tail), grows with mremap (page tables move, bytes are not copied) by at
 * least a quarter so that a loop growing a buffer a page at a time does not make a syscall per step. */
void *ts_large_realloc(void *p, size_t n, const char *call) {
  ts_large_hdr_t *hdr = ts_large_hdr(p, call, "use after free");
  size_t size = hdr->map_size;
  uint8_t *base = (uint8_t *)hdr;
  if (n <= TS_MEDIUM_MAX / 2) {
    void *q = ts_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, n < size - TS_LARGE_HDR ? n : size - TS_LARGE_HDR);
    ts_large_free(p, call);
    return q;
  }
  if (n > SIZE_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  size_t need = ((n + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1)) + TS_LARGE_HDR;
  if (need <= size) {
    if (size - need >= ((size_t)1 << 20) && size - need > need / 2 && ts_os_remap(base, size, need, false)) {
      hdr->map_size = need;
      atomic_fetch_sub_explicit(&ts_large_live_bytes, size - need, memory_order_relaxed);
      ts_stats_large(-(int64_t)(size - need));
    }
    return p;
  }
  size_t grow = size + size / 4;
  if (grow < need) grow = need;
  grow = (grow + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1);
  /* Unmark before mremap: once it moves the block, the old address is free for another thread's next mapping,
   * and clearing the mark afterwards could erase that thread's own (seen as "invalid pointer" in the stress test). */
  ts_pm_set((uintptr_t)p, 0);
  uint8_t *nb = ts_os_remap(base, size, grow, true);
  if (!nb) nb = ts_os_remap(base, size, grow = need, true);
  if (!nb) {
    ts_pm_set((uintptr_t)p, 1);
    void *q = ts_large_alloc(n, TS_OS_PAGE, false);
    if (!q) {
      errno = ENOMEM;
      return NULL;
    }
    memcpy(q, p, size - TS_LARGE_HDR);
    ts_large_free(p, call);
    return q;
  }
  uint8_t *user = nb + TS_LARGE_HDR;
  if (!ts_pm_set((uintptr_t)user, 1)) ts_fatal("out of memory for the large-block page map");
  hdr = (ts_large_hdr_t *)nb;
  hdr->magic = TS_LARGE_MAGIC ^ (uintptr_t)user;
  hdr->map_size = grow;
  atomic_fetch_add_explicit(&ts_large_live_bytes, grow - size, memory_order_relaxed);
  ts_stats_large((int64_t)(grow - size));
  return user;
}

void ts_large_totals(size_t *count, size_t *bytes, size_t *cached) {
  *count = atomic_load_explicit(&ts_large_live_count, memory_order_relaxed);
  *bytes = atomic_load_explicit(&ts_large_live_bytes, memory_order_relaxed);
  *cached = __atomic_load_n(&ts_lc_bytes, __ATOMIC_RELAXED);
}

/* In a child of fork() the cache may have been mid-update in a thread that no longer exists: forget it. */
void ts_large_after_fork_child(void) {
  if (atomic_load(&ts_lc_lock.v)) {
    ts_lc_n = 0;
    ts_lc_bytes = 0;
    atomic_store(&ts_lc_deadline, UINT64_MAX);
    ts_unlock(&ts_lc_lock);
  }
}
