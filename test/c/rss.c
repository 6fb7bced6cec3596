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
#include <time.h>
#include <unistd.h>

static long status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      v = atol(line + n + 1);
      break;
    }
  fclose(f);
  return v;
}

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
  /* Idle: 20 x 25 ms with a little allocation in between, as a quiet program would. */
  for (int i = 0; i < 20; i++) {
    struct timespec nap = {0, 25 * 1000 * 1000};
    nanosleep(&nap, NULL);
    void *few[16];
    for (int k = 0; k < 16; k++) few[k] = malloc(16 + (size_t)k * 40);
    for (int k = 0; k < 16; k++) free(few[k]);
  }
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
