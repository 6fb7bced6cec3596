/* Start-up (constructor and lazy), per-thread heaps, thread exit, fork, and the spin lock's slow path. */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>

/* Initial-exec TLS: a fixed offset from the thread pointer, no __tls_get_addr (which can itself call malloc
 * since glibc 2.39). A thread starts on the read-only-in-practice ts_heap_empty sentinel: its cur[] pages have
 * no free block, so the thread's first malloc falls into the slow path, which gives it a heap. */
#define TS_SENTINEL_HEAP(k) {.c = {[0 ... TS_NCLS - 1] = {.cur = &ts_empty_page}}, .kind = (k)}
static ts_heap_t ts_heap_empty = TS_SENTINEL_HEAP(TS_HEAP_EMPTY);
ts_heap_t ts_heap_dead = TS_SENTINEL_HEAP(TS_HEAP_DEAD);
__thread ts_heap_t *ts_tls_heap __attribute__((tls_model("initial-exec"))) = &ts_heap_empty;

uintptr_t ts_secret;

/* 0: not started, 1: running, 2: done. Start-up never calls malloc; the one call that might (pthread_atfork)
 * runs after the state is 2, so a nested malloc finds everything ready instead of waiting for itself. */
static _Atomic int ts_init_state;
static pthread_key_t ts_thread_key;
static bool ts_key_ok;

/* Heaps come from mmap'd chunks and are reused, never unmapped: a remote free may still read a dead heap's
 * address from a segment header (to set a notify bit), which must stay harmless. */
ts_lock_t ts_heaps_lock;
ts_heap_t *ts_all_heaps;
static ts_heap_t *ts_free_heaps;
static char *ts_heap_chunk; /* heaps of TS_HEAP_BYTES each */
static size_t ts_heap_chunk_left;

/* The shared heap: a normal heap used under a lock by threads without a heap of their own, which are
 * - young threads, for their first TSMALLOC_YOUNG_MALLOCS small mallocs (alloc.c says why);
 * - threads whose own teardown has already run (other libraries' TLS destructors allocate after ours: mimalloc
 *   #944).
 * No thread owns its pages, so every free into them is a remote push; its slow path (page.c) and its timed
 * collection (ts_backup_tick, below) take those frees in and give the pages that emptied back to their segments. */
ts_lock_t ts_backup_lock;
ts_heap_t ts_backup_heap = {.c = {[0 ... TS_NCLS - 1] = {.cur = &ts_empty_page}}, .kind = TS_HEAP_BACKUP};

void ts_lock_slow(ts_lock_t *l) {
  for (unsigned spins = 0;; spins++) {
    if (ts_trylock(l)) return;
    if (spins >= 64) sched_yield();
    else ts_cpu_relax();
  }
}

static void ts_thread_done(void *arg);
static void ts_atfork_child(void);

static void ts_init_once(void) {
  ts_young_skip();
  ts_options_init();
  ts_stats_init();
  uintptr_t r = ts_os_random();
  const uint8_t *at = (const uint8_t *)getauxval(AT_RANDOM);
  if (at) {
    uint64_t x;
    memcpy(&x, at + 8, sizeof x);
    r ^= x;
  }
  ts_secret = r | 1; /* odd: a tag never equals a small-integer pattern of a zeroed word */
  if (!ts_arena_init()) ts_fatal("cannot reserve even 64 MiB of address space for the heap (is `ulimit -v` that low?)");
  ts_key_ok = pthread_key_create(&ts_thread_key, ts_thread_done) == 0;
}

void ts_init(void) {
  int st = atomic_load_explicit(&ts_init_state, memory_order_acquire);
  if (TS_LIKELY(st == 2)) return;
  st = 0;
  if (atomic_compare_exchange_strong(&ts_init_state, &st, 1)) {
    ts_init_once();
    atomic_store_explicit(&ts_init_state, 2, memory_order_release);
    pthread_atfork(NULL, NULL, ts_atfork_child); /* may allocate: safe now */
    return;
  }
  while (atomic_load_explicit(&ts_init_state, memory_order_acquire) != 2) sched_yield();
}

__attribute__((constructor(101))) static void ts_constructor(void) { ts_init(); }
__attribute__((destructor(101))) static void ts_destructor(void) { ts_stats_print_exit(); }

static void ts_heap_reset(ts_heap_t *h, int kind) {
  memset(h, 0, offsetof(ts_heap_t, next_free));
  for (size_t c = 0; c < TS_NCLS; c++) h->c[c].cur = &ts_empty_page;
  h->kind = kind;
}

/* Gives the calling thread a heap; from its first malloc (or after ts_heap_empty is seen anywhere). */
ts_heap_t *ts_heap_get_slow(void) {
  ts_init();
  ts_heap_t *h = ts_tls_heap;
  if (h->kind != TS_HEAP_EMPTY) return h;
  ts_lock(&ts_heaps_lock);
  h = ts_free_heaps;
  if (h) {
    ts_free_heaps = h->next_free;
  } else {
    if (ts_heap_chunk_left == 0) {
      size_t bytes = (size_t)16 * TS_HEAP_BYTES;
      bytes = (bytes + TS_OS_PAGE - 1) & ~(TS_OS_PAGE - 1);
      ts_heap_chunk = ts_os_map(bytes, false);
      ts_heap_chunk_left = ts_heap_chunk ? bytes / TS_HEAP_BYTES : 0;
    }
    if (ts_heap_chunk_left) {
      h = (ts_heap_t *)ts_heap_chunk;
      ts_heap_chunk += TS_HEAP_BYTES;
      ts_heap_chunk_left--;
      h->all_next = ts_all_heaps;
      ts_all_heaps = h;
    }
  }
  ts_unlock(&ts_heaps_lock);
  if (!h) return &ts_heap_dead; /* no memory for a heap: use the shared one */
  ts_heap_reset(h, TS_HEAP_NORMAL);
  ts_tls_heap = h;
  /* May call calloc (keys past the first 32): the thread already has its heap, so that just works. */
  if (ts_key_ok) pthread_setspecific(ts_thread_key, h);
  return h;
}

