"""Processes pyrt started or watches: their state in /proc/PID/stat, and reaping children."""

from __future__ import annotations

import fcntl

from pyrt.common import posixos as os


def unpassed_fd(count: int) -> int | None:
    """The first fd of 3 .. 3+count-1 (what --preserve-fds hands to the container) that the caller left
    closed, or None.  pyrt refuses those, as runc does: anything pyrt opened there (a state-dir lock, a
    log) would reach the container instead."""
    for fd in range(3, 3 + count):
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            return fd
    return None

PF_EXITING = 0x4


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None when it is gone.

    A process in do_exit (PF_EXITING) reads as "X": a pid namespace's init can wait there for a
    long time until somebody reaps the last zombie of its namespace, but it has already left its
    cgroups and will never run the container's program again.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2:].split()
    letter = "X" if int(rest[6]) & PF_EXITING else rest[0].decode()
    return letter, int(rest[19])


def reap_until(pid: int, block: bool) -> int | None:
    """Reap children; pid's exit code (128+N when killed by signal N) once it exited, else None."""
    while True:
        try:
            got, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 255
        if got == 0:
            return None
        if got == pid:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code


def same_pid_namespace(pid: int) -> list[int]:
    """The processes in pid's pid namespace (pid itself included) that this user may look at."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return []
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == ns:
                    out.append(int(name))
            except OSError:
                continue
    return sorted(out)
