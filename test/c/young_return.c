/* Memory that young threads took from the shared heap goes back to the OS once they free it, while the program
 * carries on with light use and no young thread comes back for it.
 *
 *   gcc -O1 -g -fno-builtin -pthread -o young_return test/c/young_return.c
 *   LD_PRELOAD=/path/to/tsmalloc.so ./young_return
 * 500 threads alive at once each take 100 blocks of 512 bytes (50 KiB, under TSMALLOC_YOUNG_MALLOCS, so all from
 * the shared heap), free them and exit; main then idles lightly for half a second (rss.h). The test
 * (tsmalloc.test.mjs) checks that RSS after that is under half the peak: without the shared heap's timed
 * collection its pages kept all 31 MB (the frees reach the pages' remote lists, which only that heap's own slow
 * path took in). The exit status is the number of failures. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rss.h"

enum { THREADS = 500, BLOCKS = 100, SIZE = 512 };

static pthread_barrier_t allocated;

static void *work(void *arg) {
  unsigned char *b[BLOCKS];
  int failures = 0;
  for (int i = 0; i < BLOCKS; i++) {
    b[i] = malloc(SIZE);
    if (!b[i]) return (void *)1;
    memset(b[i], i, SIZE);
  }
  pthread_barrier_wait(&allocated);
  for (int i = 0; i < BLOCKS; i++) {
    if (b[i][0] != i || b[i][SIZE - 1] != i) failures++;
    free(b[i]);
  }
  return failures ? (void *)1 : arg;
}

int main(void) {
  static pthread_t tid[THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_barrier_init(&allocated, NULL, THREADS + 1);
  for (int t = 0; t < THREADS; t++)
    if (pthread_create(&tid[t], &attr, work, NULL) != 0) {
      printf("FAIL: pthread_create %d\n", t);
      return 1;
    }
  pthread_barrier_wait(&allocated);
  long peak = status_kib("VmRSS");
  int failures = 0;
  for (int t = 0; t < THREADS; t++) {
    void *r;
    pthread_join(tid[t], &r);
    failures += r != NULL;
  }
  idle_lightly();
  long idle = status_kib("VmRSS");
  printf("young_return: rss_peak_kib=%ld rss_idle_kib=%ld\n", peak, idle);
  if (failures) printf("FAIL: %d threads found their blocks changed\n", failures);
  return failures;
}
