/* Many threads alive at once, each making a few small mallocs: with tsmalloc they come from the shared heap until a
 * thread has made TSMALLOC_YOUNG_MALLOCS of them (alloc.c), so the threads take no segments of their own.
 *
 *   gcc -O1 -g -pthread -o young test/c/young.c
 *   LD_PRELOAD=/path/to/tsmalloc.so ./young [threads=200] [mallocs per thread=12]
 * While every thread holds its blocks, main prints mallinfo2's arena (tsmalloc: the segments owned, 4 MiB each) as
 * "arena_mib=N"; the test (tsmalloc.test.mjs) checks it stays small by default and grows by a segment a thread
 * when the threads make more mallocs than that, or with TSMALLOC_YOUNG_MALLOCS=0. Each thread checks its blocks,
 * frees most and leaves two to main, which checks and frees them after the join. The exit status is the number of
 * failures. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_THREADS = 1024, MAX_BLOCKS = 256, LEFT = 2 };

typedef struct {
  int id, n;
  unsigned char *left[LEFT];
  int failures;
} job_t;

static pthread_barrier_t allocated, measured;
static size_t size_of(int id, int i) { return (size_t)16 << ((id + i) % 4); /* 16-128 B */ }

static void *work(void *arg) {
  job_t *job = arg;
  unsigned char *b[MAX_BLOCKS];
  for (int i = 0; i < job->n; i++) {
    b[i] = malloc(size_of(job->id, i));
    if (!b[i]) {
      job->failures++;
      job->n = i;
      break;
    }
    memset(b[i], (job->id * 7 + i) & 0xff, size_of(job->id, i));
  }
  pthread_barrier_wait(&allocated);
  pthread_barrier_wait(&measured);
  for (int i = 0; i < job->n; i++) {
    for (size_t k = 0; k < size_of(job->id, i); k++)
      if (b[i][k] != ((job->id * 7 + i) & 0xff)) {
        job->failures++;
        break;
      }
    if (i < job->n - LEFT) free(b[i]);
    else job->left[i - (job->n - LEFT)] = b[i];
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 200, n = argc > 2 ? atoi(argv[2]) : 12;
  if (threads < 1 || threads > MAX_THREADS || n < LEFT || n > MAX_BLOCKS) {
    fprintf(stderr, "usage: young [threads, 1-%d] [mallocs per thread, %d-%d]\n", MAX_THREADS, LEFT, MAX_BLOCKS);
    return 2;
  }
  static job_t job[MAX_THREADS];
  static pthread_t tid[MAX_THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 << 10);
  pthread_barrier_init(&allocated, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&measured, NULL, (unsigned)threads + 1);
  for (int t = 0; t < threads; t++) {
    job[t].id = t;
    job[t].n = n;
    if (pthread_create(&tid[t], &attr, work, &job[t]) != 0) {
      printf("FAIL: pthread_create %d\n", t);
      return 1;
    }
  }
  pthread_barrier_wait(&allocated);
  struct mallinfo2 mi = mallinfo2();
  printf("arena_mib=%zu\n", mi.arena >> 20);
  pthread_barrier_wait(&measured);
  int failures = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    failures += job[t].failures;
    for (int i = 0; i < LEFT; i++) {
      int k = job[t].n - LEFT + i;
      unsigned char *p = job[t].left[i];
      if (p[0] != ((t * 7 + k) & 0xff) || p[size_of(t, k) - 1] != ((t * 7 + k) & 0xff)) {
        printf("FAIL: thread %d: a block left to main changed\n", t);
        failures++;
      }
      free(p);
    }
  }
  printf("young: %d threads of %d mallocs, %d failure(s)\n", threads, n, failures);
  return failures;
}
