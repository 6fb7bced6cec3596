/* Heap-misuse reports and async-signal-safe formatting shared by the bundled allocators (no stdio, no malloc). */
#ifndef TS_DIAG_H
#define TS_DIAG_H

#include <stddef.h>
#include <stdint.h>

/* Writes s to stderr with write(2); safe inside malloc, signal handlers and after stdio is gone. */
void ts_write_str(const char *s);

/* Formats v as 0x-prefixed lower-case hex / as decimal into out (at least 19 / 21 bytes); returns the length. */
size_t ts_fmt_hex(char *out, uintptr_t v);
size_t ts_fmt_dec(char *out, uint64_t v);

/* Prints "tsmalloc: <error> of 0x<ptr> in <call>()" on one line and aborts, so a core and backtrace follow.
   error is one of the phrases both allocators share, so tools and tests can match them:
     "double free"      free() of a block already freed;
     "use after free"   realloc() or malloc_usable_size() of a block already freed;
     "invalid pointer"  a pointer this allocator never returned (allocated elsewhere, or not a block's start).
   An allocator may add its own for corrupted metadata (tsmalloc: csrc/tsmalloc/free.c lists them). */
_Noreturn void ts_misuse(const char *error, const void *ptr, const char *call);

/* Prints "tsmalloc: <message>" on one line and aborts: for corrupted metadata that has no single pointer. */
_Noreturn void ts_fatal(const char *message);

#endif
