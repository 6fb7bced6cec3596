/* Helpers shared by the C bench workloads: key=value arguments, a fast PRNG, clocks, RSS and result lines. */
#ifndef TSMALLOC_BENCH_WL_H
#define TSMALLOC_BENCH_WL_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Arguments are `name=value` words, e.g. `churn ops=1000000 slots=5000`; unknown names are an error so a typo
 * in the harness's tables is caught at once instead of silently running the default size. */
static inline long wl_arg(int argc, char **argv, const char *name, long dflt)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            char *end;
            long v = strtol(argv[i] + n + 1, &end, 10);
            if (*end != '\0' || v < 0) {
                fprintf(stderr, "%s: bad value in '%s': expected a whole number\n", argv[0], argv[i]);
                exit(2);
            }
            return v;
        }
    }
    return dflt;
}

/* Call after reading every argument with wl_arg: rejects any word that names none of `names` (NULL-terminated). */
static inline void wl_check_args(int argc, char **argv, const char *const *names)
{
    for (int i = 1; i < argc; i++) {
        int ok = 0;
        for (const char *const *k = names; *k; k++) {
            size_t n = strlen(*k);
            if (strncmp(argv[i], *k, n) == 0 && argv[i][n] == '=')
                ok = 1;
        }
        if (!ok) {
            fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[i]);
            exit(2);
        }
    }
}

/* xorshift64*: a few instructions per number, good enough to pick sizes and slots. Each thread owns its state. */
static inline uint64_t wl_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static inline size_t wl_range(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(wl_rand(s) % (hi - lo + 1));
}

/* A small-object size mix like a typical C or C++ heap: mostly under 128 bytes, a tail up to 8 KiB. */
static inline size_t wl_small_size(uint64_t *s)
{
    unsigned r = (unsigned)(wl_rand(s) % 100);
    if (r < 80)
        return wl_range(s, 8, 128);
    if (r < 95)
        return wl_range(s, 129, 1024);
    return wl_range(s, 1025, 8192);
}

static inline double wl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size of this process now, in KiB (second field of /proc/self/statm, in pages). */
static inline long wl_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Writes to a block so that the allocation is really used (and faulted in); returns a byte to fold into a sink. */
static inline unsigned char wl_touch(void *p, size_t size)
{
    unsigned char *b = p;
    b[0] = (unsigned char)size;
    b[size - 1] = (unsigned char)(size >> 3);
    return b[0];
}

/* Folding touched bytes into this keeps every allocation observable, whatever the optimiser decides. */
static volatile unsigned long wl_sink;

/* Adds a thread's checksum to the sink; atomic because several threads finish at once. */
static inline void wl_fold(unsigned long acc)
{
    __atomic_fetch_add(&wl_sink, acc, __ATOMIC_RELAXED);
}

/* A metric for the harness: one `key=value` line on stdout. */
static inline void wl_report(const char *key, double value)
{
    if (value == (double)(long)value)
        printf("%s=%ld\n", key, (long)value);
    else
        printf("%s=%.3f\n", key, value);
    fflush(stdout);
}

static inline void *wl_xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "out of memory allocating %zu bytes\n", size);
        exit(3);
    }
    return p;
}

/* The churn loop shared by `churn` (one thread) and `threads` (one per thread): `ops` times, replace a random
   one of `slots` live blocks with a new block of a random small size and touch it; then free everything. */
static inline void wl_churn(long ops, long slots, uint64_t seed)
{
    uint64_t rng = seed;
    void **slot = calloc((size_t)slots, sizeof *slot);
    unsigned long acc = 0;

    for (long i = 0; i < ops; i++) {
        size_t k = wl_rand(&rng) % (size_t)slots;
        size_t size = wl_small_size(&rng);
        free(slot[k]);
        slot[k] = wl_xmalloc(size);
        acc += wl_touch(slot[k], size);
    }
    for (long k = 0; k < slots; k++)
        free(slot[k]);
    free(slot);
    wl_fold(acc);
}

#endif
