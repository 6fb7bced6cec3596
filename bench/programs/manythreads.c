/* Many threads alive at once, each making a few small mallocs, then all ending together: what a thread costs an
 * allocator in memory, and what many threads exiting at once cost it in time. Not a bench workload (glibc's
 * arenas, shared by threads, set a bar no per-thread heap can reach); kept so that the README's figures can be
 * rerun.
 *
 *   gcc -O1 -pthread -o manythreads bench/programs/manythreads.c
 *   /usr/bin/time -f '%e s %M KiB' env LD_PRELOAD=<allocator> ./manythreads [threads=1000]
 * Each thread mallocs 12 blocks of 16-128 bytes and writes them, waits until every thread has, frees them and
 * exits. Thread stacks are 64 KiB, of which each thread touches a few KiB whatever the allocator. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCKS = 12 };

static pthread_barrier_t all_allocated;

static void *work(void *arg) {
  void *b[BLOCKS];
  for (int i = 0; i < BLOCKS; i++) {
    size_t n = (size_t)16 << (i % 4);
    b[i] = malloc(n);
    if (!b[i]) return (void *)1;
    memset(b[i], i, n);
  }
  pthread_barrier_wait(&all_allocated);
  for (int i = 0; i < BLOCKS; i++) free(b[i]);
  return arg;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  if (n < 1 || n > 100000) {
    fprintf(stderr, "usage: manythreads [threads, 1-100000]\n");
    return 2;
  }
  pthread_t *tid = malloc((size_t)n * sizeof *tid);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_barrier_init(&all_allocated, NULL, (unsigned)n + 1);
  for (long i = 0; i < n; i++)
    if (pthread_create(&tid[i], &attr, work, NULL) != 0) {
      perror("pthread_create");
      return 1;
    }
  pthread_barrier_wait(&all_allocated);
  int failures = 0;
  for (long i = 0; i < n; i++) {
    void *r;
    pthread_join(tid[i], &r);
    failures += r != NULL;
  }
  free(tid);
  return failures != 0;
}
