/* Double frees that free() itself cannot see, and a write after free: tsmalloc must name the block before it is
 * handed out twice or its page is given back under a block still in use. Prints the block it expects named. */
/* Build: gcc -O0 -g -fno-builtin -pthread -o late_misuse test/c/late_misuse.c; run: late_misuse KIND */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(const char *what, void *p) {
  printf("%s %p\n", what, p);
  fflush(stdout);
}

/* a, b, a: free(a) the second time is not the last block freed, so only a later malloc sees the copy. The page
 * keeps a third block in use, so its count never goes below zero. */
static void later_malloc(void) {
  char *a = malloc(64), *b = malloc(64), *c = malloc(64);
  say("expect", a);
  free(a);
  free(b);
  free(a);
  for (int i = 0; i < 3; i++) say("got", malloc(64));
  (void)c;
}

/* The same, then every other block of the page is freed: its count reaches zero while c is still in use. 64 blocks
 * of 4000 bytes span several pages, so the first is not the class's current page and is given back at once. */
static void page_empty(void) {
  char *blk[64];
  for (int i = 0; i < 64; i++) blk[i] = malloc(4000);
  say("expect", blk[0]);
  free(blk[0]);
  free(blk[1]);
  free(blk[0]);
  for (int i = 3; i < 64; i++) free(blk[i]); /* blk[2] stays in use */
}

/* One thread frees a block of another's page twice, with a third block freed between. */
static void *free_three(void *arg) {
  void **v = arg;
  free(v[0]);
  free(v[1]);
  free(v[0]);
  return NULL;
}
static void remote(void) {
  void *v[2] = {malloc(64), malloc(64)};
  void *keep = malloc(64); /* the page keeps a block in use */
  say("expect", v[0]);
  pthread_t t;
  pthread_create(&t, NULL, free_three, v);
  pthread_join(t, NULL);
  for (int i = 0; i < 300; i++) say("got", malloc(64)); /* runs the page dry, so the remote frees are taken */
  (void)keep;
}

/* Both words of a free block overwritten, then the block's class asked for again. */
static void write_after_free(void) {
  long *p = malloc(64);
  say("expect", p);
  free(p);
  p[0] = 1;
  p[1] = 2;
  say("got", malloc(64));
}

int main(int argc, char **argv) {
  const char *kind = argc > 1 ? argv[1] : "";
  if (strcmp(kind, "later-malloc") == 0) later_malloc();
  else if (strcmp(kind, "page-empty") == 0) page_empty();
  else if (strcmp(kind, "remote") == 0) remote();
  else if (strcmp(kind, "write-after-free") == 0) write_after_free();
  else {
    fprintf(stderr, "usage: late_misuse later-malloc|page-empty|remote|write-after-free\n");
    return 2;
  }
  printf("survived %s\n", kind); /* reached only when the allocator did not notice */
  return 0;
}
