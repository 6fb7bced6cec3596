/* Waves of threads started and ended together: each thread fills blocks of a few classes, checks them, frees
 * most and leaves the rest for main to free after the join (frees into exited threads' segments).
 *
 *   gcc -O1 -g -pthread -o thread_waves test/c/thread_waves.c
 *   TSMALLOC_VERBOSE=2 TSMALLOC_RETAIN_KB=0 LD_PRELOAD=/path/to/tsmalloc.so ./thread_waves 20 16
 * Arguments: waves, threads per wave (up to 4096). The test (tsmalloc.test.mjs) runs one wave of 1000 threads,
 * and 20 waves of 16 under TSMALLOC_RETAIN_KB=0, where every freed segment is purged: it then counts the
 * segments the purge lines name, which stay near one wave's worth only if purged segments are used again. It
 * also builds this file with the allocator under ThreadSanitizer and AddressSanitizer, as stress.c is (the
 * tsm_ names below). The exit status is the number of failures. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(TSMALLOC_PREFIX) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
void *tsm_malloc(size_t);
void tsm_free(void *);
#define malloc tsm_malloc
#define free tsm_free
#endif

enum { BLOCKS = 24, LEFT = 4, MAX_THREADS = 4096 };

typedef struct {
  unsigned id;
  unsigned char *left[LEFT];
  size_t left_size[LEFT];
  int failures;
} job_t;

static size_t block_size(unsigned id, int i) { return (size_t)16 << ((id + (unsigned)i) % 9); /* 16 B-4 KiB */ }

static void *work(void *arg) {
  job_t *job = arg;
  unsigned char *b[BLOCKS];
  for (int i = 0; i < BLOCKS; i++) {
    size_t n = block_size(job->id, i);
    b[i] = malloc(n);
    if (!b[i]) {
      job->failures++;
      return NULL;
    }
    memset(b[i], (int)(job->id + (unsigned)i) & 0xff, n);
  }
  for (int i = 0; i < BLOCKS; i++) {
    size_t n = block_size(job->id, i);
    for (size_t k = 0; k < n; k++)
      if (b[i][k] != ((job->id + (unsigned)i) & 0xff)) {
        job->failures++;
        break;
      }
  }
  for (int i = 0; i < BLOCKS - LEFT; i++) free(b[i]);
  for (int i = 0; i < LEFT; i++) {
    job->left[i] = b[BLOCKS - LEFT + i];
    job->left_size[i] = block_size(job->id, BLOCKS - LEFT + i);
  }
  return NULL;
}

int main(int argc, char **argv) {
  long waves = argc > 1 ? atol(argv[1]) : 20, per = argc > 2 ? atol(argv[2]) : 16;
  if (waves < 1 || per < 1 || per > MAX_THREADS) {
    fprintf(stderr, "usage: thread_waves [waves] [threads per wave, 1-%d]\n", MAX_THREADS);
    return 2;
  }
  static job_t job[MAX_THREADS];
  static pthread_t tid[MAX_THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 128 << 10);
  int failures = 0;
  for (long w = 0; w < waves; w++) {
    long started = 0;
    for (long t = 0; t < per; t++, started++) {
      memset(&job[t], 0, sizeof job[t]);
      job[t].id = (unsigned)(w * per + t);
      if (pthread_create(&tid[t], &attr, work, &job[t]) != 0) {
        printf("FAIL: wave %ld: pthread_create %ld\n", w, t);
        failures++;
        break;
      }
    }
    for (long t = 0; t < started; t++) {
      pthread_join(tid[t], NULL);
      failures += job[t].failures;
      for (int i = 0; i < LEFT; i++) {
        unsigned char *p = job[t].left[i];
        if (!p) continue;
        unsigned char want = (unsigned char)((job[t].id + (unsigned)(BLOCKS - LEFT + i)) & 0xff);
        if (p[0] != want || p[job[t].left_size[i] - 1] != want) {
          printf("FAIL: wave %ld thread %ld: a block left to main changed\n", w, t);
          failures++;
        }
        free(p);
      }
    }
  }
  printf("thread_waves: %ld waves of %ld threads, %d failure(s)\n", waves, per, failures);
  return failures;
}
