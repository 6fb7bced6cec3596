/* Workload prodcons: producer threads allocate batches, consumer threads free them: every free is cross-thread. */
#include "wl.h"
#include <pthread.h>

enum { BATCH = 64, QUEUE = 32 };

typedef struct batch_s {
    void *block[BATCH];
    size_t size[BATCH];
} batch_t;

/* A bounded queue of batches under one mutex; batching keeps the lock cheap next to the 64 mallocs it carries. */
static batch_t *queue[QUEUE];
static int q_head, q_len, producers_left;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER, q_not_empty = PTHREAD_COND_INITIALIZER;
static long batches_per_producer;

static void *producer(void *arg)
{
    uint64_t rng = 0xA0761D6478BD642FULL ^ ((uint64_t)(uintptr_t)arg << 17);

    for (long n = 0; n < batches_per_producer; n++) {
        batch_t *b = wl_xmalloc(sizeof *b);
        for (int i = 0; i < BATCH; i++) {
            b->size[i] = wl_small_size(&rng);
            b->block[i] = wl_xmalloc(b->size[i]);
            wl_touch(b->block[i], b->size[i]);
        }
        pthread_mutex_lock(&q_lock);
        while (q_len == QUEUE)
            pthread_cond_wait(&q_not_full, &q_lock);
        queue[(q_head + q_len++) % QUEUE] = b;
        pthread_cond_signal(&q_not_empty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    producers_left--;
    pthread_cond_broadcast(&q_not_empty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    unsigned long acc = 0;
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && producers_left > 0)
            pthread_cond_wait(&q_not_empty, &q_lock);
        if (q_len == 0) {
            pthread_mutex_unlock(&q_lock);
            break;
        }
        batch_t *b = queue[q_head];
        q_head = (q_head + 1) % QUEUE;
        q_len--;
        pthread_cond_signal(&q_not_full);
        pthread_mutex_unlock(&q_lock);
        for (int i = 0; i < BATCH; i++) {
            acc += ((unsigned char *)b->block[i])[b->size[i] - 1];
            free(b->block[i]);
        }
        free(b);
    }
    wl_fold(acc);
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"pairs", "batches", NULL};
    wl_check_args(argc, argv, names);
    long pairs = wl_arg(argc, argv, "pairs", 2);
    batches_per_producer = wl_arg(argc, argv, "batches", 20000);
    pthread_t tid[128];

    if (pairs < 1 || pairs > 64)
        pairs = 2;
    producers_left = (int)pairs;
    for (long t = 0; t < pairs; t++) {
        pthread_create(&tid[2 * t], NULL, producer, (void *)(uintptr_t)(t + 1));
        pthread_create(&tid[2 * t + 1], NULL, consumer, NULL);
    }
    for (long t = 0; t < 2 * pairs; t++)
        pthread_join(tid[t], NULL);
    return 0;
}
