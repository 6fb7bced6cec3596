/* Heap-misuse reports written with write(2): the heap may be broken, so nothing here allocates or locks. */
#include "diag.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ts_write_str(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return; /* stderr closed or broken: nothing better to do */
    s += w;
    n -= (size_t)w;
  }
}

size_t ts_fmt_hex(char *out, uintptr_t v) {
  char tmp[sizeof(uintptr_t) * 2];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  out[0] = '0';
  out[1] = 'x';
  for (size_t i = 0; i < n; i++) out[2 + i] = tmp[n - 1 - i];
  out[2 + n] = '\0';
  return 2 + n;
}

size_t ts_fmt_dec(char *out, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return n;
}

_Noreturn void ts_misuse(const char *error, const void *ptr, const char *call) {
  /* One buffer and one write so the line is not interleaved with other threads' output. */
  char line[256];
  size_t len = 0;
  const char *parts[] = {"tsmalloc: ", error, " of ", NULL, " in ", call, "()\n"};
  char hex[24];
  ts_fmt_hex(hex, (uintptr_t)ptr);
  parts[3] = hex;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    size_t n = strlen(parts[i]);
    if (len + n >= sizeof line) n = sizeof line - 1 - len;
    memcpy(line + len, parts[i], n);
    len += n;
  }
  line[len] = '\0';
  ts_write_str(line);
  abort();
}

_Noreturn void ts_fatal(const char *message) {
  char line[256] = "tsmalloc: ";
  size_t len = strlen(line);
  size_t n = strlen(message);
  if (n > sizeof line - len - 2) n = sizeof line - len - 2;
  memcpy(line + len, message, n);
  line[len + n] = '\n';
  line[len + n + 1] = '\0';
  ts_write_str(line);
  abort();
}
