/* Per-class counts in the TSMALLOC_STATS=1 report: known mallocs and frees of one class, some from another thread. */
/* Build: gcc -O1 -g -fno-builtin -pthread -o stats test/c/stats.c; run with TSMALLOC_STATS=1 under LD_PRELOAD.
   Allocates 1000 blocks of 2900 bytes (class 3072, which nothing else here uses), frees 600 on this thread and 300
   on another, and exits with 100 still allocated. The 300 remote frees are never collected by this thread (it does
   not allocate again), so the report must count them as freed without the owner's help. The test reads the row of
   class 3072: 1000 mallocs, 900 frees. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1000, SIZE = 2900 };
static void *blocks[N];

static void *free_some(void *arg) {
  (void)arg;
  for (int i = 600; i < 900; i++) free(blocks[i]);
  return NULL;
}

int main(void) {
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(SIZE);
    if (!blocks[i]) return 1;
    memset(blocks[i], i, SIZE);
  }
  for (int i = 0; i < 600; i++) free(blocks[i]);
  pthread_t t;
  if (pthread_create(&t, NULL, free_some, NULL) != 0) return 1;
  pthread_join(t, NULL);
  printf("stats: 1000 mallocs and 900 frees of %d bytes, 100 left\n", SIZE);
  return 0;
}
