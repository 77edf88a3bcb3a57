/* Seccomp probe for pyrt's tests: asks the kernel what a filter decides.
 *
 * usage: probe FILTER.bpf CASES   (CASES: lines "ABI NR A0 A1 A2 A3 A4 A5", ABI 64 or 32)
 * For each case a child sets no_new_privs, loads FILTER with seccomp(2) and makes the
 * call (ABI 32 through int 0x80).  It prints "ABI NR A0..A5 errno=E" or "... signal=S".
 * The filter must answer every call with an errno (the tests build it that way), so
 * no call reaches the kernel; exit_group is let through by the test's prefix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long call32(long nr, long a0, long a1, long a2, long a3, long a4) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3), "D"(a4) : "memory");
    return ret;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: probe FILTER CASES\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    static struct sock_filter insns[8192];
    size_t n = fread(insns, sizeof insns[0], 8192, f);
    fclose(f);
    struct sock_fprog prog = { .len = (unsigned short)n, .filter = insns };
    FILE *cases = fopen(argv[2], "r");
    if (!cases) { perror(argv[2]); return 2; }
    int abi; long nr; unsigned long a[6];
    while (fscanf(cases, "%d %ld %lu %lu %lu %lu %lu %lu", &abi, &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) == 8) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
                _exit(255);
            long r = abi == 32 ? call32(nr, a[0], a[1], a[2], a[3], a[4])
                               : syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            long e = abi == 32 ? (r < 0 ? -r : 0) : (r < 0 ? errno : 0);
            syscall(SYS_exit_group, (int)(e > 254 ? 254 : e));
            _exit(253);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("%d %ld %lu %lu %lu %lu %lu %lu ", abi, nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (WIFSIGNALED(status)) printf("signal=%d\n", WTERMSIG(status));
        else printf("errno=%d\n", WEXITSTATUS(status));
    }
    return 0;
}
