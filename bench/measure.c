/* Bench launcher: runs one program with LD_PRELOAD set for it alone and prints its wall, CPU and peak RSS as JSON. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Usage: measure [-p LD_PRELOAD_VALUE] [-t TIMEOUT_S] [-r FD] -- PROGRAM [ARGS...]
 *   -p  the child's LD_PRELOAD; without it the child runs with LD_PRELOAD unset (the system allocator)
 *   -t  kill the child's process group after this many seconds (default 600)
 *   -r  write the result line to this file descriptor instead of stdout (not inherited by the child)
 * The result is one JSON line: {"wall":s,"user":s,"sys":s,"maxrss_kib":n,"exit":n|null,"signal":n|null,
 * "timed_out":bool}. CPU times and peak RSS come from wait4, so they cover the program and the children it
 * waited for (gcc's cc1 and as), and never this launcher or the Node harness that started it.
 * Exit status: 0 when a result was written (whatever the child did), 2 on bad usage, 127 if exec failed. */

static volatile sig_atomic_t expired;

static void on_alarm(int sig)
{
    (void)sig;
    expired = 1;
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *preload = NULL;
    long timeout = 600;
    int result_fd = 1, opt;

    while ((opt = getopt(argc, argv, "+p:t:r:")) != -1) {
        switch (opt) {
        case 'p': preload = optarg; break;
        case 't': timeout = strtol(optarg, NULL, 10); break;
        case 'r': result_fd = (int)strtol(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: measure [-p LD_PRELOAD] [-t TIMEOUT_S] [-r FD] -- PROGRAM [ARGS...]\n");
            return 2;
        }
    }
    if (optind >= argc || timeout <= 0) {
        fprintf(stderr, "usage: measure [-p LD_PRELOAD] [-t TIMEOUT_S] [-r FD] -- PROGRAM [ARGS...]\n");
        return 2;
    }

    double start = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        /* Own process group, so a timeout also kills what the program started. */
        setpgid(0, 0);
        if (result_fd > 2)
            close(result_fd);
        if (preload && *preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "measure: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 must return EINTR when the time is up */
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)timeout);

    int status = 0, timed_out = 0;
    struct rusage ru;
    for (;;) {
        pid_t r = wait4(pid, &status, 0, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno == EINTR && expired && !timed_out) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            continue;
        }
        if (r < 0 && errno != EINTR) {
            perror("measure: wait4");
            return 2;
        }
    }
    double wall = now() - start;
    alarm(0);

    char exit_s[16] = "null", signal_s[16] = "null", line[512];
    if (WIFEXITED(status))
        snprintf(exit_s, sizeof exit_s, "%d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        snprintf(signal_s, sizeof signal_s, "%d", WTERMSIG(status));
    int n = snprintf(line, sizeof line,
                     "{\"wall\":%.6f,\"user\":%.6f,\"sys\":%.6f,\"maxrss_kib\":%ld,\"exit\":%s,\"signal\":%s,"
                     "\"timed_out\":%s}\n",
                     wall, seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_maxrss, exit_s, signal_s,
                     timed_out ? "true" : "false");
    if (write(result_fd, line, (size_t)n) != n) {
        perror("measure: writing the result");
        return 2;
    }
    return 0;
}
