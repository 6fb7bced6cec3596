/* Workload threadchurn: short-lived threads allocate, free most, exit, and leave the rest for main to free. */
#include "wl.h"
#include <pthread.h>

enum { PER_THREAD = 64, LEFT_BEHIND = 8 };

typedef struct {
    uint64_t seed;
    void *left[LEFT_BEHIND];
} job_t;

static void *work(void *arg)
{
    job_t *job = arg;
    uint64_t rng = job->seed;
    void *mine[PER_THREAD];
    unsigned long acc = 0;

    for (int i = 0; i < PER_THREAD; i++) {
        size_t size = wl_small_size(&rng);
        mine[i] = wl_xmalloc(size);
        acc += wl_touch(mine[i], size);
    }
    for (int i = 0; i < PER_THREAD - LEFT_BEHIND; i++)
        free(mine[i]);
    memcpy(job->left, mine + PER_THREAD - LEFT_BEHIND, sizeof job->left);
    wl_fold(acc);
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"threads", "wave", NULL};
    wl_check_args(argc, argv, names);
    long total = wl_arg(argc, argv, "threads", 20000);
    long wave = wl_arg(argc, argv, "wave", 4);
    job_t job[64];
    pthread_t tid[64];

    if (wave < 1 || wave > 64)
        wave = 4;
    for (long done = 0; done < total; done += wave) {
        for (long t = 0; t < wave; t++) {
            job[t].seed = 0x94D049BB133111EBULL * (uint64_t)(done + t + 1);
            if (pthread_create(&tid[t], NULL, work, &job[t]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return 3;
            }
        }
        for (long t = 0; t < wave; t++) {
            pthread_join(tid[t], NULL);
            for (int i = 0; i < LEFT_BEHIND; i++)
                free(job[t].left[i]);
        }
    }
    return 0;
}
