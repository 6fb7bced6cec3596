/* Bench reference "floor": an ideal single-threaded allocator (size-class LIFO lists, no checks), NOT thread safe. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* What it is for: the cheapest design that still reuses memory, to show how much a real allocator's thread
 * safety, checks and memory return cost. Each block has a 16-byte header naming its class; malloc pops the
 * class's free list or bumps a pointer (a handful of instructions), free pushes the block back. Memory is never
 * returned to the OS and nothing is locked, so it must only be preloaded into single-threaded programs. */

typedef struct {
    uint64_t cls;  /* size class, or one of the tags below */
    uint64_t aux;  /* TAG_ALIGNED: distance back to the real block; TAG_HUGE: length of the mapping */
} hdr_t;

enum { SMALL_MAX = 1024, NCLASS = 129, TAG_ALIGNED = 1000, TAG_HUGE = 1001 };
#define HDR sizeof(hdr_t)
#define CHUNK ((size_t)64 << 20)

static void *free_list[NCLASS];
static char *bump_cur, *bump_end;

/* Classes: 16-byte steps up to 1 KiB, then four per power of two up to 64 MiB (at most 25% slack). */
static inline unsigned class_of(size_t n)
{
    if (n <= SMALL_MAX)
        return n == 0 ? 1 : (unsigned)((n + 15) >> 4);
    unsigned lg = 63u - (unsigned)__builtin_clzll(n - 1);
    unsigned sub = (unsigned)((n - 1 - ((size_t)1 << lg)) >> (lg - 2));
    return 64 + (lg - 10) * 4 + sub + 1;
}

static inline size_t class_size(unsigned c)
{
    if (c <= 64)
        return (size_t)c << 4;
    unsigned k = c - 65, lg = 10 + k / 4;
    return ((size_t)1 << lg) + (size_t)(k % 4 + 1) * ((size_t)1 << (lg - 2));
}

static void *map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t page_round(size_t n)
{
    size_t pg = 4096;
    return (n + pg - 1) & ~(pg - 1);
}

static void *floor_alloc(size_t n)
{
    if (n > class_size(NCLASS - 1)) {
        if (n > SIZE_MAX / 2) {
            errno = ENOMEM;
            return NULL;
        }
        size_t len = page_round(n + HDR);
        hdr_t *h = map(len);
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
        h->cls = TAG_HUGE;
        h->aux = len;
        return h + 1;
    }
    unsigned c = class_of(n);
    void *p = free_list[c];
    if (p) {
        free_list[c] = *(void **)p;
        return p;
    }
    size_t slot = class_size(c) + HDR;
    if ((size_t)(bump_end - bump_cur) < slot) {
        size_t len = slot > CHUNK ? page_round(slot) : CHUNK;
        char *chunk = map(len);
        if (!chunk) {
            errno = ENOMEM;
            return NULL;
        }
        bump_cur = chunk;
        bump_end = chunk + len;
    }
    hdr_t *h = (hdr_t *)bump_cur;
    bump_cur += slot;
    h->cls = c;
    h->aux = 0;
    return h + 1;
}

static void floor_free(void *p)
{
    if (!p)
        return;
    hdr_t *h = (hdr_t *)p - 1;
    if (h->cls == TAG_ALIGNED) {
        floor_free((char *)p - h->aux);
        return;
    }
    if (h->cls == TAG_HUGE) {
        munmap(h, h->aux);
        return;
    }
    *(void **)p = free_list[h->cls];
    free_list[h->cls] = p;
}

static size_t floor_usable(const void *p)
{
    if (!p)
        return 0;
    const hdr_t *h = (const hdr_t *)p - 1;
    if (h->cls == TAG_ALIGNED)
        return floor_usable((const char *)p - h->aux) - h->aux;
    if (h->cls == TAG_HUGE)
        return h->aux - HDR;
    return class_size((unsigned)h->cls);
}

/* Over-allocates and puts a tagged header just below the aligned address. */
static void *floor_aligned(size_t align, size_t n)
{
    if (align <= 16)
        return floor_alloc(n);
    if (n > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = floor_alloc(n + align + HDR);
    if (!base)
        return NULL;
    uintptr_t a = ((uintptr_t)base + HDR + align - 1) & ~(uintptr_t)(align - 1);
    hdr_t *h = (hdr_t *)a - 1;
    h->cls = TAG_ALIGNED;
    h->aux = a - (uintptr_t)base;
    return (void *)a;
}

static size_t pow2_at_least(size_t a)
{
    size_t p = 16;
    while (p < a)
        p <<= 1;
    return p;
}

void *malloc(size_t n) { return floor_alloc(n); }
void free(void *p) { floor_free(p); }
size_t malloc_usable_size(void *p) { return floor_usable(p); }

void *calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = floor_alloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return floor_alloc(n);
    if (n == 0) {
        floor_free(p);
        return NULL;
    }
    size_t have = floor_usable(p);
    if (n <= have)
        return p;
    void *q = floor_alloc(n);
    if (q) {
        memcpy(q, p, have);
        floor_free(p);
    }
    return q;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0)
        return EINVAL;
    void *p = floor_aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t n) { return floor_aligned(pow2_at_least(align), n); }
void *memalign(size_t align, size_t n) { return floor_aligned(pow2_at_least(align), n); }
void *valloc(size_t n) { return floor_aligned(4096, n); }
void *pvalloc(size_t n) { return floor_aligned(4096, page_round(n ? n : 1)); }
