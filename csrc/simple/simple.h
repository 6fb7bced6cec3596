/* The `simple` allocator's internal interface: heap.c owns the lists, exports.c maps the glibc API onto them. */
#ifndef SIMPLE_H
#define SIMPLE_H

#include <stddef.h>

/* Every block's user pointer and size are multiples of this (glibc's guarantee on x86-64). */
#define SIMPLE_ALIGN 16

/* heap.c: all functions take the one heap mutex; none of them sets errno except on ENOMEM (NULL result). */
void *simple_alloc(size_t size, size_t align);         /* align: power of two >= SIMPLE_ALIGN */
void simple_free(void *p, const char *call);           /* aborts on double free or a pointer never returned */
void *simple_resize(void *p, size_t size, const char *call); /* realloc for p != NULL, size != 0 */
size_t simple_usable(const void *p, const char *call); /* the exact usable size of a live block */

/* What the heap holds, for mallinfo and malloc_stats: one walk of both lists under the lock. */
typedef struct {
  size_t mapped;     /* bytes obtained with mmap, never returned */
  size_t in_use;     /* usable bytes of the blocks the program owns */
  size_t free_bytes; /* usable bytes of the free list plus the unused rest of the current region */
  size_t free_count; /* blocks on the free list */
} simple_totals_t;
simple_totals_t simple_totals(void);

#endif
