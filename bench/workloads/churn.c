/* Workload churn: one thread replaces random blocks of mixed small sizes, the steady state of most C programs. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"ops", "slots", NULL};
    wl_check_args(argc, argv, names);
    long ops = wl_arg(argc, argv, "ops", 5000000);
    long slots = wl_arg(argc, argv, "slots", 20000);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
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
    return 0;
}
