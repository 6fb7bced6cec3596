/* Workload pair: the malloc+free round trip on a hot size class, the allocator's best case; reports ns per pair. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"pairs", NULL};
    wl_check_args(argc, argv, names);
    long pairs = wl_arg(argc, argv, "pairs", 50000000);
    /* Sizes cycle through common small classes so one lucky class cannot decide the result. */
    static const size_t sizes[8] = {16, 24, 32, 48, 64, 96, 128, 256};
    unsigned long acc = 0;

    for (long i = 0; i < 1000; i++) /* warm the classes and the thread's cache */
        free(wl_xmalloc(sizes[i & 7]));
    double t0 = wl_now();
    for (long i = 0; i < pairs; i++) {
        unsigned char *p = malloc(sizes[i & 7]);
        p[0] = (unsigned char)i;
        acc += p[0];
        free(p);
    }
    double t1 = wl_now();
    wl_fold(acc);
    wl_report("ns_per_pair", (t1 - t0) * 1e9 / (double)(pairs ? pairs : 1));
    return 0;
}
