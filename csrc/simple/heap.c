/* The `simple` heap: a used list and a free list (singly linked), first fit, one mutex, memory never returned. */
#include "simple.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diag.h"

/*
 * Layout: every block is a 16-byte header followed by its usable bytes; the user pointer is the address right
 * after the header, so it is 16-byte aligned whenever the header is. Blocks come from regions obtained with mmap
 * and carved with a bump pointer; a region is never unmapped, so the heap only grows.
 *
 * A block is on exactly one list: `used` while the program owns it, `free_list` after free. free() looks the
 * pointer up in the used list, which is what lets this allocator name a double free or a pointer it never
 * returned. The cost is a walk of the used list on every free, O(live blocks); allocation pushes on the front,
 * so the LIFO frees most programs do are found early. Free blocks are split when they are much larger than a
 * request and never coalesced: readable, not frugal.
 */
typedef struct block {
  struct block *next;
  size_t size; /* usable bytes after the header, a multiple of SIMPLE_ALIGN */
} block_t;

_Static_assert(sizeof(block_t) == SIMPLE_ALIGN, "the header keeps user pointers 16-byte aligned");

#define HDR sizeof(block_t)
#define MIN_SPLIT (HDR + SIMPLE_ALIGN) /* the smallest piece worth turning into a free block */
#define REGION_SIZE ((size_t)1 << 20)  /* bytes mapped at a time for small requests */

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static block_t *used;      /* every block the program owns, newest first */
static block_t *free_list; /* every freed block, newest first */
static char *bump;         /* next unused byte of the current region */
static char *bump_end;     /* end of the current region */
static size_t mapped;      /* bytes of every region mapped so far */

static void *user_of(block_t *b) { return (char *)b + HDR; }
static block_t *block_of(const void *p) { return (block_t *)((uintptr_t)p - HDR); }

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

/* Turns [at, at + bytes) into a free block; bytes must be >= MIN_SPLIT and at must be 16-byte aligned. */
static void add_free(char *at, size_t bytes) {
  block_t *b = (block_t *)at;
  b->size = bytes - HDR;
  b->next = free_list;
  free_list = b;
}

/* Cuts the tail of b beyond `keep` usable bytes into a free block when it is big enough to be useful. */
static void split_tail(block_t *b, size_t keep) {
  if (b->size - keep >= MIN_SPLIT + 4 * SIMPLE_ALIGN) {
    add_free((char *)user_of(b) + keep, b->size - keep);
    b->size = keep;
  }
}

/* Takes `bytes` (header included) from the current region, mapping a new one when it does not fit. */
static block_t *grow(size_t bytes) {
  if ((size_t)(bump_end - bump) < bytes) {
    size_t map = bytes > REGION_SIZE ? round_up(bytes, (size_t)sysconf(_SC_PAGESIZE)) : REGION_SIZE;
    int saved = errno;
    void *m = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      errno = ENOMEM;
      return NULL;
    }
    errno = saved;
    mapped += map;
    if (map > REGION_SIZE) { /* a large request gets a region of its own; the current one stays in use */
      block_t *b = m;
      b->size = map - HDR;
      return b;
    }
    /* The rest of the old region is not lost: it becomes a free block. */
    if ((size_t)(bump_end - bump) >= MIN_SPLIT) add_free(bump, (size_t)(bump_end - bump));
    bump = m;
    bump_end = bump + map;
  }
  block_t *b = (block_t *)bump;
  bump += bytes;
  b->size = bytes - HDR;
  return b;
}

/* First fit: the first free block with at least `need` usable bytes, unlinked; NULL when none. */
static block_t *take_free(size_t need) {
  for (block_t **link = &free_list; *link != NULL; link = &(*link)->next) {
    block_t *b = *link;
    if (b->size >= need) {
      *link = b->next;
      return b;
    }
  }
  return NULL;
}

/* Finds b in the used list and unlinks it; false when b is not a block the program owns. */
static int unlink_used(block_t *b) {
  for (block_t **link = &used; *link != NULL; link = &(*link)->next) {
    if (*link == b) {
      *link = b->next;
      return 1;
    }
  }
  return 0;
}

