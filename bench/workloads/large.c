/* Workload large: churn of blocks from 64 KiB to 32 MiB, each written one byte per page as a program would. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"ops", "slots", NULL};
    wl_check_args(argc, argv, names);
    long ops = wl_arg(argc, argv, "ops", 3000);
    long slots = wl_arg(argc, argv, "slots", 8);
    uint64_t rng = 0x2D358DCCAA6C78A5ULL;
    void *slot[256] = {0};
    size_t size[256] = {0};
    unsigned long acc = 0;

    if (slots < 1 || slots > 256)
        slots = 8;
    for (long i = 0; i < ops; i++) {
        size_t k = wl_rand(&rng) % (size_t)slots;
        /* Log-uniform between 2^16 and 2^25 bytes: as many 64 KiB-class blocks as 16 MiB-class ones. */
        unsigned shift = (unsigned)wl_range(&rng, 16, 24);
        size_t n = ((size_t)1 << shift) + wl_range(&rng, 0, ((size_t)1 << shift) - 1);
        free(slot[k]);
        slot[k] = wl_xmalloc(n);
        size[k] = n;
        unsigned char *p = slot[k];
        for (size_t off = 0; off < n; off += 4096)
            p[off] = (unsigned char)off;
        acc += wl_touch(p, n);
    }
    for (long k = 0; k < slots; k++)
        free(slot[k]);
    wl_fold(acc + size[0]);
    return 0;
}
