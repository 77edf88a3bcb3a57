"""cgroup directories and the processes in them, without limits (cgroups.py): what `delete`, `kill --all`,
`ps` and create's clean-up need.  Importing all of cgroups.py for delete's rmdirs cost it ~0.4 ms."""

from __future__ import annotations

import errno
import time

from pyrt.common import posixos as os
from pyrt.common.signals import SIGKILL


def read(path: str) -> str:
    """A cgroup file's whole text (they are small; OSError as the caller wants it)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def shared_default_parents(leaves: list[str], default_parent: str = "pyrt") -> list[str]:
    """pyrt's own default parent (/pyrt) in each hierarchy, for the leaves of the default cgroupsPath
    (/pyrt/<id>, always right under each mount).  It stays when its last container goes, as runc leaves
    a cgroupsPath's parents and Docker its /docker (an mkdir and an rmdir in each of ~10 hierarchies:
    run -0.9 ms), except after a failed create and while it holds real-time time (hold_rt_time).
    No mountinfo read: it cost delete 0.3 ms."""
    return [os.path.dirname(leaf) for leaf in leaves if os.path.basename(os.path.dirname(leaf)) == default_parent]


def hold_rt_time(parents: list[str]) -> bool:
    """Whether the cpu (v1) one of these holds real-time runtime, which a container's realtimeRuntime
    made it take from the root: an empty parent must give it back (by going)."""
    for d in parents:
        if "cpu" in os.path.basename(os.path.dirname(d)).split(","):
            try:
                return int(read(os.path.join(d, "cpu.rt_runtime_us"))) > 0
            except (OSError, ValueError):
                return False
    return False


def pids(leaves: list[str]) -> list[int]:
    """Every process in the container's cgroup (read from the first hierarchy that has it)."""
    for leaf in leaves:
        try:
            return [int(x) for x in read(os.path.join(leaf, "cgroup.procs")).split()]
        except OSError:
            continue
    return []


def unfit(dirs: list[str]) -> str | None:
    """Why a container cannot take these existing cgroup directories, or None.  A cgroup with processes
    in it is another container's or a service's: `kill --all` and `delete --force` would reach them, and
    the limits would bind them too (runc 1.1 warns, 1.2 refuses: so does pyrt).  A frozen one would stop
    init as it joined."""
    for d in dirs:
        try:
            procs = read(os.path.join(d, "cgroup.procs")).split()
        except OSError:
            procs = []
        if procs:
            return f"{d} is not empty: {len(procs)} process(es) found"
        for name, frozen in (("cgroup.freeze", "1"), ("freezer.state", "FROZEN")):
            try:
                if read(os.path.join(d, name)).strip() == frozen:
                    return f"{d} is frozen ({name})"
            except OSError:
                pass
    return None


def kill_all(leaves: list[str], sig: int) -> None:
    """sig to every process of the container; SIGKILL through cgroup2's cgroup.kill where the kernel has
    it (5.14+): the whole cgroup at once, even processes forking meanwhile."""
    if sig == SIGKILL:
        for leaf in leaves:
            try:
                fd = os.open(os.path.join(leaf, "cgroup.kill"), os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                os.write(fd, b"1")
                return
            except OSError:
                pass
            finally:
                os.close(fd)
    for pid in pids(leaves):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def remove(dirs: list[str], timeout: float = 2.0) -> None:
    """rmdir what pyrt created, deepest first; a dir still in use by others is left alone."""
    for d in sorted(dirs, key=len, reverse=True):
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno == errno.EBUSY and time.monotonic() < deadline and not _has_children(d):
                    time.sleep(0.005)  # exiting tasks keep it busy a moment, even once cgroup.procs is empty
                    continue
                break


def _has_children(d: str) -> bool:
    """A child cgroup (another container's, under a shared parent): EBUSY for good, no point waiting."""
    try:
        with os.scandir(d) as it:
            return any(e.is_dir(follow_symlinks=False) for e in it)
    except OSError:
        return False
