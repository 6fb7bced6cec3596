/* Random sequences of every allocation call from several threads, with each block's contents checked. */
/* Build: gcc -O1 -g -fno-builtin -pthread -o fuzz test/c/fuzz.c -ldl; run under LD_PRELOAD. Passes on glibc.
   Usage: fuzz [ops per thread] [seed]. Each thread owns slots of live blocks filled with a pattern that names the
   slot and its generation; every call checks what it can see (alignment, usable size, zeroing, the bytes a
   realloc keeps) and every free checks the whole block first. Every 64 operations a thread swaps a block with
   a shared mailbox, so blocks are freed and reallocated by threads that did not allocate them. Sizes favour
   the edges of size classes (2^k - 1, 2^k, 2^k + 1, 2^k + 8, 2^k + 32, 2^k + 33) where off-by-one bugs live. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

enum { THREADS = 3, SLOTS = 256 };

typedef struct {
  unsigned char *p;
  size_t n;     /* bytes the caller may use (what was asked for) */
  size_t align; /* what aligned_alloc was given, for free_aligned_sized; 0 for any other block */
  uint32_t tag; /* pattern seed: byte i holds (tag + i * 31) & 0xff */
} slot_t;

static pthread_mutex_t box_lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t box;
static long ops_per_thread = 200000;
static uint64_t base_seed = 0x2545F4914F6CDD1DULL;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*free_sized_fn)(void *, size_t);
static void (*free_aligned_sized_fn)(void *, size_t, size_t);

#define FCHECK(cond)                                                                                                 \
  do {                                                                                                               \
    if (!(cond)) {                                                                                                   \
      pthread_mutex_lock(&fail_lock);                                                                                \
      if (failures < 20) printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                      \
      failures++;                                                                                                    \
      pthread_mutex_unlock(&fail_lock);                                                                              \
    }                                                                                                                \
  } while (0)

static uint64_t next_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick_size(uint64_t *rng) {
  unsigned r = (unsigned)(next_rand(rng) % 100);
  if (r < 40) return (size_t)(next_rand(rng) % 129);  /* tiny, 0 included */
  if (r < 65) return (size_t)(next_rand(rng) % 4097); /* small */
  if (r < 90) { /* the edges of a power of two, from 16 B to 256 KiB */
    static const int delta[] = {-1, 0, 1, 8, 32, 33};
    size_t p2 = (size_t)1 << (4 + next_rand(rng) % 15);
    return p2 + (size_t)(ptrdiff_t)delta[next_rand(rng) % 6];
  }
  if (r < 99) return (size_t)(next_rand(rng) % (200 << 10)); /* medium, past 128 KiB */
  return (size_t)(next_rand(rng) % (4 << 20)); /* large */
}

/* The bytes that carry the pattern: the first and last 64 and every 257th in between, so that checking a block
 * costs little whatever its size, yet a copy or a boundary that is off by any amount shows. */
static size_t next_probe(size_t i, size_t n) {
  if (i + 1 < 64 || i + 1 + 64 >= n) return i + 1;
  size_t k = (i / 257 + 1) * 257;
  return k + 64 < n ? k : n - 64;
}

static unsigned char pattern(const slot_t *s, size_t i) { return (unsigned char)(s->tag + i * 31); }

static void fill(slot_t *s) {
  for (size_t i = 0; i < s->n; i = next_probe(i, s->n)) s->p[i] = pattern(s, i);
}

/* The first `upto` bytes still hold the pattern (at the probed places). */
static int intact(const slot_t *s, size_t upto) {
  for (size_t i = 0; i < upto; i = next_probe(i, s->n))
    if (s->p[i] != pattern(s, i)) return 0;
  return 1;
}

static void check_block(const slot_t *s, size_t align) {
  FCHECK(((uintptr_t)s->p % align) == 0);
  FCHECK(malloc_usable_size(s->p) >= s->n);
}

static void release(slot_t *s, uint64_t *rng) {
  if (!s->p) return;
  FCHECK(intact(s, s->n));
  unsigned how = (unsigned)(next_rand(rng) % 8);
  if (s->align && free_aligned_sized_fn) free_aligned_sized_fn(s->p, s->align, s->n);
  else if (how == 0 && free_sized_fn && !s->align) free_sized_fn(s->p, s->n);
  else if (how == 1) FCHECK(realloc(s->p, 0) == NULL); /* glibc: frees, returns NULL */
  else free(s->p);
  s->p = NULL;
  s->n = 0;
  s->align = 0;
}

