/* Many threads replace blocks in one shared table, so nearly every free is of another thread's block; a round of
 * threads runs to the end, then the next round starts. Not a bench workload: a known weakness of allocators that
 * give a freed block back to its owner's page (tsmalloc, mimalloc), kept here so the README's figures can be rerun.
 *
 *   gcc -O1 -pthread -o xfree bench/programs/xfree.c
 *   /usr/bin/time -f %M env LD_PRELOAD=<allocator> ./xfree [threads=64] [rounds=3]     (peak RSS in KiB)
 * Live data stays under about 16 MiB: 16384 slots of 1-2048 bytes. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16384
#define ITERS 20000
static void *_Atomic slots[SLOTS];

static void *replace(void *arg) {
  unsigned s = (unsigned)(size_t)arg * 7 + 1;
  for (int i = 0; i < ITERS; i++) {
    s = s * 1103515245 + 12345;
    void *n = malloc((s >> 16) % 2048 + 1);
    if (!n) abort();
    memset(n, (int)(size_t)arg, 8);
    free(atomic_exchange(&slots[(s >> 8) % SLOTS], n));
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 64, rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (threads < 1 || threads > 1024) threads = 64;
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, replace, (void *)(size_t)i);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  }
  for (int i = 0; i < SLOTS; i++) free(atomic_exchange(&slots[i], NULL));
  free(t);
  puts("xfree: done");
  return 0;
}
