/* Workload realloc: interleaved buffers grow by small appends through realloc, as naive string builders do. */
#include "wl.h"

typedef struct {
    unsigned char *data;
    size_t len, target;
} buf_t;

/* Targets are spread over 64 B .. 128 KiB on a log scale, so small and large growth both matter. */
static size_t pick_target(uint64_t *rng)
{
    unsigned shift = (unsigned)wl_range(rng, 6, 16);
    return ((size_t)1 << shift) + wl_range(rng, 0, ((size_t)1 << shift) - 1);
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"buffers", "mib", NULL};
    wl_check_args(argc, argv, names);
    long nbuf = wl_arg(argc, argv, "buffers", 32);
    long mib = wl_arg(argc, argv, "mib", 256);
    uint64_t rng = 0x5851F42D4C957F2DULL;
    buf_t *buf = calloc((size_t)nbuf, sizeof *buf);
    size_t total = 0, budget = (size_t)mib << 20;
    unsigned long acc = 0;

    for (long i = 0; i < nbuf; i++)
        buf[i].target = pick_target(&rng);
    while (total < budget) {
        buf_t *b = &buf[wl_rand(&rng) % (size_t)nbuf];
        size_t add = wl_range(&rng, 1, 64);
        unsigned char *p = realloc(b->data, b->len + add);
        if (!p) {
            fprintf(stderr, "out of memory growing a buffer to %zu bytes\n", b->len + add);
            return 3;
        }
        memset(p + b->len, (int)add, add);
        acc += p[b->len / 2];
        b->data = p;
        b->len += add;
        total += add;
        if (b->len >= b->target) {
            free(b->data);
            b->data = NULL;
            b->len = 0;
            b->target = pick_target(&rng);
        }
    }
    for (long i = 0; i < nbuf; i++)
        free(buf[i].data);
    free(buf);
    wl_fold(acc);
    return 0;
}
