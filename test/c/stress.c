/* Multi-thread stress: blocks of 0 B..1 MiB migrate between threads that come and go; contents verified on free.
 *
 * Build and run, under LD_PRELOAD (the normal way):
 *   gcc -O1 -g -pthread -o stress test/c/stress.c
 *   LD_PRELOAD=/path/to/tsmalloc.so ./stress [scale]
 * Linked together with the allocator sources under a sanitizer: ASan and TSan bring their own malloc, so the
 * allocator then exports tsm_malloc, tsm_free, ... (TSMALLOC_PREFIX, switched on by -fsanitize itself) and this
 * file calls those names:
 *   gcc -O1 -g -pthread -fsanitize=address -o stress-asan test/c/stress.c csrc/tsmalloc/*.c csrc/common/*.c
 *   gcc -O1 -g -pthread -fsanitize=thread  -o stress-tsan test/c/stress.c csrc/tsmalloc/*.c csrc/common/*.c
 *   ./stress-asan && ./stress-tsan
 * The work is bounded by iteration counts (scale 1: about a second natively); the exit status is the number of
 * failures, each printed on its own line. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(TSMALLOC_PREFIX) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
void *tsm_malloc(size_t);
void tsm_free(void *);
void *tsm_calloc(size_t, size_t);
void *tsm_realloc(void *, size_t);
int tsm_posix_memalign(void **, size_t, size_t);
void *tsm_aligned_alloc(size_t, size_t);
void *tsm_memalign(size_t, size_t);
size_t tsm_malloc_usable_size(void *);
int tsm_malloc_trim(size_t);
#define API(f) tsm_##f
#else
#define API(f) f
#endif

enum { THREADS = 8, SLOTS = 4096 };

typedef struct item_s {
  unsigned char *p;
  size_t size;
  size_t align;
  unsigned char seed;
} item_t;

static _Atomic(item_t *) slots[SLOTS];
static atomic_int failures;
static long ops_per_thread = 25000;

static void fail(const char *what, const void *p, size_t size) {
  atomic_fetch_add(&failures, 1);
  printf("FAIL: %s (block %p, size %zu)\n", what, p, size);
  fflush(stdout);
}

static uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Mostly small, a tail of medium, a few up to 1 MiB; 0 included. */
static size_t pick_size(uint64_t *s) {
  unsigned r = (unsigned)(rnd(s) % 1000);
  if (r < 10) return 0;
  if (r < 650) return rnd(s) % 257;
  if (r < 900) return 257 + rnd(s) % 8000;
  if (r < 990) return 8192 + rnd(s) % (128 << 10);
  return (128 << 10) + rnd(s) % (896 << 10);
}

static void fill(item_t *it) { memset(it->p, it->seed, it->size); }

static void verify(const item_t *it, const char *when) {
  size_t n = it->size;
  const unsigned char *p = it->p;
  uint64_t word = 0x0101010101010101ULL * it->seed;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w != word) break;
  }
  for (; i < n; i++)
    if (p[i] != it->seed) {
      fail(when, p, n);
      return;
    }
}

static item_t *make_item(uint64_t *s) {
  item_t *it = API(malloc)(sizeof *it);
  if (!it) {
    fail("malloc of an item returned NULL", NULL, sizeof *it);
    return NULL;
  }
  it->size = pick_size(s);
  it->seed = (unsigned char)(rnd(s) | 1);
  it->align = 0;
  unsigned how = (unsigned)(rnd(s) % 10);
  if (how == 0) {
    it->p = API(calloc)(1, it->size);
    if (it->p)
      for (size_t i = 0; i < it->size; i++)
        if (it->p[i] != 0) {
          fail("calloc block not zero", it->p, it->size);
          break;
        }
  } else if (how == 1) {
    it->align = (size_t)16 << (rnd(s) % 13); /* 16 B .. 64 KiB */
    void *q = NULL;
    if (API(posix_memalign)(&q, it->align, it->size) != 0) q = NULL;
    it->p = q;
  } else if (how == 2) {
    it->align = (size_t)32 << (rnd(s) % 8);
    it->p = API(aligned_alloc)(it->align, it->size);
  } else {
    it->p = API(malloc)(it->size);
  }
  if (!it->p) {
    fail("allocation returned NULL", NULL, it->size);
    API(free)(it);
    return NULL;
  }
  if (((uintptr_t)it->p & 15) != 0) fail("block not 16-byte aligned", it->p, it->size);
  if (it->align && ((uintptr_t)it->p & (it->align - 1)) != 0) fail("block not aligned as asked", it->p, it->size);
  size_t usable = API(malloc_usable_size)(it->p);
  if (usable < it->size) fail("malloc_usable_size below the requested size", it->p, it->size);
  /* Programs write up to the usable size: do that too, then the pattern. */
  memset(it->p, 0xEE, usable);
  fill(it);
  return it;
}

static void drop_item(item_t *it) {
  verify(it, "block content changed before free");
  API(free)(it->p);
  API(free)(it);
}

/* realloc keeps the common prefix; the rest is refilled. */
static void grow_item(item_t *it, uint64_t *s) {
  verify(it, "block content changed before realloc");
  size_t n = pick_size(s);
  if (n == 0) n = 1;
  unsigned char *q = API(realloc)(it->p, n);
  if (!q) {
    fail("realloc returned NULL", it->p, n);
    return;
  }
  size_t keep = n < it->size ? n : it->size;
  for (size_t i = 0; i < keep; i++)
    if (q[i] != it->seed) {
      fail("realloc lost the contents", q, n);
      break;
    }
  it->p = q;
  it->size = n;
  it->align = 0;
  fill(it);
}

static void *worker(void *arg) {
  uint64_t s = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(uintptr_t)arg * 0xD1B54A32D192ED03ULL);
  item_t *local[64] = {0};
  for (long i = 0; i < ops_per_thread; i++) {
    unsigned op = (unsigned)(rnd(&s) % 100);
    if (op < 60) {
      /* Swap with a shared slot: the old item usually came from another thread (often a dead one). */
      item_t *it = make_item(&s);
      if (!it) continue;
      item_t *old = atomic_exchange(&slots[rnd(&s) % SLOTS], it);
      if (old) drop_item(old);
    } else if (op < 90) {
      /* Thread-local churn: same-thread frees. */
      unsigned k = (unsigned)(rnd(&s) % 64);
      if (local[k]) drop_item(local[k]);
      local[k] = make_item(&s);
    } else {
      unsigned k = (unsigned)(rnd(&s) % 64);
      if (local[k]) grow_item(local[k], &s);
    }
  }
  for (unsigned k = 0; k < 64; k++)
    if (local[k]) drop_item(local[k]);
  return NULL;
}

int main(int argc, char **argv) {
  long scale = argc > 1 ? atol(argv[1]) : 1;
  if (scale < 1) scale = 1;
  int rounds = 4;
  ops_per_thread = 25000 * scale / rounds;
  for (int r = 0; r < rounds; r++) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
      if (pthread_create(&t[i], NULL, worker, (void *)(r * THREADS + i + 1)) != 0) fail("pthread_create", NULL, 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    API(malloc_trim)(0); /* also adopts the exited threads' segments: must not disturb live blocks */
  }
  for (int i = 0; i < SLOTS; i++) {
    item_t *it = atomic_exchange(&slots[i], NULL);
    if (it) drop_item(it);
  }
  int f = atomic_load(&failures);
  printf("stress: %d failure(s)\n", f);
  return f;
}
