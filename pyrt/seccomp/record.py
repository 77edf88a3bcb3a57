"""What a recorded workload called -> a Docker-format seccomp profile (pure; no syscalls).

The recorder (recorder.py) hands over an ``Observed``: the syscall names the
workload made, the names the runtime made between loading the filter and
execve, the first-argument values of the calls Docker's profile gates by
argument (clone's flags, socket's family, personality's persona), and the
numbers libseccomp has no name for.  ``profile`` turns it into a profile that
Docker and pyrt both load: EPERM by default, an ``archMap`` for the host, one
allow list for the workload and one for the runtimes, argument rules in
Docker's style, and clone3 answered with ENOSYS so that libc falls back to
clone, where the flags rule holds.  ``parse`` reads such a profile back, for
``--seccomp-record-merge``.

Entries carry a ``comment`` starting with ``pyrt-record:``; that tag, not the
order, is how ``parse`` finds them.
"""

from __future__ import annotations

import os
from typing import Any

from pyrt.common.errors import PyrtError

TAG = "pyrt-record:"
# Docker's mask: CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP (NEWTIME overlaps CSIGNAL).
CLONE_NS_MASK = 0x7E020000
ARG_RULED = ("clone", "socket", "personality")  # first argument recorded, allowed value by value
# What runtimes call after loading a filter when process.noNewPrivileges is false (the filter goes in
# before the capability drop), measured with a SCMP_ACT_LOG profile under Docker 28 (kernel audit
# records, printk_ratelimit 0), 21 runs each of `true` and `sh -c 'echo hi'`, with and without -t -u 1000.
RUNC_AFTER_LOAD = (  # runc 1.1.5, its init's thread; fchown with -t, rt_sigreturn in 1 run of 21
    "capget", "capset", "chdir", "close", "epoll_ctl", "execve", "faccessat2", "fchown", "fcntl", "fstat",
    "fstatfs", "futex", "getcwd", "getdents64", "getppid", "newfstatat", "openat", "prctl", "read",
    "rt_sigreturn", "setgid", "setgroups", "setuid", "write",
)
GO_RUNTIME_MARGIN = (  # not seen in those runs, but Go's scheduler and allocator may call them on that thread
    "clone", "exit", "exit_group", "getpid", "gettid", "madvise", "mmap", "munmap", "nanosleep",
    "rt_sigprocmask", "sched_yield", "sigaltstack", "tgkill",
)
PYRT_AFTER_LOAD = (  # pyrt's init; mmap in 7 runs of 21 (the allocator), brk/munmap for the same reason
    "access", "brk", "capset", "chdir", "close", "close_range", "execve", "getcwd", "mmap", "munmap",
    "newfstatat", "prctl", "read", "rt_sigaction", "rt_sigprocmask", "setgroups", "setresgid", "setresuid",
    "umask", "write",
)
ARCH_MAP = [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}]
SOCKET_FAMILIES = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET", 38: "AF_ALG",
                   40: "AF_VSOCK"}


class Observed:
    """Plain sets: names per phase, first-argument values per ARG_RULED name, unnamed calls."""

    def __init__(self) -> None:
        self.workload: set[str] = set()
        self.runtime: set[str] = set()
        self.values: dict[str, set[int]] = {name: set() for name in ARG_RULED}
        self.unnamed: set[str] = set()
        self.calls = 0

    def merge(self, other: Observed) -> None:
        self.workload |= other.workload
        self.runtime |= other.runtime
        for name in ARG_RULED:
            self.values[name] |= other.values[name]
        self.unnamed |= other.unnamed
        self.calls += other.calls


def _allow(names: list[str], comment: str, args: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"names": names, "action": "SCMP_ACT_ALLOW"}
    if args:
        entry["args"] = args
    entry["comment"] = f"{TAG} {comment}"
    return entry


