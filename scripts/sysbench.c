/* ns per syscall inside a container: getppid (an always-allowed call: the kernel caches its
 * verdict) and personality(0xffffffff) (an argument rule: the filter runs).  Best of 5 rounds of
 * argv[1] calls (default 500000). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double bench(long nr, unsigned long arg, long n) {
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) syscall(nr, arg);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
        if (ns < best) best = ns;
    }
    return best;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 500000;  /* calls per round */
    printf("%.1f %.1f\n", bench(SYS_getppid, 0, n), bench(SYS_personality, 0xffffffffUL, n));
    return 0;
}
