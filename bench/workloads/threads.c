/* Workload threads: several threads each churn their own blocks, never sharing one: scaling without contention. */
#include "wl.h"
#include <pthread.h>

static long ops, slots;

static void *worker(void *arg)
{
    wl_churn(ops, slots, 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(uintptr_t)arg * 0xD1B54A32D192ED03ULL));
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"threads", "ops", "slots", NULL};
    wl_check_args(argc, argv, names);
    long nthreads = wl_arg(argc, argv, "threads", 4);
    ops = wl_arg(argc, argv, "ops", 2000000);
    slots = wl_arg(argc, argv, "slots", 5000);
    pthread_t tid[256];

    if (nthreads < 1 || nthreads > 256)
        nthreads = 4;
    for (long t = 0; t < nthreads; t++)
        pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (long t = 0; t < nthreads; t++)
        pthread_join(tid[t], NULL);
    return 0;
}
