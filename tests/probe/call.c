/* A workload for pyrt's seccomp-record tests: makes exactly the syscalls it is told to.
 *
 * usage: call [fork] NR [A0 .. A5] [-- [fork] NR ...]   (numbers in C syntax: 41, 0x11)
 * Each group is one raw syscall; "fork" makes it in a forked child instead.  A clone that
 * returns 0 is the child: it exits at once.  Prints "NR ret=R errno=E" per call (exit 0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void one(char **argv, int n) {
    int in_child = 0;
    if (n > 0 && strcmp(argv[0], "fork") == 0) { in_child = 1; argv++; n--; }
    if (n < 1) { fprintf(stderr, "call: a group needs a syscall number\n"); exit(2); }
    long nr = strtol(argv[0], NULL, 0);
    unsigned long a[6] = {0};
    for (int i = 1; i < n && i <= 6; i++) a[i - 1] = strtoul(argv[i], NULL, 0);
    pid_t child = 0;
    if (in_child && (child = fork()) != 0) {
        int status;
        waitpid(child, &status, 0);
        printf("fork %ld exit=%d\n", nr, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return;
    }
    long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    int e = r < 0 ? errno : 0;
    if (in_child) _exit(e);
    if (r == 0 && (nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork)) _exit(0);  /* the clone's child */
    if (r > 0 && (nr == SYS_clone || nr == SYS_fork || nr == SYS_vfork)) waitpid((pid_t)r, NULL, __WALL);
    printf("%ld ret=%ld errno=%d\n", nr, r, e);
}

int main(int argc, char **argv) {
    int start = 1;
    for (int i = 1; i <= argc; i++) {
        if (i == argc || strcmp(argv[i], "--") == 0) {
            one(argv + start, i - start);
            start = i + 1;
        }
    }
    fflush(stdout);
    return 0;
}
