/* Workload churn: one thread replaces random blocks of mixed small sizes, the steady state of most C programs. */
#include "wl.h"

int main(int argc, char **argv)
{
    static const char *const names[] = {"ops", "slots", NULL};
    wl_check_args(argc, argv, names);
    long ops = wl_arg(argc, argv, "ops", 5000000);
    long slots = wl_arg(argc, argv, "slots", 20000);
    wl_churn(ops, slots, 0x9E3779B97F4A7C15ULL);
    return 0;
}
