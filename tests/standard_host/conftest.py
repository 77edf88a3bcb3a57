"""Tests of what only a standard host shows (cgroup v2 unified, systemd, AppArmor): they run in the VM
lab (scripts/vm, a stock Debian 12) and skip, saying so, anywhere else."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SYSTEMD, UNIFIED

CG = Path("/sys/fs/cgroup")


# Every module here: pytestmark = [pytest.mark.root, *STANDARD_HOST].  A skipif mark, evaluated before any
# fixture is set up (a module-scoped one starts engines).
STANDARD_HOST = [pytest.mark.standard_host,
                 pytest.mark.skipif(not (UNIFIED and SYSTEMD), reason="needs a standard host (cgroup v2 unified "
                                    "and systemd): scripts/vm test runs it there")]


def apparmor_enabled() -> bool:
    try:
        return Path("/sys/module/apparmor/parameters/enabled").read_text().strip() == "Y"
    except OSError:
        return False


def live_procs(cgroup: Path) -> str:
    """The cgroup's cgroup.procs, or "" once it is gone: systemd removes an emptied scope at any moment, and a
    read racing that removal fails with ENODEV rather than ENOENT."""
    try:
        return (cgroup / "cgroup.procs").read_text().strip()
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENODEV):
            return ""
        raise


def unit_show(unit: str, *props: str) -> dict[str, str]:
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


from tests.rootless_user import podman_user, rootless_user, urt  # noqa: E402, F401 - the rootless tests' fixtures
