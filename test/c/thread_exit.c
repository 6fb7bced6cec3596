/* Frees and mallocs after a thread's allocator teardown, and blocks of exited threads freed by others.
 *
 *   gcc -O1 -g -pthread -o thread_exit test/c/thread_exit.c && LD_PRELOAD=/path/to/tsmalloc.so ./thread_exit
 * The exit status is the number of failures, one line each. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, const void *p) {
  pthread_mutex_lock(&fail_lock);
  failures++;
  printf("FAIL: %s (%p)\n", what, p);
  fflush(stdout);
  pthread_mutex_unlock(&fail_lock);
}

static int check(const unsigned char *p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

/* 1. A key made after the first malloc: its destructor runs after the allocator's own thread teardown. */
static pthread_key_t late_key;

static void late_destructor(void *v) {
  unsigned char *p = v;
  if (!check(p, 1000, 0x5A)) fail("late destructor: block changed", p);
  free(p); /* free after teardown */
  /* malloc after teardown, and free it again, several sizes including large */
  size_t sizes[] = {1, 24, 200, 5000, 70000, 300000, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *q = malloc(sizes[i]);
    if (!q) {
      fail("malloc in a late destructor returned NULL", NULL);
      continue;
    }
    memset(q, 0x33, sizes[i]);
    void *r = realloc(q, sizes[i] * 2);
    if (!r) fail("realloc in a late destructor returned NULL", q);
    else free(r);
  }
}

static void *late_thread(void *arg) {
  (void)arg;
  unsigned char *p = malloc(1000);
  memset(p, 0x5A, 1000);
  pthread_setspecific(late_key, p);
  /* plus ordinary work so the thread has pages of its own */
  void *junk[100];
  for (int i = 0; i < 100; i++) junk[i] = malloc((size_t)i * 13);
  for (int i = 0; i < 100; i += 2) free(junk[i]);
  return NULL;
}

/* 2. Threads allocate and exit; another thread frees their blocks (and adopts their pages). */
enum { PRODUCERS = 8, PER_PRODUCER = 20000 };
static unsigned char *blocks[PRODUCERS][PER_PRODUCER];

static size_t size_of(int t, int i) { return (size_t)((i * 7919 + t * 31) % 2000) + (i % 97 == 0 ? 200000 : 0); }

static void *producer(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    size_t n = size_of(t, i);
    blocks[t][i] = malloc(n);
    if (!blocks[t][i]) {
      fail("producer malloc returned NULL", NULL);
      continue;
    }
    memset(blocks[t][i], (unsigned char)(t + i), n);
  }
  /* free some itself so its pages are partly empty when it exits */
  for (int i = 0; i < PER_PRODUCER; i += 3) {
    free(blocks[t][i]);
    blocks[t][i] = NULL;
  }
  return NULL;
}

static void *freer(void *arg) {
  (void)arg;
  for (int t = 0; t < PRODUCERS; t++)
    for (int i = 0; i < PER_PRODUCER; i++) {
      unsigned char *p = blocks[t][i];
      if (!p) continue;
      if (!check(p, size_of(t, i), (unsigned char)(t + i))) fail("block of an exited thread changed", p);
      free(p);
      blocks[t][i] = NULL;
    }
  return NULL;
}

/* 3. Many short threads, each leaving one block behind for main to free, in waves. */
static void *short_thread(void *arg) {
  void **out = arg;
  *out = malloc(64);
  if (*out) memset(*out, 0x77, 64);
  return NULL;
}

/* 4. A free in an atexit handler, after every thread is gone. */
static void *atexit_block;
static void at_exit_free(void) { free(atexit_block); }

int main(void) {
  void *first = malloc(10);
  free(first);
  if (pthread_key_create(&late_key, late_destructor) != 0) fail("pthread_key_create", NULL);
  for (int round = 0; round < 20; round++) {
    pthread_t t;
    pthread_create(&t, NULL, late_thread, NULL);
    pthread_join(t, NULL);
  }

  pthread_t prod[PRODUCERS];
  for (intptr_t t = 0; t < PRODUCERS; t++) pthread_create(&prod[t], NULL, producer, (void *)t);
  for (int t = 0; t < PRODUCERS; t++) pthread_join(prod[t], NULL);
  pthread_t f;
  pthread_create(&f, NULL, freer, NULL);
  pthread_join(f, NULL);

  for (int wave = 0; wave < 20; wave++) {
    enum { N = 16 };
    pthread_t t[N];
    void *left[N];
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, short_thread, &left[i]);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) {
      if (!left[i] || !check(left[i], 64, 0x77)) fail("block of a short thread lost", left[i]);
      free(left[i]);
    }
  }
  /* after all that, the heap still works normally */
  for (int i = 0; i < 100000; i++) free(malloc((size_t)(i % 3000)));
  atexit_block = malloc(123);
  atexit(at_exit_free);
  printf("thread_exit: %d failure(s)\n", failures);
  return failures;
}
