/* The one table of TSMALLOC_* environment options, read once at start without malloc or getenv. */
#include "internal.h"

#include <string.h>

typedef struct {
  const char *name;
  long dflt, min, max; /* whole numbers; for a path option, max is the buffer size */
  const char *meaning; /* also the README row */
  char *path;          /* non-NULL: a path option, copied here */
} ts_option_t;

char ts_stats_file[512];

static const ts_option_t ts_option_table[TS_OPT_COUNT] = {
    [TS_OPT_VERBOSE] = {"TSMALLOC_VERBOSE", 0, 0, 2, "1: print the settings at start; 2: also each purge"},
    [TS_OPT_STATS] = {"TSMALLOC_STATS", 0, 0, 1, "1: print statistics at exit (to stderr or TSMALLOC_STATS_FILE)"},
    [TS_OPT_STATS_FILE] = {"TSMALLOC_STATS_FILE", 0, 0, sizeof ts_stats_file,
                           "path: append the statistics there instead of stderr (programs may close stderr)",
                           ts_stats_file},
    [TS_OPT_PURGE_DELAY_MS] = {"TSMALLOC_PURGE_DELAY_MS", 100, 0, 3600000,
                               "free memory is returned to the OS after this many ms (0: at once)"},
    /* 512 KiB of what free slices really hold (segment.c), idle ones first; memory freed a moment ago only
     * beyond 8 times this (ts_heap_trim has the measurements). Replaces TSMALLOC_RETAIN_MB (still read, see
     * ts_options_init), which was 2 MiB of any: 16 -> 2 MiB had cut bench larson's peak RSS from 12.2 to
     * 10.7 MiB, and 1 MiB cost realloc 9% of its time. */
    [TS_OPT_RETAIN_KB] = {"TSMALLOC_RETAIN_KB", 512, 0, 1L << 30,
                          "free, not yet returned memory above this many KiB (per thread heap, and again for the "
                          "shared segment pool) is returned at once, whatever the delay, idle longest first; "
                          "memory freed in the last few ms only beyond 8 times this"},
    [TS_OPT_LARGE_CACHE_MB] = {"TSMALLOC_LARGE_CACHE_MB", 256, 0, 1 << 20,
                               "freed large blocks (>128 KiB) kept mapped for reuse, at most this many MiB"},
    [TS_OPT_RESERVE_GB] = {"TSMALLOC_RESERVE_GB", 1024, 1, 1 << 16,
                           "address space reserved for blocks up to 128 KiB (not memory: nothing is committed)"},
    [TS_OPT_YOUNG_MALLOCS] = {"TSMALLOC_YOUNG_MALLOCS", 128, 0, 1 << 20,
                              "a thread's first this many small mallocs (up to 64 KiB in all) come from one heap "
                              "shared under a lock; only then does the thread get a heap of its own (0: at once)"},
};

long ts_options[TS_OPT_COUNT];

static void ts_warn_option(const char *name, const char *value, const ts_option_t *o) {
  char lo[24], hi[24];
  ts_fmt_dec(lo, (uint64_t)o->min);
  ts_fmt_dec(hi, (uint64_t)o->max);
  /* One write per piece is fine: this happens once, at start. */
  ts_write_str("tsmalloc: ignoring ");
  ts_write_str(name);
  ts_write_str("='");
  ts_write_str(value);
  ts_write_str("': expected a whole number from ");
  ts_write_str(lo);
  ts_write_str(" to ");
  ts_write_str(hi);
  ts_write_str("\n");
}

/* A whole number within o's range. */
static bool ts_parse_whole(const char *v, const ts_option_t *o, long *out) {
  long x = 0;
  bool ok = *v != '\0';
  for (const char *q = v; *q && ok; q++) {
    if (*q < '0' || *q > '9' || x > (1L << 40)) ok = false;
    else x = x * 10 + (*q - '0');
  }
  if (ok && (x < o->min || x > o->max)) ok = false;
  *out = x;
  return ok;
}

/* TSMALLOC_RETAIN_MB was the retain limit in MiB until the limit went below 1 MiB: still honoured (when
 * TSMALLOC_RETAIN_KB is not set), with a one-line note, so a setting made for an older version is not lost. */
static void ts_read_retain_mb(void) {
  static const ts_option_t mb = {"TSMALLOC_RETAIN_MB", 0, 0, 1 << 20, "", NULL};
  const char *v = ts_os_getenv(mb.name);
  if (!v) return;
  long x;
  if (!ts_parse_whole(v, &mb, &x)) {
    ts_warn_option(mb.name, v, &mb);
    return;
  }
  if (ts_os_getenv("TSMALLOC_RETAIN_KB")) {
    ts_write_str("tsmalloc: ignoring TSMALLOC_RETAIN_MB: TSMALLOC_RETAIN_KB is set and replaces it\n");
    return;
  }
  char num[24];
  ts_options[TS_OPT_RETAIN_KB] = x << 10;
  ts_fmt_dec(num, (uint64_t)(x << 10));
  ts_write_str("tsmalloc: TSMALLOC_RETAIN_MB is now TSMALLOC_RETAIN_KB; using TSMALLOC_RETAIN_KB=");
  ts_write_str(num);
  ts_write_str("\n");
}

/* Reads each option once; a bad value is reported once on stderr and the default is kept. */
void ts_options_init(void) {
  for (int i = 0; i < TS_OPT_COUNT; i++) {
    const ts_option_t *o = &ts_option_table[i];
    ts_options[i] = o->dflt;
    const char *v = ts_os_getenv(o->name);
    if (!v) continue;
    if (o->path) {
      size_t n = strlen(v);
      if (n < (size_t)o->max) memcpy(o->path, v, n + 1);
      else ts_write_str("tsmalloc: ignoring a TSMALLOC_STATS_FILE path longer than 511 bytes\n");
      ts_options[i] = n > 0 && n < (size_t)o->max;
      continue;
    }
    long x;
    if (ts_parse_whole(v, o, &x)) ts_options[i] = x;
    else ts_warn_option(o->name, v, o);
  }
  ts_read_retain_mb();
  if (ts_options[TS_OPT_VERBOSE] >= 1) {
    char num[24];
    for (int i = 0; i < TS_OPT_COUNT; i++) {
      ts_fmt_dec(num, (uint64_t)ts_options[i]);
      ts_write_str("tsmalloc: ");
      ts_write_str(ts_option_table[i].name);
      ts_write_str("=");
      ts_write_str(ts_option_table[i].path ? ts_option_table[i].path : num);
      ts_write_str("\n");
    }
  }
}
