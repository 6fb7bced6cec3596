/* Conformance of the introspection and extra entry points (mallinfo2, malloc_info, free_sized, __libc_*...). */
/* Build: gcc -O1 -g -fno-builtin -o api_extra test/c/api_extra.c -ldl; run under LD_PRELOAD. Passes on glibc.
   TS_EXPECT_C23=1 also requires free_sized and free_aligned_sized (glibc 2.36 lacks them). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static size_t in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static void test_mallinfo(void) {
  enum { N = 1000, SIZE = 4096 };
  static void *blocks[N];
  size_t before = in_use();
  for (int i = 0; i < N; i++) memset(blocks[i] = malloc(SIZE), 1, SIZE);
  size_t during = in_use();
  CHECK(during >= before + (size_t)N * SIZE); /* live bytes are counted */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* old programs still call it */
  struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
  CHECK((size_t)(unsigned)old.uordblks + (size_t)(unsigned)old.hblkhd >= (size_t)N * SIZE);
  for (int i = 0; i < N; i++) free(blocks[i]);
  size_t after = in_use();
  CHECK(after + (size_t)N * SIZE / 2 <= during); /* and stop counting once freed */
  void *big = malloc(32 << 20);
  CHECK(in_use() >= after + (32 << 20));
  free(big);
}

static void test_malloc_info(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(malloc_info(0, f) == 0);
  fclose(f);
  CHECK(buf != NULL && strncmp(buf, "<malloc version=\"", 17) == 0);
  CHECK(buf != NULL && strstr(buf, "</malloc>") != NULL);
  free(buf);
  FILE *g = fopen("/dev/null", "w");
  errno = 0;
  CHECK(malloc_info(1, g) == EINVAL && errno == 0); /* glibc returns EINVAL for options != 0, errno untouched */
  fclose(g);
}

static void test_malloc_stats(void) {
  char path[] = "/tmp/tsmalloc-stats-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(2);
  fflush(stderr);
  dup2(fd, 2);
  malloc_stats(); /* glibc prints to stderr */
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  CHECK(lseek(fd, 0, SEEK_END) > 0);
  close(fd);
  unlink(path);
}

static void test_trim_and_mallopt(void) {
  void *p = malloc(100);
  int r = malloc_trim(0);
  CHECK(r == 0 || r == 1);
  free(p);
  CHECK(mallopt(M_TRIM_THRESHOLD, 128 * 1024) == 1);
  CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
  CHECK(mallopt(M_ARENA_MAX, 4) == 1);
}

static void test_aliases(void) {
  /* Programs reach malloc by these names too; under a preload they must be the preloaded allocator's. */
  void *(*libc_malloc)(size_t) = dlsym(RTLD_DEFAULT, "__libc_malloc");
  void *(*libc_calloc)(size_t, size_t) = dlsym(RTLD_DEFAULT, "__libc_calloc");
  void *(*libc_realloc)(void *, size_t) = dlsym(RTLD_DEFAULT, "__libc_realloc");
  void *(*libc_memalign)(size_t, size_t) = dlsym(RTLD_DEFAULT, "__libc_memalign");
  void (*libc_free)(void *) = dlsym(RTLD_DEFAULT, "__libc_free");
  CHECK(libc_malloc && libc_calloc && libc_realloc && libc_memalign && libc_free);
  if (!(libc_malloc && libc_calloc && libc_realloc && libc_memalign && libc_free)) return;
  char *a = libc_malloc(50);
  CHECK(a != NULL && malloc_usable_size(a) >= 50);
  memset(a, 3, 50);
  a = libc_realloc(a, 5000);
  CHECK(a != NULL && a[49] == 3);
  free(a); /* mixing the names is fine: they are one allocator */
  unsigned char *z = libc_calloc(10, 10);
  CHECK(z != NULL && z[99] == 0);
  libc_free(z);
  void *m = libc_memalign(256, 10);
  CHECK(m != NULL && (uintptr_t)m % 256 == 0);
  free(m);
}

static void test_c23(void) {
  void (*free_sized)(void *, size_t) = dlsym(RTLD_DEFAULT, "free_sized");
  void (*free_aligned_sized)(void *, size_t, size_t) = dlsym(RTLD_DEFAULT, "free_aligned_sized");
  if (getenv("TS_EXPECT_C23")) CHECK(free_sized != NULL && free_aligned_sized != NULL);
  if (free_sized) {
    free_sized(malloc(24), 24);
    free_sized(NULL, 0);
  }
  if (free_aligned_sized) free_aligned_sized(aligned_alloc(64, 128), 64, 128);
}

int main(void) {
  test_mallinfo();
  test_malloc_info();
  test_malloc_stats();
  test_trim_and_mallopt();
  test_aliases();
  test_c23();
  printf("api_extra: %d failure(s)\n", failures);
  return failures;
}
