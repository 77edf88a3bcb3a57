"""Who is calling pyrt: root of the host, a normal user, or root of a user namespace that is not the
initial one (how rootless Podman calls a runtime); and what follows from it: where state and caches
live, and whether cgroups are optional (runc's --rootless).  Built-in modules only: every command asks.
"""

from __future__ import annotations

from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError

ROOT_STATE_DIR = "/run/pyrt"
ROOT_CACHE_DIR = "/var/cache/pyrt"
_FULL_MAP = [(0, 0, 4294967295)]
_seen: list[list[tuple[int, int, int]]] = []


def _uid_map() -> list[tuple[int, int, int]]:
    """This process's uid_map (inside, outside, count), read once; the identity where unreadable."""
    if not _seen:
        try:
            with open("/proc/self/uid_map") as fh:
                _seen.append([(int(a), int(b), int(c)) for a, b, c in (line.split() for line in fh)])
        except (OSError, ValueError):
            _seen.append(_FULL_MAP)
    return _seen[0]


def in_user_namespace() -> bool:
    """Whether this process runs in a user namespace other than the initial one (as runc decides: its
    uid_map is anything but the identity of all 2^32-1 ids)."""
    return _uid_map() != _FULL_MAP


def host_uid() -> int:
    """This process's uid as the initial user namespace sees it: root of a rootless engine's user
    namespace is the user who made it."""
    uid = os.geteuid()
    for inside, outside, count in _uid_map():
        if inside <= uid < inside + count:
            return outside + uid - inside
    return uid


def host_root() -> bool:
    """Root of the host: euid 0 in the initial user namespace."""
    return os.geteuid() == 0 and not in_user_namespace()


def unprivileged() -> bool:
    """A normal user (euid not 0): no capability outside the user namespaces it makes."""
    return os.geteuid() != 0


def rootless(flag: str) -> bool:
    """runc's --rootless true|false|auto: whether cgroups are optional (a config without limits runs
    where no cgroup may be written).  auto: anyone but root of the host."""
    if flag == "true":
        return True
    if flag == "false":
        return False
    return not host_root()


def state_root(given: str | None) -> str:
    """The --root to use: the one given, /run/pyrt for root, else $XDG_RUNTIME_DIR/pyrt, which must be
    this user's own directory (a clear error otherwise, never someone else's state)."""
    if given is not None:
        return given
    xdg = os.getenv("XDG_RUNTIME_DIR") or ""
    # runc's rule: a normal user's XDG_RUNTIME_DIR; root's only in a user namespace, and not when USER=root
    if not unprivileged() and not (xdg and in_user_namespace() and os.getenv("USER") != "root"):
        return ROOT_STATE_DIR
    if not xdg:
        raise PyrtError("XDG_RUNTIME_DIR is not set: a normal user's containers keep their state in "
                        "$XDG_RUNTIME_DIR/pyrt (log in through PAM, or give --root DIR)")
    try:
        st = os.stat(xdg)
    except OSError as exc:
        raise PyrtError(f"XDG_RUNTIME_DIR={xdg}: {exc.strerror}") from None
    if st.st_mode & 0o170000 != 0o040000:
        raise PyrtError(f"XDG_RUNTIME_DIR={xdg}: not a directory")
    if st.st_uid != os.geteuid():
        raise PyrtError(f"XDG_RUNTIME_DIR={xdg}: owned by uid {st.st_uid}, not by this user (uid {os.geteuid()}); "
                        "give --root DIR or set XDG_RUNTIME_DIR to your own directory")
    return os.path.join(xdg, "pyrt")


def cache_dir() -> str | None:
    """$PYRT_CACHE_DIR; /var/cache/pyrt for root of the host; else the user's own ($XDG_CACHE_HOME/pyrt
    or ~/.cache/pyrt), never root's; None (no cache) when the user has no home to keep one in."""
    given = os.getenv("PYRT_CACHE_DIR")
    if given:
        return given
    if host_root():
        return ROOT_CACHE_DIR
    xdg = os.getenv("XDG_CACHE_HOME")
    if xdg and xdg.startswith("/"):
        return os.path.join(xdg, "pyrt")
    home = os.getenv("HOME")
    if home and home.startswith("/") and home != "/":
        return os.path.join(home, ".cache", "pyrt")
    return None
