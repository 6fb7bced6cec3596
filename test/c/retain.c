/* Short-lived threads that each use many size classes a little, as thread pools and servers do.
 *
 *   gcc -O1 -g -pthread -o retain test/c/retain.c
 *   TSMALLOC_VERBOSE=2 TSMALLOC_PURGE_DELAY_MS=60000 TSMALLOC_RETAIN_KB=2048 LD_PRELOAD=/path/to/tsmalloc.so ./retain
 * Each thread takes one block in each of about 60 size classes from 16 B to 32 KiB, writes it and frees it before
 * exiting: 61 pages (6.6 MiB of slices) that touched about 550 KiB in all. The test (tsmalloc.test.mjs) checks
 * that tsmalloc returns none of it to the OS at once under a 2 MiB retain limit, since what those pages hold is
 * below it, and that it does with TSMALLOC_RETAIN_KB=0. Counting
 * every free slice as its whole 64 KiB (some pages take 2 or 4) made this about 6 MiB a thread and sent purges
 * through each thread exit.
 * The exit status is the number of failures. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 40, MAX_BLOCKS = 128 };

static void *work(void *arg) {
  (void)arg;
  void *b[MAX_BLOCKS];
  int k = 0;
  for (size_t n = 16; n <= 32768 && k < MAX_BLOCKS; n += n / 12 + 16, k++) { /* steps of about 8%: a class each */
    b[k] = malloc(n);
    if (!b[k]) return (void *)1;
    memset(b[k], k, n);
  }
  for (int i = 0; i < k; i++) free(b[i]);
  return NULL;
}

int main(void) {
  int failures = 0;
  for (int t = 0; t < THREADS; t++) {
    pthread_t tid;
    void *r = NULL;
    if (pthread_create(&tid, NULL, work, NULL) != 0 || pthread_join(tid, &r) != 0 || r) {
      printf("FAIL: thread %d\n", t);
      failures++;
    }
  }
  printf("retain: %d threads done\n", THREADS);
  return failures;
}
