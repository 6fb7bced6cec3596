/* Workload threadwork: a thread per task, each builds a working set of 4-8 KiB blocks, uses it, frees it, exits. */
#include "wl.h"
#include <pthread.h>

/* Unlike threadchurn (64 small blocks a thread), each task here holds about a megabyte: what an allocator does with
 * the memory a finished thread gave back decides whether the next thread finds it resident or faults it in again. */
typedef struct {
    uint64_t seed;
    long blocks;
    unsigned long acc;
} task_t;

static void *work(void *arg)
{
    task_t *t = arg;
    uint64_t rng = t->seed;
    void **set = wl_xmalloc((size_t)t->blocks * sizeof *set);
    unsigned long acc = 0;

    for (long i = 0; i < t->blocks; i++) {
        size_t size = wl_range(&rng, 4096, 8192);
        set[i] = wl_xmalloc(size);
        memset(set[i], (int)i, size); /* the whole block is used, as a working set is */
        acc += ((unsigned char *)set[i])[size / 2];
    }
    for (long i = 0; i < t->blocks; i++)
        free(set[i]);
    free(set);
    t->acc = acc;
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"rounds", "threads", "blocks", NULL};
    wl_check_args(argc, argv, names);
    long rounds = wl_arg(argc, argv, "rounds", 1000);
    long nthreads = wl_arg(argc, argv, "threads", 4);
    long blocks = wl_arg(argc, argv, "blocks", 200);
    task_t task[64];
    pthread_t tid[64];
    unsigned long acc = 0;

    if (nthreads < 1 || nthreads > 64)
        nthreads = 4;
    if (blocks < 1)
        blocks = 200;
    for (long r = 0; r < rounds; r++) {
        for (long t = 0; t < nthreads; t++) {
            task[t].seed = 0xC2B2AE3D27D4EB4FULL * (uint64_t)(r * nthreads + t + 1);
            task[t].blocks = blocks;
            if (pthread_create(&tid[t], NULL, work, &task[t]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 3;
            }
        }
        for (long t = 0; t < nthreads; t++) {
            pthread_join(tid[t], NULL);
            acc += task[t].acc;
        }
    }
    wl_fold(acc);
    return 0;
}