/* pthread key destructor at thread exit: free pages go back, live ones are abandoned for adoption, the
 * counters go to the totals and the heap to the pool. Later mallocs of this thread use the backup heap. */
static void ts_thread_done(void *arg) {
  ts_heap_t *h = arg;
  if (!h || h->kind != TS_HEAP_NORMAL) return;
  ts_tls_heap = &ts_heap_dead;
  ts_kept_flush(h);
  ts_heap_collect_all(h, true);
  ts_stats_fold(h); /* while the heap still owns its pages */
  ts_segments_abandon(h);
  ts_heap_tick(h, false);
  ts_lock(&ts_heaps_lock);
  h->kind = TS_HEAP_EMPTY;
  h->next_free = ts_free_heaps;
  ts_free_heaps = h;
  ts_unlock(&ts_heaps_lock);
}

void *ts_backup_alloc(size_t cls, bool lend) {
  ts_lock(&ts_backup_lock);
  void *p = ts_heap_alloc(&ts_backup_heap, cls, lend);
  ts_unlock(&ts_backup_lock);
  return p;
}

/* Frees into the shared heap's pages arrive by remote push, and its own slow path collects them only when young
 * threads allocate again. So the first such free after a look schedules another, a purge delay later, run by
 * whichever thread ticks next (ts_heap_tick, and every 32nd malloc while it waits): it takes the pages' frees,
 * gives empty pages back to their segments, and purges what has been idle past the delay. Why: 500 threads alive at
 * once, each freeing its 50 KiB before exiting, left 31 MB resident after a second of idling (glibc 9.4 MB). */
static _Atomic uint64_t ts_backup_due = UINT64_MAX;

bool ts_backup_pending(void) { return atomic_load_explicit(&ts_backup_due, memory_order_relaxed) != UINT64_MAX; }

static void ts_backup_schedule(uint64_t at) {
  uint64_t due = atomic_load_explicit(&ts_backup_due, memory_order_relaxed);
  while (at < due &&
         !atomic_compare_exchange_weak_explicit(&ts_backup_due, &due, at, memory_order_relaxed, memory_order_relaxed)) {
  }
  ts_timed_work_update();
}

void ts_backup_freed(void) {
  if (atomic_load_explicit(&ts_backup_due, memory_order_relaxed) == UINT64_MAX)
    ts_backup_schedule(ts_os_now_ms() + (uint64_t)ts_opt(TS_OPT_PURGE_DELAY_MS));
}

void ts_backup_tick(uint64_t now) {
  uint64_t due = atomic_load_explicit(&ts_backup_due, memory_order_relaxed);
  if (due == UINT64_MAX || now < due) return;
  /* The shared heap's own slow path (which holds the lock) ticks too, and a thread in it already collects. */
  if (!ts_trylock(&ts_backup_lock)) return;
  atomic_store_explicit(&ts_backup_due, UINT64_MAX, memory_order_relaxed);
  ts_heap_collect_all(&ts_backup_heap, false);
  ts_heap_purge(&ts_backup_heap, now, false);
  uint64_t next = ts_backup_heap.purge_head ? ts_backup_heap.purge_head->purge_at : UINT64_MAX;
  ts_unlock(&ts_backup_lock);
  if (next != UINT64_MAX) ts_backup_schedule(next);
  else ts_timed_work_update();
}

/* malloc_trim: the shared heap's empty pages and idle memory go back too. */
void ts_backup_trim(void) {
  ts_lock(&ts_backup_lock);
  ts_heap_collect_all(&ts_backup_heap, false);
  ts_heap_purge(&ts_backup_heap, 0, true);
  ts_unlock(&ts_backup_lock);
}

/* fork(): we register no prepare handler and hold no lock across fork, so fork can never deadlock on us
 * (glibc takes its stdio locks after the atfork handlers, and stdio calls malloc while holding them:
 * tst-malloc-fork-deadlock). In the child only the forking thread exists; any lock another thread held at
 * that instant guards a structure that may be half-updated, so the child resets that structure to empty
 * (leaking what it held) and releases the lock. Other threads' heaps are simply never used again. */
static void ts_atfork_child(void) {
  ts_segment_after_fork_child();
  ts_large_after_fork_child();
  ts_stats_after_fork_child();
  if (atomic_load(&ts_heaps_lock.v)) {
    ts_free_heaps = NULL;
    ts_heap_chunk_left = 0;
    ts_unlock(&ts_heaps_lock);
  }
  if (atomic_load(&ts_backup_lock.v)) {
    ts_heap_reset(&ts_backup_heap, TS_HEAP_BACKUP);
    ts_unlock(&ts_backup_lock);
  }
}
