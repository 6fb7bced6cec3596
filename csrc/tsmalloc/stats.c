/* Statistics: per-thread counters folded into totals, a sampled peak of live bytes, the exit report. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Counting happens only with TSMALLOC_STATS=1 (ts_stats_on): then malloc costs one non-atomic increment in the
 * thread's own heap; otherwise one predicted branch. free counts nothing, even with statistics on: its check of the
 * flag alone cost the malloc+free pair 3-6% (A/B on bench pair), so frees per class are derived at exit as mallocs
 * minus the blocks still in use (a walk over the segment headers). Live bytes are the blocks in use in a heap's
 * own pages (a walk over its page lists), summed every 64 slow-path calls and published to one atomic, so the peak
 * is sampled: it can miss a spike shorter than that. A page's count still holds the blocks other threads freed
 * until its owner collects them, so those are kept in a second atomic, added by the remote free and taken out by
 * the collection: a thread that stops allocating (blocked in pthread_join, say) while others free its blocks
 * still sees its live bytes fall. Sizes are usable sizes (the class), not requested sizes, which the allocator
 * does not keep. */
bool ts_stats_on;
static ts_lock_t ts_stats_lock;
static uint64_t ts_tot_malloc[TS_NCLS], ts_tot_xfree, ts_tot_large;
static _Atomic int64_t ts_live_small, ts_live_large, ts_live_peak, ts_live_remote;

