/* Memory of an exited thread that another thread frees goes back to the OS: the freeing thread adopts the segments.
 *
 *   gcc -O1 -g -pthread -o reclaim test/c/reclaim.c && LD_PRELOAD=/path/to/tsmalloc.so ./reclaim [mib]
 * A worker allocates a chain of small blocks (64 MiB by default) and exits; main frees the chain, idles for half a
 * second with a little allocation, and checks that at most a quarter of it is still resident. Without adoption on
 * free the blocks sit, free, in segments nobody owns, and all of it stays. tsmalloc-specific: glibc keeps what a
 * thread arena held. The exit status is the number of failures. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rss.h"

static size_t budget;

/* Allocates the chain (linked through each block's first word) and returns its head as the thread's result. */
static void *worker(void *arg) {
  (void)arg;
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  void *head = NULL;
  for (size_t total = 0; total < budget;) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    size_t size = 64 + rng % 449;
    void **b = malloc(size);
    if (!b) return NULL;
    memset(b, 0x5A, size);
    *b = head;
    head = b;
    total += size;
  }
  return head;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 64;
  budget = (size_t)mib << 20;
  long before = status_kib("VmRSS");
  pthread_t t;
  void *head = NULL;
  CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
  CHECK(pthread_join(t, &head) == 0);
  CHECK(head != NULL);
  long peak = status_kib("VmRSS");
  size_t blocks = 0;
  while (head) {
    void *next = *(void **)head;
    CHECK(((unsigned char *)head)[8] == 0x5A);
    free(head);
    head = next;
    blocks++;
  }
  idle_lightly();
  long after = status_kib("VmRSS");
  long burst = peak - before;
  double pct = burst > 0 ? 100.0 * (double)(after - before) / (double)burst : 100.0;
  printf("reclaim: %zu blocks; rss before %ld KiB, after the worker %ld KiB, after main freed them and idled %ld KiB "
         "(%.1f%% of the worker's memory)\n",
         blocks, before, peak, after, pct);
  CHECK(burst > (long)(budget >> 10) / 2);
  CHECK(pct <= 25.0);
  printf("reclaim: %d failure(s)\n", failures);
  return failures;
}
