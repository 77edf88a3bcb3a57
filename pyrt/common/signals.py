"""Signal names and numbers on Linux x86_64 (facts), without importing ``signal`` (it pulls in enum)."""

from __future__ import annotations

from pyrt.common.errors import PyrtError

NUMBERS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGIOT": 6, "SIGBUS": 7,
    "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14,
    "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21,
    "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28,
    "SIGIO": 29, "SIGPOLL": 29, "SIGPWR": 30, "SIGSYS": 31,
}
SIGKILL = 9
SIGRTMIN, SIGRTMAX = 34, 64
# run forwards every other signal to the container's init.
NOT_FORWARDED = frozenset((9, 19, 17, 11, 7, 4, 8, 20, 21, 22))  # KILL STOP CHLD SEGV BUS ILL FPE TSTP TTIN TTOU


def parse(text: str) -> int:
    """A signal as runc takes it: a number, or a name with or without SIG, any case."""
    name = text.strip().upper()
    if name.isdigit():
        num = int(name)
        if 0 <= num <= SIGRTMAX:  # 0: no signal, only the check that the process is there (as runc)
            return num
    else:
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name in NUMBERS:
            return NUMBERS[name]
        for base, sign in (("SIGRTMIN", 1), ("SIGRTMAX", -1)):
            if name == base:
                return SIGRTMIN if sign > 0 else SIGRTMAX
            if name.startswith(base + ("+" if sign > 0 else "-")) and name[len(base) + 1:].isdigit():
                num = (SIGRTMIN if sign > 0 else SIGRTMAX) + sign * int(name[len(base) + 1:])
                if SIGRTMIN <= num <= SIGRTMAX:
                    return num
    raise PyrtError(f"invalid signal {text!r}")
