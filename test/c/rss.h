/* The C tests' view of their own memory: a /proc/self/status field, and the quiet idle period of a program. */
#ifndef TS_RSS_H
#define TS_RSS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A KiB field of /proc/self/status ("VmRSS", "VmHWM"); -1 when it cannot be read. */
static inline long status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      v = atol(line + n + 1);
      break;
    }
  fclose(f);
  return v;
}

/* Idle: 20 x 25 ms with a little allocation in between, as a quiet program would (the allocator has no thread of
 * its own: delayed purges happen in its calls). */
static inline void idle_lightly(void) {
  for (int i = 0; i < 20; i++) {
    struct timespec nap = {0, 25 * 1000 * 1000};
    nanosleep(&nap, NULL);
    void *few[16];
    for (int k = 0; k < 16; k++) few[k] = malloc(16 + (size_t)k * 40);
    for (int k = 0; k < 16; k++) free(few[k]);
  }
}

#endif
