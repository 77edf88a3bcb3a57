"""Rootless on a standard host: the test user (tests/rootless_user.py) has its own systemd (lingering,
user@UID.service) with cpu, memory and pids delegated.  --systemd-cgroup talks to that systemd on the
user's bus; a cgroupfs path in the delegated subtree works too; rootless Podman runs with pyrt and with
crun side by side.  The rest of the rootless suite (tests/rootless) runs here as well."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import PYRT
from tests.engines.conftest import Engine
from tests.rootless_user import DOCKER_PROFILE, User, UserRuntime
from tests.standard_host.conftest import CG, STANDARD_HOST

pytestmark = [pytest.mark.root, *STANDARD_HOST]


def user_manager(user: User) -> Path:
    return CG / "user.slice" / f"user-{user.uid}.slice" / f"user@{user.uid}.service"


def unit_state(user: User, unit: str) -> str:
    res = user.run("systemctl", "--user", "show", "--property=ActiveState", "--value", unit)
    return res.stdout.strip()


def test_the_user_s_systemd_has_controllers_delegated(rootless_user: User) -> None:
    assert rootless_user.lingering
    controllers = (user_manager(rootless_user) / "cgroup.controllers").read_text().split()
    assert {"cpu", "memory", "pids"} <= set(controllers)


def test_systemd_cgroup_is_a_scope_of_the_user_s_systemd(urt: UserRuntime) -> None:
    """--systemd-cgroup as the user: a scope in the user's user.slice, its limits in the delegated subtree,
    pause/resume/update through it, and the scope gone after delete."""
    user = urt.user
    cid = urt.new_id()
    cfg = urt.config("sleep", "60")
    cfg["linux"]["resources"] = {"pids": {"limit": 30}, "memory": {"limit": 64 << 20}}
    assert urt("--systemd-cgroup", "run", "-d", "--bundle", str(urt.bundle(cfg)), cid).returncode == 0
    try:
        scope = user_manager(user) / "user.slice" / f"pyrt-{cid}.scope"
        pid = urt.state(cid)["pid"]
        assert Path(f"/proc/{pid}/cgroup").read_text() == f"0::/{scope.relative_to(CG)}\n"
        assert (scope / "pids.max").read_text() == "30\n"
        assert (scope / "memory.max").read_text() == f"{64 << 20}\n"
        assert unit_state(user, f"pyrt-{cid}.scope") == "active"
        inside = urt("exec", cid, "cat", "/sys/fs/cgroup/pids.max")
        assert inside.stdout == "30\n", inside.stderr
        assert urt("pause", cid).returncode == 0 and urt.state(cid)["status"] == "paused"
        assert urt("resume", cid).returncode == 0 and urt.state(cid)["status"] == "running"
        res = urt("update", "--pids-limit", "40", cid)
        assert res.returncode == 0, res.stderr
        assert (scope / "pids.max").read_text() == "40\n"
    finally:
        assert urt("delete", "--force", cid).returncode == 0
    assert not scope.exists()
    assert unit_state(user, f"pyrt-{cid}.scope") in ("inactive", "")


def test_a_delegated_cgroupfs_path(urt: UserRuntime) -> None:
    """Without the systemd driver: a cgroupsPath in the user's delegated subtree is made, limited and
    removed by pyrt itself (pyrt runs in a scope of the user's systemd, as a login shell's commands do)."""
    user = urt.user
    cid = urt.new_id()
    leaf = user_manager(user) / f"pyrt-{cid}"
    cfg = urt.config("sleep", "60")
    cfg["linux"]["cgroupsPath"] = f"/{leaf.relative_to(CG)}"
    cfg["linux"]["resources"] = {"pids": {"limit": 25}}
    res = user.run("systemd-run", "--user", "--scope", "--quiet", "--", str(PYRT), "run", "-d", "--bundle",
                   str(urt.bundle(cfg)), cid)
    assert res.returncode == 0, res.stderr
    try:
        pid = urt.state(cid)["pid"]
        assert Path(f"/proc/{pid}/cgroup").read_text() == f"0::/{leaf.relative_to(CG)}\n"
        assert (leaf / "pids.max").read_text() == "25\n"
        inside = user.run("systemd-run", "--user", "--scope", "--quiet", "--", str(PYRT), "exec", cid, "cat",
                          "/proc/self/cgroup", "/sys/fs/cgroup/pids.max")
        assert inside.stdout == "0::/\n25\n", inside.stderr  # its own cgroup namespace (runc spec's, cgroup v2)
    finally:
        assert urt("delete", "--force", cid).returncode == 0
    assert not leaf.exists()


RUNTIMES = {"pyrt": "/usr/local/bin/pyrt", "crun": "/usr/bin/crun"}


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_rootless_podman(podman_user: User, runtime: str) -> None:
    """The same flows with pyrt and with crun: run, the exit code, exec (-t too), limits read back inside,
    stop, and seccomp (Podman's profile is in force; Docker's, passed as a file, blocks unshare)."""
    user = podman_user
    podman = Engine(user.argv("podman", "--runtime", RUNTIMES[runtime]), env=user.env())
    # pyrt's state and caches as the user has them: nothing of the test session's environment
    assert podman("run", "--rm", "bb", "echo", "hi", timeout=300).stdout == "hi\n"
    assert podman("run", "--rm", "bb", "sh", "-c", "exit 3", check=False, timeout=300).returncode == 3
    name = f"rl{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "bb", "sleep", "300", timeout=300)
    try:
        assert podman("exec", name, "sh", "-c", "echo in; exit 4", check=False).returncode == 4
        assert podman("exec", "-t", name, "tty", tty=True).stdout.replace("\r", "") == "/dev/pts/0\n"
        started = time.monotonic()
        podman("stop", "-t", "2", name, timeout=300)
        assert time.monotonic() - started < 60
        status = podman("inspect", "-f", "{{.State.Status}}", name).stdout.strip()
        assert status == "exited"
    finally:
        podman("rm", "-f", name, check=False, timeout=300)
    limits = podman("run", "--rm", "--pids-limit", "30", "-m", "64m", "bb", "cat", "/sys/fs/cgroup/pids.max",
                    "/sys/fs/cgroup/memory.max", timeout=300)
    assert limits.stdout == f"30\n{64 << 20}\n"
    assert podman("run", "--rm", "bb", "grep", "^Seccomp:", "/proc/self/status").stdout == "Seccomp:\t2\n"
    blocked = podman("run", "--rm", "--security-opt", f"seccomp={DOCKER_PROFILE}", "bb", "unshare", "--user",
                     "sh", "-c", "id", check=False, timeout=300)
    assert blocked.returncode == 1 and "Operation not permitted" in blocked.stderr, blocked.stderr
    assert json.loads(podman("ps", "-a", "--format", "json").stdout or "[]") == []
