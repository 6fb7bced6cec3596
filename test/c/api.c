/* API conformance for the glibc malloc functions every bundled allocator exports; exits with its failure count. */
/* Build: gcc -O1 -g -fno-builtin -o api test/c/api.c; run under LD_PRELOAD=<allocator>. Also passes on glibc.
 * `api N` sweeps aligned sizes below 9000 in steps of N (default 1): a first-fit list allocator that never
 * coalesces, like `simple`, keeps every alignment gap on its free list and walks it on each request, so the whole
 * sweep (100,000 requests) takes it about a minute; step 61 keeps its share of the test to a second. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static int aligned(const void *p, size_t a) { return ((uintptr_t)p % a) == 0; }

/* Opaque to the optimizer so that it cannot fold or drop allocator calls around it. */
static size_t (*volatile opaque_size)(size_t) = NULL;
static size_t id(size_t x) { return x; }
#define HUGE_SIZE (opaque_size(SIZE_MAX - 64))

static void test_malloc(void) {
  void *a = malloc(0), *b = malloc(0);
  CHECK(a != NULL && b != NULL && a != b); /* unique pointers for size 0 */
  CHECK(aligned(a, 16) && aligned(b, 16));
  free(a);
  free(b);
  for (size_t size = 1; size <= 70000; size = size * 3 / 2 + 1) {
    unsigned char *p = malloc(size);
    CHECK(p != NULL && aligned(p, 16));
    if (p == NULL) continue;
    CHECK(malloc_usable_size(p) >= size);
    memset(p, 0xab, malloc_usable_size(p)); /* programs may write up to the usable size */
    free(p);
  }
  errno = 0;
  CHECK(malloc(HUGE_SIZE) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(malloc(opaque_size(PTRDIFF_MAX) + 1) == NULL && errno == ENOMEM);
  CHECK(malloc_usable_size(NULL) == 0);
}

static void test_free(void) {
  free(NULL); /* no-op */
  void *p = malloc(100);
  errno = 12345;
  free(p);
  CHECK(errno == 12345); /* free keeps errno */
  void *big = malloc(64 << 20);
  errno = 54321;
  free(big);
  CHECK(errno == 54321);
}

static void test_calloc(void) {
  for (int round = 0; round < 2; round++) {
    /* Dirty some memory first so a reused block must really be cleared. */
    unsigned char *d = malloc(4096);
    memset(d, 0xff, 4096);
    free(d);
    for (size_t n = 1; n <= 5000; n = n * 2 + 1) {
      unsigned char *p = calloc(n, 1);
      CHECK(p != NULL && aligned(p, 16));
      if (p == NULL) continue;
      size_t nonzero = 0;
      for (size_t i = 0; i < n; i++) nonzero += p[i] != 0;
      CHECK(nonzero == 0);
      memset(p, 0x5a, n);
      free(p);
    }
  }
  void *z = calloc(0, 0);
  CHECK(z != NULL);
  free(z);
  errno = 0;
  CHECK(calloc(opaque_size(SIZE_MAX / 2), 3) == NULL && errno == ENOMEM); /* overflow of n * size */
  errno = 0;
  CHECK(calloc(opaque_size((size_t)1 << 33), (size_t)1 << 33) == NULL && errno == ENOMEM);
}

static void test_realloc(void) {
  unsigned char *p = realloc(NULL, 40); /* realloc(NULL, n) is malloc(n) */
  CHECK(p != NULL && aligned(p, 16));
  for (int i = 0; i < 40; i++) p[i] = (unsigned char)i;
  size_t sizes[] = {80, 7, 5000, 1 << 20, 33, 300000, 16};
  size_t keep = 7;
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    unsigned char *q = realloc(p, sizes[k]);
    CHECK(q != NULL && aligned(q, 16));
    if (q == NULL) break;
    p = q;
    int same = 1;
    for (size_t i = 0; i < keep; i++) same &= p[i] == (unsigned char)i;
    CHECK(same); /* contents survive up to the smaller size */
  }
  errno = 0;
  unsigned char *r = realloc(p, HUGE_SIZE);
  CHECK(r == NULL && errno == ENOMEM);
  CHECK(p[3] == 3); /* the old block is untouched after a failed realloc */
  CHECK(realloc(p, 0) == NULL); /* glibc: realloc(p, 0) frees p and returns NULL */

  unsigned char *a = reallocarray(NULL, 10, 10);
  CHECK(a != NULL);
  errno = 0;
  CHECK(reallocarray(a, opaque_size(SIZE_MAX / 2), 4) == NULL && errno == ENOMEM);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free" /* a failed reallocarray leaves `a` alive */
  unsigned char *b = reallocarray(a, 20, 10);
#pragma GCC diagnostic pop
  CHECK(b != NULL);
  free(b);
}