static void ts_update_peak(void) {
  int64_t live = atomic_load_explicit(&ts_live_small, memory_order_relaxed) -
                 atomic_load_explicit(&ts_live_remote, memory_order_relaxed) +
                 atomic_load_explicit(&ts_live_large, memory_order_relaxed);
  int64_t peak = atomic_load_explicit(&ts_live_peak, memory_order_relaxed);
  while (live > peak &&
         !atomic_compare_exchange_weak_explicit(&ts_live_peak, &peak, live, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

/* Blocks in use in the pages of a heap; the owner's lists, so only the owner calls this. */
static int64_t ts_heap_live(const ts_heap_t *h) {
  int64_t live = 0;
  for (size_t c = 0; c < TS_NCLS; c++) {
    const ts_queue_t *lists[2] = {&h->queue[c], &h->full[c]};
    for (int l = 0; l < 2; l++)
      for (const ts_page_t *pg = lists[l]->head; pg; pg = pg->next)
        live += (int64_t)(pg->used & ~TS_USED_FULL) * pg->block_size;
  }
  return live;
}

void ts_stats_publish_live(ts_heap_t *h) {
  if (!ts_stats_on) return;
  int64_t live = ts_heap_live(h);
  int64_t delta = live - h->live_published;
  if (delta == 0) return;
  h->live_published = live;
  atomic_fetch_add_explicit(&ts_live_small, delta, memory_order_relaxed);
  if (delta > 0) ts_update_peak();
}

void ts_stats_large(int64_t delta) {
  atomic_fetch_add_explicit(&ts_live_large, delta, memory_order_relaxed);
  if (delta > 0) ts_update_peak();
}

void ts_stats_dead_free(void) {
  ts_lock(&ts_stats_lock);
  ts_tot_xfree++;
  ts_unlock(&ts_stats_lock);
}

/* The live bytes published last are exactly the blocks in the pages about to be abandoned: they stay in the
 * global count, and whoever adopts a segment takes its share out (ts_stats_adopted) before counting its pages as
 * its own. */
void ts_stats_fold(ts_heap_t *h) {
  ts_stats_publish_live(h);
  h->live_published = 0;
  ts_lock(&ts_stats_lock);
  for (size_t c = 0; c < TS_NCLS; c++) ts_tot_malloc[c] += h->nmalloc[c];
  ts_tot_xfree += h->xfree;
  ts_tot_large += h->large_count;
  ts_unlock(&ts_stats_lock);
  if (ts_stats_on) memset(h->nmalloc, 0, sizeof h->nmalloc); /* for the heap's next thread: reset leaves them */
}

void ts_stats_adopted(int64_t bytes) {
  if (bytes) atomic_fetch_sub_explicit(&ts_live_small, bytes, memory_order_relaxed);
}

void ts_stats_remote(int64_t bytes) { atomic_fetch_add_explicit(&ts_live_remote, bytes, memory_order_relaxed); }

/* Programs such as ls close stderr on their way out (gnulib close_stdout), before library destructors run, so
 * with TSMALLOC_STATS=1 and no file the report goes to a copy of fd 2 taken at start (close-on-exec, at fd 64
 * or above). */
static int ts_stats_fd = -1;
void ts_stats_init(void) {
  ts_stats_on = ts_opt(TS_OPT_STATS) != 0;
  if (ts_stats_on) atomic_fetch_or_explicit(&ts_pop_hook, TS_HOOK_STATS, memory_order_relaxed);
  if (ts_opt(TS_OPT_STATS) && !ts_stats_file[0]) ts_stats_fd = fcntl(2, F_DUPFD_CLOEXEC, 64);
}

void ts_stats_after_fork_child(void) {
  if (atomic_load(&ts_stats_lock.v)) ts_unlock(&ts_stats_lock);
}

/* ---- the exit report, written with write(2) (stdio may be gone, stderr may be closed) ---- */
typedef struct {
  char buf[16384];
  size_t len;
} ts_out_t;

static void ts_out(ts_out_t *o, const char *s) {
  size_t n = strlen(s);
  if (o->len + n >= sizeof o->buf) n = sizeof o->buf - 1 - o->len;
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}
static void ts_out_num(ts_out_t *o, uint64_t v, int width) {
  char num[24];
  int n = (int)ts_fmt_dec(num, v);
  for (; n < width; n++) ts_out(o, " ");
  ts_out(o, num);
}
static void ts_out_line(ts_out_t *o, const char *label, uint64_t v, const char *unit) {
  ts_out(o, label);
  ts_out_num(o, v, 14);
  ts_out(o, unit);
  ts_out(o, "\n");
}

void ts_stats_print_exit(void) {
  if (!ts_opt(TS_OPT_STATS)) return;
  ts_heap_t *me = ts_tls_heap;
  if (me->kind == TS_HEAP_NORMAL) ts_stats_publish_live(me);
  uint64_t nm[TS_NCLS], nf[TS_NCLS], in_use[TS_NCLS] = {0}, large = ts_tot_large, xfree = ts_tot_xfree;
  memcpy(nm, ts_tot_malloc, sizeof nm);
  /* Live heaps' counters are read without their owners' consent: approximate while other threads run. */
  for (ts_heap_t *h = __atomic_load_n(&ts_all_heaps, __ATOMIC_ACQUIRE); h; h = h->all_next) {
    if (h->kind != TS_HEAP_NORMAL) continue;
    for (size_t c = 0; c < TS_NCLS; c++) nm[c] += h->nmalloc[c];
    large += h->large_count;
    xfree += h->xfree;
  }
  for (size_t c = 0; c < TS_NCLS; c++) nm[c] += ts_backup_heap.nmalloc[c]; /* young and torn-down threads' */
  uint64_t live_small = ts_segment_live_bytes(in_use);
  /* The counters were read without their owners' consent while other threads may run: never below zero. */
  for (size_t c = 0; c < TS_NCLS; c++) nf[c] = nm[c] > in_use[c] ? nm[c] - in_use[c] : 0;
  int64_t l = atomic_load(&ts_live_large);
  uint64_t live_large = l > 0 ? (uint64_t)l : 0;
  long hwm = ts_os_rss_kib("VmHWM");
  uint64_t peak_live = (uint64_t)atomic_load(&ts_live_peak);
  uint64_t peak_kib = peak_live / 1024;

  ts_out_t *o = ts_os_map(sizeof(ts_out_t), false);
  if (!o) return;
  ts_out(o, "tsmalloc: statistics for pid ");
  ts_out_num(o, (uint64_t)getpid(), 0);
  ts_out(o, "\n");
  ts_out_line(o, "  peak RSS (VmHWM)          ", hwm > 0 ? (uint64_t)hwm : 0, " KiB");
  ts_out_line(o, "  peak live bytes           ", peak_kib, " KiB (usable sizes, sampled)");
  ts_out(o, "  peak RSS / peak live      ");
  if (peak_kib > 0 && hwm > 0) {
    uint64_t r100 = (uint64_t)hwm * 100 / peak_kib;
    ts_out_num(o, r100 / 100, 11);
    ts_out(o, ".");
    ts_out_num(o, (r100 % 100) / 10, 0);
    ts_out_num(o, r100 % 10, 0);
    ts_out(o, " (1.00 is the physical limit)\n");
  } else {
    ts_out(o, "           n/a\n");
  }
  ts_out_line(o, "  returned to the OS        ", atomic_load(&ts_os_purged_bytes) / 1024, " KiB");
  ts_out_line(o, "  cross-thread frees        ", xfree, "");
  ts_out_line(o, "  large blocks allocated    ", large, "");
  ts_out_line(o, "  live at exit              ", (live_small + live_large) / 1024, " KiB");
  ts_out(o, "  class    block size        mallocs          frees\n");
  for (size_t c = 0; c < TS_NCLS; c++) {
    if (!nm[c] && !nf[c]) continue;
    ts_out_num(o, c, 7);
    ts_out_num(o, ts_cls_size[c], 14);
    ts_out_num(o, nm[c], 15);
    ts_out_num(o, nf[c], 15);
    ts_out(o, "\n");
  }
  int fd = 2;
  if (ts_stats_fd >= 0 && fcntl(ts_stats_fd, F_GETFD) != -1) fd = ts_stats_fd;
  if (ts_stats_file[0]) fd = open(ts_stats_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    for (size_t off = 0; off < o->len;) {
      ssize_t w = write(fd, o->buf + off, o->len - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    if (fd != 2 && fd != ts_stats_fd) close(fd);
  }
  ts_os_unmap(o, sizeof(ts_out_t));
}
