"""Where a container's freezer is, and whether it is frozen: `state`, `kill` and `exec` ask of every
running container, and importing all of cgroups.py for it cost them ~0.4 ms."""

from __future__ import annotations

from pyrt.common import posixos as os


def freezer_file(leaves: list[str]) -> tuple[str, int] | None:
    """(path, 1) of the v1 freezer.state, else (path, 2) of cgroup2's cgroup.freeze, else None."""
    for name, version in (("freezer.state", 1), ("cgroup.freeze", 2)):
        for leaf in leaves:
            path = os.path.join(leaf, name)
            if os.path.exists(path):
                return path, version
    return None


def frozen(leaves: list[str]) -> bool:
    found = freezer_file(leaves)
    if found is None:
        return False
    try:
        fd = os.open(found[0], os.O_RDONLY | os.O_CLOEXEC)
        try:
            value = os.read(fd, 64).decode().strip()
        finally:
            os.close(fd)
    except OSError:
        return False
    return value in ("FROZEN", "FREEZING") if found[1] == 1 else value == "1"