static size_t sweep_step = 1;

static void test_aligned(void) {
  for (size_t align = 1; align <= 65536; align *= 2) {
    void *p = memalign(align, 24);
    CHECK(p != NULL && aligned(p, align < 16 ? 16 : align));
    free(p);
    p = aligned_alloc(align, 100);
    CHECK(p != NULL && aligned(p, align < 16 ? 16 : align));
    free(p);
  }
  /* Every alignment with every size up to 9000 and a spread up to 140 KB: an allocator that picks a size class
   * for an aligned request must only ever pick one whose blocks are aligned (classes like 2^k + 32 included). */
  long misaligned = 0;
  for (size_t align = 32; align <= 16384; align *= 2)
    for (size_t n = 1; n <= 140000; n += n < 9000 ? sweep_step : 97) {
      void *q = NULL;
      if (posix_memalign(&q, align, n) != 0 || !aligned(q, align) || malloc_usable_size(q) < n) misaligned++;
      free(q);
    }
  CHECK(misaligned == 0);
  void *p = memalign(48, 10); /* glibc rounds a non-power-of-two alignment up: 64 */
  CHECK(p != NULL && aligned(p, 64));
  free(p);
  p = aligned_alloc(64, 10); /* size need not be a multiple of the alignment */
  CHECK(p != NULL && aligned(p, 64));
  free(p);
  errno = 0;
  CHECK(memalign(opaque_size(SIZE_MAX / 2 + 2), 16) == NULL && errno == EINVAL); /* no such power of two */
  errno = 0;
  CHECK(memalign(64, HUGE_SIZE) == NULL && errno == ENOMEM);

  void *out = (void *)0x1234;
  CHECK(posix_memalign(&out, 24, 8) == EINVAL && out == (void *)0x1234); /* not a power of two */
  CHECK(posix_memalign(&out, 4, 8) == EINVAL && out == (void *)0x1234); /* not a multiple of sizeof(void *) */
  CHECK(posix_memalign(&out, 0, 8) == EINVAL && out == (void *)0x1234);
  CHECK(posix_memalign(&out, 64, HUGE_SIZE) == ENOMEM && out == (void *)0x1234);
  for (size_t align = sizeof(void *); align <= 1 << 20; align *= 4) {
    void *q = NULL;
    CHECK(posix_memalign(&q, align, 1000) == 0 && q != NULL && aligned(q, align));
    if (q) memset(q, 1, 1000);
    free(q);
  }
  void *z = NULL;
  CHECK(posix_memalign(&z, 256, 0) == 0 && z != NULL);
  free(z);

  long page = sysconf(_SC_PAGESIZE);
  void *v = valloc(10);
  CHECK(v != NULL && aligned(v, (size_t)page));
  free(v);
  void *pv = pvalloc(page + 1); /* rounded up to two pages */
  CHECK(pv != NULL && aligned(pv, (size_t)page) && malloc_usable_size(pv) >= 2 * (size_t)page);
  if (pv) memset(pv, 7, 2 * (size_t)page);
  free(pv);
  errno = 0;
  CHECK(pvalloc(HUGE_SIZE) == NULL && errno == ENOMEM);
}

/* Many live blocks of mixed sizes, each checked against its own pattern: catches overlapping blocks. */
static void test_no_overlap(void) {
  enum { N = 3000 };
  static unsigned char *blocks[N];
  static size_t sizes[N];
  unsigned seed = 1;
  for (int i = 0; i < N; i++) {
    seed = seed * 1103515245u + 12345u;
    sizes[i] = (seed >> 8) % (i % 50 == 0 ? 100000 : 600);
    blocks[i] = (i % 7 == 0) ? memalign(128, sizes[i]) : malloc(sizes[i]);
    CHECK(blocks[i] != NULL);
    memset(blocks[i], i & 0xff, sizes[i]);
    if (i % 3 == 0 && i > 0) { /* free some as we go so that blocks are reused */
      int j = i - 1;
      free(blocks[j]);
      blocks[j] = malloc(sizes[j]);
      memset(blocks[j], j & 0xff, sizes[j]);
    }
  }
  int bad = 0;
  for (int i = 0; i < N; i++) {
    for (size_t k = 0; k < sizes[i]; k++) bad += blocks[i][k] != (i & 0xff);
    free(blocks[i]);
  }
  CHECK(bad == 0);
}

int main(int argc, char **argv) {
  opaque_size = id;
  if (argc > 1 && atol(argv[1]) > 0) sweep_step = (size_t)atol(argv[1]);
  test_malloc();
  test_free();
  test_calloc();
  test_realloc();
  test_aligned();
  test_no_overlap();
  printf("api: %d failure(s)\n", failures);
  return failures;
}
