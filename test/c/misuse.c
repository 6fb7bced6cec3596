/* Heap misuse on purpose, one kind per argument, so tests can check the allocator's one-line report and abort. */
/* Build: gcc -O0 -g -fno-builtin -o misuse test/c/misuse.c; run: misuse double-free|invalid-free|realloc-freed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  char *volatile p = malloc(64);
  char stack_buf[64];
  if (strcmp(what, "double-free") == 0) {
    free(p);
    free(p);
  } else if (strcmp(what, "invalid-free") == 0) {
    free(stack_buf + 16); /* never returned by any malloc */
  } else if (strcmp(what, "realloc-freed") == 0) {
    free(p);
    p = realloc(p, 128);
  } else {
    fprintf(stderr, "usage: misuse double-free|invalid-free|realloc-freed\n");
    return 2;
  }
  printf("survived %s\n", what); /* reached only when the allocator did not notice */
  return 0;
}