static int on_free_list(const block_t *b) {
  for (block_t *f = free_list; f != NULL; f = f->next)
    if (f == b) return 1;
  return 0;
}

/* Called with the lock held when p is not in the used list: names the misuse and aborts. */
static _Noreturn void bad_pointer(const void *p, const char *call) {
  /* Only a 16-byte-aligned pointer can be a header we wrote: anything else is not one of ours. */
  int was_freed = ((uintptr_t)p % SIMPLE_ALIGN == 0) && on_free_list(block_of(p));
  pthread_mutex_unlock(&heap_lock);
  const char *error = !was_freed ? "invalid pointer" : strcmp(call, "free") == 0 ? "double free" : "use after free";
  ts_misuse(error, p, call);
}

void *simple_alloc(size_t size, size_t align) {
  /* Overflow guard: size + alignment slack + headers must not wrap. */
  if (size > PTRDIFF_MAX - align - 2 * MIN_SPLIT) {
    errno = ENOMEM;
    return NULL;
  }
  size_t usable = size == 0 ? SIMPLE_ALIGN : round_up(size, SIMPLE_ALIGN);
  /* An over-aligned request takes room for a free piece in front of the aligned header. */
  size_t need = align > SIMPLE_ALIGN ? usable + align + MIN_SPLIT : usable;

  pthread_mutex_lock(&heap_lock);
  block_t *b = take_free(need);
  if (b == NULL) b = grow(need + HDR);
  if (b == NULL) {
    pthread_mutex_unlock(&heap_lock);
    return NULL;
  }
  if (align > SIMPLE_ALIGN) {
    uintptr_t start = (uintptr_t)user_of(b);
    uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned != start) {
      /* Leave at least MIN_SPLIT bytes in front so they can become a free block of their own. */
      while (aligned - start < MIN_SPLIT) aligned += align;
      block_t *a = block_of((void *)aligned);
      a->size = (size_t)((char *)user_of(b) + b->size - (char *)user_of(a));
      add_free((char *)b, (size_t)((char *)a - (char *)b));
      b = a;
    }
  }
  split_tail(b, usable);
  b->next = used;
  used = b;
  pthread_mutex_unlock(&heap_lock);
  return user_of(b);
}

void simple_free(void *p, const char *call) {
  block_t *b = block_of(p);
  pthread_mutex_lock(&heap_lock);
  if (!unlink_used(b)) bad_pointer(p, call);
  b->next = free_list;
  free_list = b;
  pthread_mutex_unlock(&heap_lock);
}

size_t simple_usable(const void *p, const char *call) {
  pthread_mutex_lock(&heap_lock);
  block_t *b;
  for (b = used; b != NULL && b != block_of(p); b = b->next) {
  }
  if (b == NULL) bad_pointer(p, call);
  size_t size = b->size;
  pthread_mutex_unlock(&heap_lock);
  return size;
}

void *simple_resize(void *p, size_t size, const char *call) {
  size_t have = simple_usable(p, call);
  if (size <= have) return p; /* shrinking in place keeps the block: callers may not rely on more */
  void *q = simple_alloc(size, SIMPLE_ALIGN);
  if (q == NULL) return NULL; /* glibc: the old block is left untouched */
  memcpy(q, p, have);
  simple_free(p, call);
  return q;
}

simple_totals_t simple_totals(void) {
  simple_totals_t t = {0, 0, 0, 0};
  pthread_mutex_lock(&heap_lock);
  t.mapped = mapped;
  for (block_t *b = used; b != NULL; b = b->next) t.in_use += b->size;
  for (block_t *b = free_list; b != NULL; b = b->next, t.free_count++) t.free_bytes += b->size;
  t.free_bytes += (size_t)(bump_end - bump);
  pthread_mutex_unlock(&heap_lock);
  return t;
}

/* fork: the child gets a copy of the heap; the lock must not be held by a thread that does not exist there. */
static void before_fork(void) { pthread_mutex_lock(&heap_lock); }
static void after_fork(void) { pthread_mutex_unlock(&heap_lock); }

__attribute__((constructor)) static void simple_init(void) {
  /* Registered from the constructor, never from inside malloc: pthread_atfork itself allocates. */
  pthread_atfork(before_fork, after_fork, after_fork);
}
