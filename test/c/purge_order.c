/* Over the retain limit, the memory freed longest ago goes back to the OS first and the latest stays resident.
 *
 *   gcc -O1 -g -o purge_order test/c/purge_order.c
 *   TSMALLOC_RETAIN_KB=256 TSMALLOC_PURGE_DELAY_MS=3600000 LD_PRELOAD=/path/to/tsmalloc.so ./purge_order
 * Blocks of 48 KiB have a 64 KiB page each (one block per page above 32 KiB), which goes back to its segment,
 * dirty, when the block is freed. Each block is written whole, then all are freed in order: every free but the
 * first few crosses the 256 KiB limit. After each free the block just freed must still be resident (mincore) and,
 * once a few limits' worth were freed, the first one freed must not be. Returning whole segments at a time, as
 * tsmalloc did before, returned the block just freed too: a program cycling buffers through a few pages refaulted
 * them. The purge delay is set out of reach so only the retain limit purges. The exit status is the number of
 * failures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { BLOCKS = 40, SIZE = 48 << 10 };

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

int main(void) {
  static char *b[BLOCKS];
  static char out[4096];
  setvbuf(stdout, out, _IOLBF, sizeof out); /* a report must not allocate: it would land in the freed pages */
  int failures = 0;
  for (int i = 0; i < BLOCKS; i++) {
    b[i] = malloc(SIZE);
    if (!b[i]) {
      printf("malloc(%d) failed\n", SIZE);
      return 1;
    }
    memset(b[i], i + 1, SIZE);
  }
  int whole = SIZE / 4096;
  for (int i = 0; i < BLOCKS; i++) {
    free(b[i]);
    /* The first 16 bytes were written by free (the block's free-list link and tag): still resident either way. */
    int r = resident_pages(b[i], SIZE);
    if (r < whole) {
      printf("block %d: %d of its %d pages resident right after its free (expected all)\n", i, r, whole);
      failures++;
    }
  }
  int first = resident_pages(b[0], SIZE);
  if (first != 0) {
    printf("block 0, freed first: %d of its %d pages still resident after %d KiB more were freed\n", first, whole,
           (BLOCKS - 1) * (SIZE >> 10));
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
