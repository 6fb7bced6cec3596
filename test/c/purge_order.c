/* Beyond the retain limit: memory freed a moment ago stays resident, memory idle longest goes back to the OS first,
 * and beyond 8 times the limit memory goes back however young it is.
 *
 *   gcc -O1 -g -o purge_order test/c/purge_order.c
 *   TSMALLOC_RETAIN_KB=256 TSMALLOC_PURGE_DELAY_MS=3600000 LD_PRELOAD=/path/to/tsmalloc.so ./purge_order
 * Blocks of 48 KiB have a 64 KiB page each (one block per page above 32 KiB), which goes back to its segment,
 * dirty, when the block is freed; mincore tells whether its memory is still resident. The purge delay is set out
 * of reach so only the retain limit returns memory. The three checks, with a 256 KiB limit:
 *   1. 8 blocks (384 KiB) freed within one tick of the coarse clock all stay resident: nothing there is idle.
 *   2. 8 more freed 10 ms apart: each stays resident right after its free, and the first block of step 1, idle
 *      longest, is returned. (Returning whole segments, as tsmalloc did before, returned the block just freed.)
 *   3. 48 more (2.3 MiB) freed at once: some are returned, as they exceed 8 times the limit.
 * The exit status is the number of failures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { SIZE = 48 << 10, QUICK = 8, SLOW = 8, BURST = 48, BLOCKS = QUICK + SLOW + BURST };

/* Resident 4 KiB pages of [p, p + n). */
static int resident_pages(void *p, size_t n) {
  uintptr_t lo = (uintptr_t)p & ~(uintptr_t)4095, hi = ((uintptr_t)p + n + 4095) & ~(uintptr_t)4095;
  unsigned char vec[64];
  size_t pages = (hi - lo) / 4096;
  if (pages > sizeof vec || mincore((void *)lo, hi - lo, vec) != 0) return -1;
  int r = 0;
  for (size_t i = 0; i < pages; i++) r += vec[i] & 1;
  return r;
}

/* Returns just after the coarse clock (the one tsmalloc dates free memory with) ticks, so that a few frees made at
 * once all fall within one tick. */
static void wait_tick(void) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &a);
  do clock_gettime(CLOCK_MONOTONIC_COARSE, &b);
  while (b.tv_sec == a.tv_sec && b.tv_nsec == a.tv_nsec);
}

int main(void) {
  static char *b[BLOCKS];
  static char out[4096];
  setvbuf(stdout, out, _IOLBF, sizeof out); /* a report must not allocate: it would land in the freed pages */
  int failures = 0, whole = SIZE / 4096;
  for (int i = 0; i < BLOCKS; i++) {
    b[i] = malloc(SIZE);
    if (!b[i]) {
      printf("malloc(%d) failed\n", SIZE);
      return 1;
    }
    memset(b[i], i + 1, SIZE);
  }

  wait_tick();
  for (int i = 0; i < QUICK; i++) free(b[i]);
  for (int i = 0; i < QUICK; i++) {
    int r = resident_pages(b[i], SIZE);
    if (r < whole) {
      printf("step 1: block %d, freed a moment ago, has %d of its %d pages resident (expected all)\n", i, r, whole);
      failures++;
    }
  }

  for (int i = QUICK; i < QUICK + SLOW; i++) {
    usleep(10000);
    free(b[i]);
    int r = resident_pages(b[i], SIZE);
    if (r < whole) {
      printf("step 2: block %d has %d of its %d pages resident right after its free (expected all)\n", i, r, whole);
      failures++;
    }
  }
  int first = resident_pages(b[0], SIZE);
  if (first != 0) {
    printf("step 2: block 0, idle longest, still has %d of its %d pages resident (expected none)\n", first, whole);
    failures++;
  }

  for (int i = QUICK + SLOW; i < BLOCKS; i++) free(b[i]);
  int kept = 0;
  for (int i = QUICK + SLOW; i < BLOCKS; i++) kept += resident_pages(b[i], SIZE) == whole;
  if (kept == BURST) {
    printf("step 3: all %d blocks (%d KiB) freed at once are still resident (expected some returned)\n", BURST,
           BURST * (SIZE >> 10));
    failures++;
  }

  /* The memory is still usable: take it all again and check it reads as written. */
  for (int i = 0; i < BLOCKS; i++) {
    b[i] = malloc(SIZE);
    if (!b[i]) return failures + 1;
    memset(b[i], 0x5a, SIZE);
  }
  for (int i = 0; i < BLOCKS; i++) {
    for (size_t k = 0; k < SIZE; k += 4093)
      if ((unsigned char)b[i][k] != 0x5a) {
        printf("block %d reads back wrong at %zu\n", i, k);
        failures++;
        break;
      }
    free(b[i]);
  }
  printf("%d failures\n", failures);
  return failures;
}
