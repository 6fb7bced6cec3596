/* Workload fragment: fill a heap, free 90% at random so long-lived survivors pin pages, then reuse; report RSS. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"mib", NULL};
    wl_check_args(argc, argv, names);
    long mib = wl_arg(argc, argv, "mib", 400);
    uint64_t rng = 0x1D8E4E27C47D124FULL;
    size_t budget = (size_t)mib << 20, total = 0, count = 0, cap = budget / 64;
    void **obj = wl_xmalloc(cap * sizeof *obj);
    unsigned long acc = 0;

    /* Phase 1: a heap of small objects, as after loading a large document. */
    while (total < budget && count < cap) {
        size_t size = wl_small_size(&rng);
        obj[count] = wl_xmalloc(size);
        acc += wl_touch(obj[count], size);
        total += size;
        count++;
    }
    /* Phase 2: the document is closed but one object in ten lives on (caches, interned strings). */
    size_t live = 0;
    for (size_t i = 0; i < count; i++) {
        if (wl_rand(&rng) % 10 != 0) {
            free(obj[i]);
            obj[i] = NULL;
        } else {
            obj[live++] = obj[i];
        }
    }
    wl_report("rss_after_free_kib", (double)wl_rss_kib());
    /* Phase 3: new work with a different size mix: can the allocator reuse the holes it kept? */
    size_t fresh = 0, fresh_budget = budget / 4;
    void **neu = wl_xmalloc((fresh_budget / 1024 + 1) * sizeof *neu);
    size_t nneu = 0;
    while (fresh < fresh_budget) {
        size_t size = wl_range(&rng, 1024, 4096);
        neu[nneu] = wl_xmalloc(size);
        acc += wl_touch(neu[nneu], size);
        fresh += size;
        nneu++;
    }
    wl_report("rss_reuse_kib", (double)wl_rss_kib());
    for (size_t i = 0; i < nneu; i++)
        free(neu[i]);
    for (size_t i = 0; i < live; i++)
        free(obj[i]);
    free(neu);
    free(obj);
    wl_fold(acc);
    return 0;
}
