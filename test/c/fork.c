/* fork while other threads allocate (200 times; the child allocates at once), plus glibc's fork+stdio pattern.
 *
 *   gcc -O1 -g -pthread -o fork test/c/fork.c && LD_PRELOAD=/path/to/tsmalloc.so ./fork
 * A deadlock shows up as a child killed by its alarm (10 s) or the whole test killed by its own (60 s). The exit
 * status is the number of failures, one line each. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 4, FORKS = 200, STDIO_FORKS = 100 };

static atomic_int stop;
static int failures;

static void fail(const char *what, int detail) {
  failures++;
  printf("FAIL: %s (%d)\n", what, detail);
  fflush(stdout);
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Small blocks the churn threads swap among themselves, so that most frees of these are another thread's block
 * (remote frees, and blocks a thread keeps from other threads' pages, free.c) when a fork lands. */
static void *_Atomic shared[256];

/* Allocation churn of all sizes, so forks land in every path: fast, slow, large, cross-thread. */
static void *churn(void *arg) {
  uint64_t s = 88172645463325252ULL + (uintptr_t)arg;
  void *keep[64] = {0};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    unsigned k = (unsigned)(rnd(&s) % 64);
    free(keep[k]);
    unsigned r = (unsigned)(rnd(&s) % 100);
    size_t n = r < 80 ? rnd(&s) % 512 : r < 98 ? rnd(&s) % 65536 : rnd(&s) % (2 << 20);
    keep[k] = malloc(n);
    if (keep[k]) memset(keep[k], 1, n < 64 ? n : 64);
    void *x = malloc(rnd(&s) % 1024 + 1);
    free(atomic_exchange(&shared[rnd(&s) % 256], x));
  }
  for (int k = 0; k < 64; k++) free(keep[k]);
  return NULL;
}

/* Threads that hold stdio locks while allocating: open_memstream/fprintf/fclose and fflush(NULL). */
static void *stdio_churn(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
      for (int i = 0; i < 50; i++) fprintf(f, "line %d of some text that makes the buffer grow\n", i);
      fclose(f);
      free(buf);
    }
    fflush(NULL);
  }
  return NULL;
}

static int child_work(int stdio) {
  alarm(10);
  void *p[100];
  for (int i = 0; i < 100; i++) {
    p[i] = malloc((size_t)i * 97 + 1);
    if (!p[i]) return 1;
    memset(p[i], 0xAB, (size_t)i * 97 + 1);
  }
  void *big = malloc(3 << 20);
  if (!big) return 2;
  memset(big, 1, 3 << 20);
  for (int i = 0; i < 100; i++) free(p[i]);
  free(big);
  /* other threads' blocks, whose owners do not exist in the child */
  for (int i = 0; i < 256; i += 3) free(atomic_exchange(&shared[i], NULL));
  for (int i = 0; i < 100; i++) free(malloc((size_t)i * 10 + 1));
  if (stdio) {
    /* glibc tst-malloc-fork-deadlock: getline and fflush(NULL) right after fork */
    static char text[] = "first line\nsecond line\n";
    FILE *f = fmemopen(text, sizeof text - 1, "r");
    if (!f) return 3;
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) return 4;
    free(line);
    fclose(f);
    fflush(NULL);
  }
  return 0;
}

static void run_forks(int count, int stdio, const char *label) {
  for (int i = 0; i < count; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      fail("fork failed", i);
      return;
    }
    if (pid == 0) _exit(child_work(stdio));
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
      fail("waitpid failed", i);
      continue;
    }
    if (WIFSIGNALED(status)) {
      printf("FAIL: %s: child %d killed by signal %d%s\n", label, i, WTERMSIG(status),
             WTERMSIG(status) == SIGALRM ? " (deadlock?)" : "");
      failures++;
    } else if (WEXITSTATUS(status) != 0) {
      printf("FAIL: %s: child %d exited with %d\n", label, i, WEXITSTATUS(status));
      failures++;
    }
  }
}

int main(void) {
  alarm(60);
  pthread_t t[THREADS + 2];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, churn, (void *)i);
  run_forks(FORKS, 0, "fork while allocating");
  pthread_create(&t[THREADS], NULL, stdio_churn, NULL);
  pthread_create(&t[THREADS + 1], NULL, stdio_churn, NULL);
  run_forks(STDIO_FORKS, 1, "fork with stdio (tst-malloc-fork-deadlock)");
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS + 2; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 256; i++) free(atomic_exchange(&shared[i], NULL));
  /* The parent keeps working after all that. */
  if (child_work(1) != 0) fail("parent allocation after forks", 0);
  printf("fork: %d failure(s)\n", failures);
  return failures;
}
