/* The C test programs' one assertion: print the failed condition with its line, count it, keep going. */
#ifndef TS_CHECK_H
#define TS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                                                  \
  do {                                                                                                               \
    if (!(cond)) {                                                                                                   \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                         \
      failures++;                                                                                                    \
    }                                                                                                                \
  } while (0)

#endif
