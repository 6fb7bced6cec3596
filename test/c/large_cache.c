/* The cache of freed large blocks keeps no more than TSMALLOC_LARGE_CACHE_MB, and calloc from it does not touch.
 *
 *   gcc -O1 -g -o large_cache test/c/large_cache.c
 *   TSMALLOC_LARGE_CACHE_MB=64 LD_PRELOAD=/path/to/tsmalloc.so ./large_cache
 * 1. 40 blocks of 8 MiB, each written whole, then freed: the kernel places such mappings side by side and the
 *    cache merges neighbours, so the merged span must still respect the limit (it once kept all 320 MiB).
 * 2. calloc of half the limit, three pages then written, four times (the last three reuse the cached span): it must
 *    read as zero and add no more than a few MiB of RSS (zeroing by writing made the whole span resident).
 * tsmalloc-specific (the option and the cache are its own). The exit status is the number of failures. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rss.h"

int main(void) {
  const char *opt = getenv("TSMALLOC_LARGE_CACHE_MB");
  long limit_kib = (opt && *opt ? atol(opt) : 256) << 10;
  enum { N = 40 };
  const size_t big = (size_t)8 << 20;
  static char *blocks[N];

  long before = status_kib("VmRSS");
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(big);
    CHECK(blocks[i] != NULL);
    if (blocks[i]) memset(blocks[i], 0x5A, big);
  }
  long peak = status_kib("VmRSS");
  for (int i = 0; i < N; i++) free(blocks[i]);
  long freed = status_kib("VmRSS");
  printf("large_cache: rss before %ld KiB, with %d x 8 MiB %ld KiB, right after freeing them %ld KiB (limit %ld KiB)\n",
         before, N, peak, freed, limit_kib);
  CHECK(peak - before > (long)(N * (big >> 10)) / 2);
  CHECK(freed - before <= limit_kib + 8192);

  /* Half the limit, so the freed span stays cached; the first calloc maps it fresh, the others reuse it. */
  const size_t zsize = (size_t)(limit_kib / 2) << 10;
  long start = status_kib("VmRSS");
  for (int round = 0; round < 4; round++) {
    unsigned char *z = calloc(1, zsize);
    CHECK(z != NULL);
    if (!z) break;
    CHECK(z[0] == 0 && z[zsize / 2] == 0 && z[zsize - 1] == 0 && z[12345] == 0);
    z[0] = 1;
    z[zsize / 2] = 1;
    z[12345] = 1;
    free(z);
  }
  long end = status_kib("VmRSS");
  printf("large_cache: calloc(%zu KiB) x 4, three of them from the cache: rss %ld -> %ld KiB\n", zsize >> 10, start,
         end);
  CHECK(end - start <= 8192);
  printf("large_cache: %d failure(s)\n", failures);
  return failures;
}
