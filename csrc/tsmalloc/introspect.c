/* Introspection with glibc's shapes: malloc_trim, mallinfo(2), malloc_stats, malloc_info, mallopt. */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

/* Returns everything it can to the OS now: the blocks this thread kept from other threads' pages go home, then
 * this thread's empty pages, exited threads' segments (adopted and emptied), all dirty slices, the shared heap's
 * empty pages and dirty slices, the segment pool and the large-block cache. 1 if memory was released. */
int ts_malloc_trim(size_t pad) {
  (void)pad; /* glibc keeps pad bytes at the top of its heap; there is no single top here */
  uint64_t before = atomic_load(&ts_os_purged_bytes);
  ts_heap_t *h = ts_tls_heap;
  if (h->kind == TS_HEAP_NORMAL) {
    ts_kept_flush(h);
    ts_segment_t *s;
    for (int i = 0; i < 1024 && (s = ts_abandoned_pop()) != NULL; i++) ts_heap_adopt_segment(h, s);
    ts_heap_collect_all(h, false);
    ts_heap_purge(h, 0, true);
  }
  ts_backup_trim();
  uint64_t now = ts_os_now_ms();
  ts_pool_tick(now, true);
  ts_large_tick(now, true);
  return atomic_load(&ts_os_purged_bytes) > before;
}

static struct mallinfo2 ts_info(void) {
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  size_t live_small = ts_segment_live_bytes(NULL);
  size_t count, bytes, cached;
  ts_large_totals(&count, &bytes, &cached);
  size_t seg = ts_segment_mapped_bytes();
  mi.arena = seg;
  mi.ordblks = 1;
  mi.hblks = count;
  mi.hblkhd = bytes;
  mi.uordblks = live_small < seg ? live_small : seg;
  mi.fordblks = seg - mi.uordblks;
  mi.keepcost = 0;
  return mi;
}

struct mallinfo2 ts_mallinfo2(void) { return ts_info(); }

/* The old struct has int fields: values saturate instead of wrapping. */
struct mallinfo ts_mallinfo(void) {
  struct mallinfo2 m2 = ts_info();
  struct mallinfo m;
#define TS_SAT(x) ((x) > (size_t)0x7fffffff ? 0x7fffffff : (int)(x))
  m.arena = TS_SAT(m2.arena);
  m.ordblks = TS_SAT(m2.ordblks);
  m.smblks = TS_SAT(m2.smblks);
  m.hblks = TS_SAT(m2.hblks);
  m.hblkhd = TS_SAT(m2.hblkhd);
  m.usmblks = TS_SAT(m2.usmblks);
  m.fsmblks = TS_SAT(m2.fsmblks);
  m.uordblks = TS_SAT(m2.uordblks);
  m.fordblks = TS_SAT(m2.fordblks);
  m.keepcost = TS_SAT(m2.keepcost);
#undef TS_SAT
  return m;
}

static void ts_stat_row(const char *label, uint64_t v) {
  char num[24], line[64];
  size_t n = ts_fmt_dec(num, v);
  size_t len = strlen(label);
  memcpy(line, label, len);
  for (size_t i = n; i < 10; i++) line[len++] = ' ';
  memcpy(line + len, num, n);
  len += n;
  line[len++] = '\n';
  line[len] = '\0';
  ts_write_str(line);
}

/* Same lines as glibc's malloc_stats, on stderr, one "arena" (tsmalloc has per-thread heaps, not arenas). */
void ts_malloc_stats(void) {
  struct mallinfo2 mi = ts_info();
  ts_write_str("Arena 0:\n");
  ts_stat_row("system bytes     = ", mi.arena);
  ts_stat_row("in use bytes     = ", mi.uordblks);
  ts_write_str("Total (incl. mmap):\n");
  ts_stat_row("system bytes     = ", mi.arena + mi.hblkhd);
  ts_stat_row("in use bytes     = ", mi.uordblks + mi.hblkhd);
  ts_stat_row("max mmap regions = ", mi.hblks);
  ts_stat_row("max mmap bytes   = ", mi.hblkhd);
}

/* glibc's XML (<malloc version="1">, one heap); options other than 0 return EINVAL (errno untouched), as in
 * glibc. fprintf may allocate: we hold no lock here, so it can. */
int ts_malloc_info(int options, FILE *fp) {
  if (options != 0) return EINVAL;
  struct mallinfo2 mi = ts_info();
  size_t total = mi.arena + mi.hblkhd;
  fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n");
  fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
  fprintf(fp, "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n", mi.fordblks);
  fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n", mi.arena, mi.arena);
  fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n</heap>\n", mi.arena,
          mi.arena);
  fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
  fprintf(fp, "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n", mi.fordblks);
  fprintf(fp, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n", mi.hblks, mi.hblkhd);
  fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n", total, total);
  fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n", total, total);
  fprintf(fp, "</malloc>\n");
  return 0;
}

/* mallopt accepts every parameter and returns 1 (success), but none of glibc's knobs has a meaning here:
 * M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB,
 * M_ARENA_TEST and M_ARENA_MAX are ignored (use the TSMALLOC_* options instead). */
int ts_mallopt(int param, int value) {
  (void)param;
  (void)value;
  return 1;
}