def _eq(value: int) -> list[dict[str, Any]]:
    return [{"index": 0, "value": value, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]


def profile(obs: Observed) -> dict[str, Any]:
    """The Docker-format profile that allows what was observed and nothing else."""
    called = obs.workload | obs.runtime
    gated = set(ARG_RULED) | {"clone3"}
    runtime = (obs.runtime | set(RUNC_AFTER_LOAD) | set(GO_RUNTIME_MARGIN) | set(PYRT_AFTER_LOAD)) - obs.workload
    syscalls: list[dict[str, Any]] = []
    workload = sorted(obs.workload - gated)
    unnamed = f"; seen without a name in this libseccomp: {', '.join(sorted(obs.unnamed))}" if obs.unnamed else ""
    if workload:
        syscalls.append(_allow(workload, f"workload: what the recorded runs called{unnamed}"))
    syscalls.append(_allow(sorted(runtime - gated),
                           "runtime: what pyrt (and runc) call after loading the filter, before execve "
                           "(with noNewPrivileges unset the filter is loaded before the capability drop)"))
    if "clone" in called or "clone" in runtime:
        used = 0
        for flags in obs.values["clone"]:
            used |= flags & CLONE_NS_MASK
        mask = CLONE_NS_MASK & ~used
        args = [{"index": 0, "value": mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}] if mask else None
        syscalls.append(_allow(["clone"], f"clone: namespace flags seen {used:#x}; the others are denied", args))
    for value in sorted(obs.values["socket"]):
        syscalls.append(_allow(["socket"], f"socket: family {value} ({SOCKET_FAMILIES.get(value, '?')})", _eq(value)))
    for value in sorted(obs.values["personality"]):
        syscalls.append(_allow(["personality"], f"personality: persona {value:#x}", _eq(value)))
    syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                     "comment": f"{TAG} clone3: ENOSYS, so that libc falls back to clone and its flags rule"})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "archMap": ARCH_MAP, "syscalls": syscalls}


def parse(data: Any, path: str) -> Observed:
    """Read a profile that ``profile`` wrote back into an Observed (for merging); PyrtError otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("syscalls"), list):
        raise PyrtError(f"{path}: not a seccomp profile (no \"syscalls\" list)")
    obs = Observed()
    tagged = 0
    for i, entry in enumerate(data["syscalls"]):
        comment = entry.get("comment", "") if isinstance(entry, dict) else ""
        if not isinstance(comment, str) or not comment.startswith(TAG):
            continue
        tagged += 1
        names = entry.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PyrtError(f"{path}: syscalls[{i}].names: expected a list of strings")
        kind = comment[len(TAG):].strip().split(":", 1)[0]
        args = entry.get("args") or []
        value = args[0].get("value") if args and isinstance(args[0], dict) else None
        if args and not isinstance(value, int):
            raise PyrtError(f"{path}: syscalls[{i}].args[0].value: expected an integer")
        if kind == "workload":
            obs.workload.update(names)
        elif kind == "runtime":
            obs.runtime.update(names)
        elif kind == "clone":
            obs.workload.add("clone")
            obs.values["clone"].add(CLONE_NS_MASK & ~value if value is not None else CLONE_NS_MASK)
        elif kind in ("socket", "personality"):
            obs.workload.add(kind)
            if value is not None:
                obs.values[kind].add(value)
        elif kind != "clone3":
            raise PyrtError(f"{path}: syscalls[{i}].comment: unknown {TAG} entry {kind!r}")
    if not tagged:
        raise PyrtError(f"{path}: not a profile written by pyrt run --seccomp-record (no {TAG!r} entries), "
                        "so it cannot be merged")
    obs.runtime -= set(RUNC_AFTER_LOAD) | set(GO_RUNTIME_MARGIN) | set(PYRT_AFTER_LOAD)
    return obs


def load_previous(path: str) -> Observed | None:
    """The recording already in path (for --seccomp-record-merge), or None when there is none yet."""
    from pyrt.linux.files import read_json

    data = read_json(path, "--seccomp-record", missing_ok=True)
    return None if data is None else parse(data, f"--seccomp-record {path}")


def check_target(path: str) -> None:
    """Refuse, before any container exists, a FILE that could not be written at the end."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise PyrtError(f"--seccomp-record {path}: is a directory")
    if not os.path.isdir(directory):
        raise PyrtError(f"--seccomp-record {path}: {directory} is not a directory")
    if not os.access(directory, os.W_OK):
        raise PyrtError(f"--seccomp-record {path}: {directory} is not writable")


def write(path: str, prof: dict[str, Any]) -> None:
    """Atomically: a reader sees the old file or the whole new one, never a part."""
    import json

    from pyrt.linux.files import write_atomic

    write_atomic(path, (json.dumps(prof, indent=2) + "\n").encode(), "--seccomp-record")
