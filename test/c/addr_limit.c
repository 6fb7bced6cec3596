/* Under `ulimit -v`, blocks up to 128 KiB get about half of the address space, large blocks the rest.
 *
 *   gcc -O1 -g -o addr_limit test/c/addr_limit.c
 *   sh -c 'ulimit -v 3000000 && LD_PRELOAD=/path/to/tsmalloc.so exec ./addr_limit 1200'
 * Takes 120 KiB blocks until malloc fails, which must say ENOMEM, and checks that at least the given number of MiB
 * came back (tsmalloc's arena is half of what fits: 1306 MiB under this limit; half of the largest power of two
 * that fits gave 929, glibc gets 2926). Then, with those blocks still held, a 256 MiB block must be possible:
 * the other half is there for large blocks, stacks and mappings. The exit status is the number of failures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(int argc, char **argv) {
  size_t want_mib = argc > 1 ? (size_t)atol(argv[1]) : 1200;
  size_t cap = 1 << 16, n = 0;
  void **held = malloc(cap * sizeof *held);
  CHECK(held != NULL);
  if (!held) return failures;
  for (;;) {
    errno = 0;
    void *p = malloc(120 << 10);
    if (!p) {
      CHECK(errno == ENOMEM);
      break;
    }
    if (n == cap) break; /* 7.5 GiB: no limit in effect; the count check below says so */
    held[n++] = p;
  }
  size_t got_mib = n * 120 / 1024;
  printf("small blocks: %zu MiB\n", got_mib);
  CHECK(got_mib >= want_mib);
  CHECK(n < cap);
  char *big = malloc((size_t)256 << 20);
  CHECK(big != NULL);
  if (big) {
    memset(big, 1, 4096);
    free(big);
  }
  for (size_t i = 0; i < n; i++) free(held[i]);
  free(held);
  printf("%d failures\n", failures);
  return failures;
}
