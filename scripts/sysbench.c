/* ns per syscall inside a container: getppid (an always-allowed call: the kernel caches its
 * verdict) and personality(0xffffffff) (an argument rule: the filter runs).  Best of 5 rounds. */
#define _GNU_SOURCE
#include <stdio.h>
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

int main(void) {
    printf("%.1f %.1f\n", bench(SYS_getppid, 0, 500000), bench(SYS_personality, 0xffffffffUL, 500000));
    return 0;
}
