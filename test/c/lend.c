/* tsmalloc lending: a class short of blocks takes a slightly larger free block, one another thread freed
 * included; aligned requests never do.
 *
 *   gcc -O1 -g -pthread -o lend test/c/lend.c && LD_PRELOAD=/path/to/tsmalloc.so ./lend
 * Each check runs on a fresh thread, whose heap starts with no pages, so which block comes back is known. The exit
 * status is the number of failures. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Leaves one free block on the current page of the class of n; returns it. */
static void *leave_free(size_t n, void **keep) {
  *keep = malloc(n);
  void *b = malloc(n);
  free(b);
  return b;
}

static void *lend(void *arg) {
  (void)arg;
  void *keep;
  void *spare = leave_free(1100, &keep); /* class 1152 */
  void *r = malloc(1030);                /* class 1056 has no block yet: 1152's spare serves it */
  CHECK(r == spare);
  CHECK(malloc_usable_size(r) >= 1100); /* the true size of what was lent, which a program may use */
  memset(r, 0x5a, malloc_usable_size(r));
  CHECK(malloc_usable_size(keep) >= 1100 && ((unsigned char *)r)[1029] == 0x5a);
  free(r);
  free(keep);
  return NULL;
}

static void *free_it(void *p) {
  free(p);
  return NULL;
}

/* The lender's page has no free block of its own, but another thread freed one into it: lending takes that. */
static void *lend_remote(void *arg) {
  (void)arg;
  void *keep = malloc(1100), *b = malloc(1100); /* class 1152: one block carved at a time, none left free */
  pthread_t t;
  CHECK(pthread_create(&t, NULL, free_it, b) == 0 && pthread_join(t, NULL) == 0);
  void *r = malloc(1030); /* class 1056 has no block yet */
  CHECK(r == b);
  free(r);
  free(keep);
  return NULL;
}

static void *aligned(void *arg) {
  (void)arg;
  enum { SPARES = 8 };
  static const size_t sizes[SPARES] = {800, 850, 900, 1040, 1100, 1200, 1300, 1400}; /* 832 .. 1408 B */
  void *keep[SPARES], *spare[SPARES];
  for (int i = 0; i < SPARES; i++) spare[i] = leave_free(sizes[i], &keep[i]);
  void *a = memalign(1024, 1024);
  void *b = aligned_alloc(256, 768);
  void *c = NULL;
  CHECK(posix_memalign(&c, 512, 1000) == 0);
  void *got[3] = {a, b, c};
  size_t align[3] = {1024, 256, 512};
  for (int k = 0; k < 3; k++) {
    CHECK(got[k] != NULL && (uintptr_t)got[k] % align[k] == 0);
    for (int i = 0; i < SPARES; i++) CHECK(got[k] != spare[i]);
    free(got[k]);
  }
  for (int i = 0; i < SPARES; i++) free(keep[i]);
  return NULL;
}

int main(void) {
  void *(*checks[])(void *) = {lend, lend_remote, aligned};
  for (unsigned i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, checks[i], NULL) == 0 && pthread_join(t, NULL) == 0);
  }
  printf("lend: %d failures\n", failures);
  return failures;
}