static void allocate(slot_t *s, uint64_t *rng, uint32_t tag) {
  size_t n = pick_size(rng), align = 16;
  unsigned how = (unsigned)(next_rand(rng) % 10);
  void *p = NULL;
  errno = 0;
  switch (how) {
  case 0: {
    size_t count = n ? 1 + next_rand(rng) % 8 : 0, each = count ? n / count : 0;
    n = count * each;
    p = calloc(count, each);
    if (p)
      for (size_t i = 0; i < n; i++)
        if (((unsigned char *)p)[i]) {
          FCHECK(!"calloc returned a block that is not zeroed");
          break;
        }
    break;
  }
  case 1:
    align = (size_t)1 << (3 + next_rand(rng) % 12); /* 8 B .. 16 KiB */
    FCHECK(posix_memalign(&p, align, n) == 0);
    if (align < 16) align = 16;
    break;
  case 2:
    align = (size_t)1 << (4 + next_rand(rng) % 10);
    p = aligned_alloc(align, n);
    s->align = align;
    break;
  case 3:
    align = (size_t)1 << (4 + next_rand(rng) % 10);
    p = memalign(align, n);
    break;
  case 4:
    align = 4096;
    p = valloc(n);
    break;
  case 5:
    p = reallocarray(NULL, 1, n);
    break;
  default:
    p = malloc(n);
    break;
  }
  FCHECK(p != NULL);
  if (!p) {
    s->align = 0;
    return;
  }
  s->p = p;
  s->n = n;
  s->tag = tag;
  check_block(s, align);
  fill(s);
}

/* Grows or shrinks a live block; the bytes both sizes share must survive. */
static void resize(slot_t *s, uint64_t *rng) {
  size_t n = next_rand(rng) & 1 ? pick_size(rng) : s->n + 1 + next_rand(rng) % 200;
  if (n == 0) n = 1;
  unsigned char *q = realloc(s->p, n);
  FCHECK(q != NULL);
  if (!q) return;
  s->p = q;
  s->align = 0; /* a realloc'd block is no longer aligned_alloc's */
  size_t keep = n < s->n ? n : s->n;
  FCHECK(intact(s, keep)); /* probed where the old size put the pattern */
  s->n = n;
  check_block(s, 16);
  fill(s); /* the probed places depend on the size */
}

static void *worker(void *arg) {
  uint64_t rng = base_seed ^ (0x9E3779B97F4A7C15ULL * ((uint64_t)(uintptr_t)arg + 1));
  slot_t *slot = calloc(SLOTS, sizeof *slot);
  uint32_t gen = (uint32_t)(uintptr_t)arg << 24;
  FCHECK(slot != NULL);
  if (!slot) return NULL;
  for (long op = 0; op < ops_per_thread; op++) {
    slot_t *s = &slot[next_rand(&rng) % SLOTS];
    unsigned what = (unsigned)(next_rand(&rng) % 16);
    if (what < 6) {
      release(s, &rng);
      allocate(s, &rng, ++gen);
    } else if (what < 11) {
      if (s->p) resize(s, &rng);
      else allocate(s, &rng, ++gen);
    } else if (what < 14) {
      release(s, &rng);
    } else if (s->p) {
      FCHECK(intact(s, s->n));
    }
    if ((op & 63) == 0) { /* hand a block to whichever thread comes next */
      pthread_mutex_lock(&box_lock);
      slot_t mine = *s;
      *s = box;
      box = mine;
      pthread_mutex_unlock(&box_lock);
    }
    if ((op & 16383) == 0) {
      struct mallinfo2 mi = mallinfo2();
      (void)mi;
      malloc_trim(0);
    }
  }
  for (int i = 0; i < SLOTS; i++) release(&slot[i], &rng);
  free(slot);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) ops_per_thread = atol(argv[1]);
  if (argc > 2) base_seed = strtoull(argv[2], NULL, 0) | 1;
  free_sized_fn = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
  free_aligned_sized_fn = (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
  pthread_t tid[THREADS];
  for (long t = 0; t < THREADS; t++) FCHECK(pthread_create(&tid[t], NULL, worker, (void *)t) == 0);
  for (int t = 0; t < THREADS; t++) pthread_join(tid[t], NULL);
  uint64_t rng = base_seed;
  release(&box, &rng);
  printf("fuzz: %ld operations in %d threads, seed 0x%llx, %d failure(s)\n", ops_per_thread * THREADS, THREADS,
         (unsigned long long)base_seed, failures);
  return failures != 0;
}
