/* Workload larson: server-style threads replace random blocks, then hand their live set to a fresh thread. */
#include "wl.h"
#include <pthread.h>

/* Each "connection" owns a set of live blocks. A worker thread serves it for a while, then exits and a new
 * thread takes the set over, so most frees happen on a thread other than the one that allocated. */
/* One cache line each: two threads updating neighbouring connections' rng would otherwise share a line, and that
 * false sharing, the workload's own, took more time than the allocator (and changed from run to run). */
typedef struct {
    void **slot;
    long slots;
    long ops;
    uint64_t rng;
} __attribute__((aligned(64))) conn_t;

static void *serve(void *arg)
{
    conn_t *c = arg;
    unsigned long acc = 0;

    for (long i = 0; i < c->ops; i++) {
        size_t k = wl_rand(&c->rng) % (size_t)c->slots;
        size_t size = wl_range(&c->rng, 16, 512);
        free(c->slot[k]);
        c->slot[k] = wl_xmalloc(size);
        acc += wl_touch(c->slot[k], size);
    }
    wl_fold(acc);
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"threads", "rounds", "ops", "slots", NULL};
    wl_check_args(argc, argv, names);
    long nthreads = wl_arg(argc, argv, "threads", 4);
    long rounds = wl_arg(argc, argv, "rounds", 50);
    long ops = wl_arg(argc, argv, "ops", 20000);
    long slots = wl_arg(argc, argv, "slots", 2000);
    conn_t conn[64];
    pthread_t tid[64];

    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    for (long t = 0; t < nthreads; t++) {
        conn[t].slots = slots;
        conn[t].ops = ops;
        conn[t].rng = 0xE7037ED1A0B428DBULL + (uint64_t)t * 0x8EBC6AF09C88C6E3ULL;
        conn[t].slot = calloc((size_t)slots, sizeof(void *));
        for (long k = 0; k < slots; k++) {
            size_t size = wl_range(&conn[t].rng, 16, 512);
            conn[t].slot[k] = wl_xmalloc(size);
            wl_touch(conn[t].slot[k], size);
        }
    }
    for (long r = 0; r < rounds; r++) {
        /* Rotate which connection each new thread serves, so a set is never served twice in a row by one slot. */
        for (long t = 0; t < nthreads; t++)
            pthread_create(&tid[t], NULL, serve, &conn[(t + r) % nthreads]);
        for (long t = 0; t < nthreads; t++)
            pthread_join(tid[t], NULL);
    }
    for (long t = 0; t < nthreads; t++) {
        for (long k = 0; k < slots; k++)
            free(conn[t].slot[k]);
        free(conn[t].slot);
    }
    return 0;
}
