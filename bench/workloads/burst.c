/* Workload burst: allocate a large burst of small blocks, free it all, idle about a second, report RSS left. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"mib", "idle_ms", NULL};
    wl_check_args(argc, argv, names);
    long mib = wl_arg(argc, argv, "mib", 900);
    long idle_ms = wl_arg(argc, argv, "idle_ms", 1000);
    uint64_t rng = 0x60BEE2BEE120FC15ULL;
    size_t budget = (size_t)mib << 20, total = 0;
    void *head = NULL;

    /* The blocks are chained through their first word, so no side array inflates the RSS being measured. */
    while (total < budget) {
        size_t size = wl_range(&rng, 16, 256);
        void **b = wl_xmalloc(size);
        memset(b, 0x5A, size);
        *b = head;
        head = b;
        total += size;
    }
    wl_report("rss_full_kib", (double)wl_rss_kib());
    while (head) {
        void *next = *(void **)head;
        free(head);
        head = next;
    }
    wl_report("rss_freed_kib", (double)wl_rss_kib());
    /* A quiet program that still calls the allocator now and then, which is when lazy allocators tidy up. */
    for (long t = 0; t < idle_ms; t += 50) {
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
        void *few[16];
        for (int i = 0; i < 16; i++)
            few[i] = wl_xmalloc(wl_range(&rng, 16, 256));
        for (int i = 0; i < 16; i++)
            free(few[i]);
    }
    wl_report("rss_left_kib", (double)wl_rss_kib());
    return 0;
}
