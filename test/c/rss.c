/* RSS after a burst: allocate ~900 MB of small blocks, free them, idle briefly, report what stays resident.
 *
 *   gcc -O1 -g -pthread -o rss test/c/rss.c
 *   LD_PRELOAD=/path/to/tsmalloc.so TS_RSS_EXPECT_MAX_PERCENT=10 ./rss [mib]
 * Prints the RSS before, at the peak and after, then `rss_after_free_kib=<n> peak_kib=<n>` for benchmarks. The
 * threshold (percent of the burst still resident after the idle period) is only enforced when
 * TS_RSS_EXPECT_MAX_PERCENT is set: glibc, tcmalloc and mimalloc keep all of it, by design. The exit status is
 * the number of failures. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rss.h"

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 900;
  size_t budget = (size_t)mib << 20, total = 0;
  uint64_t rng = 0x853c49e6748fea9bULL;
  long before = status_kib("VmRSS");

  /* The blocks are chained through their first word: no side array to distort the RSS. */
  void *head = NULL;
  while (total < budget) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    size_t size = 64 + rng % 449; /* 64..512 bytes */
    void **b = malloc(size);
    if (!b) {
      printf("FAIL: malloc(%zu) returned NULL after %zu MiB\n", size, total >> 20);
      return 1;
    }
    memset(b, 0x5A, size);
    *b = head;
    head = b;
    total += size;
  }
  long peak = status_kib("VmRSS");
  while (head) {
    void *next = *(void **)head;
    free(head);
    head = next;
  }
  long freed = status_kib("VmRSS");
  idle_lightly();
  long after = status_kib("VmRSS");
  long hwm = status_kib("VmHWM");
  long burst = peak - before;
  printf("rss: before %ld KiB, peak %ld KiB, right after free %ld KiB, after idle %ld KiB\n", before, peak, freed,
         after);
  printf("rss_after_free_kib=%ld peak_kib=%ld\n", after, hwm);
  const char *limit = getenv("TS_RSS_EXPECT_MAX_PERCENT");
  if (limit && *limit && burst > 0) {
    double pct = 100.0 * (double)(after - before) / (double)burst;
    if (pct > atof(limit)) {
      printf("FAIL: %.1f%% of the burst is still resident, more than %s%%\n", pct, limit);
      return 1;
    }
    printf("rss: %.1f%% of the burst still resident (limit %s%%)\n", pct, limit);
  }
  return 0;
}
