"""Rootless Podman on this host (hybrid cgroups, no systemd: Podman drops limits, saying so) with pyrt and
with runc side by side: run, the exit code, exec (-t too), stop, and seccomp.  On a standard host
tests/standard_host/test_rootless.py runs these flows (and the limits) against crun instead."""

from __future__ import annotations

import shutil
import uuid

import pytest

from tests.conftest import PYRT, SYSTEMD, UNIFIED
from tests.engines.conftest import Engine
from tests.rootless_user import DOCKER_PROFILE, User

pytestmark = [pytest.mark.root, pytest.mark.rootless,
              pytest.mark.skipif(UNIFIED and SYSTEMD, reason="standard host: see tests/standard_host/test_rootless.py")]


@pytest.mark.parametrize("runtime", ["pyrt", "runc"])
def test_rootless_podman(podman_user: User, runtime: str) -> None:
    binary = str(PYRT) if runtime == "pyrt" else shutil.which("runc")
    if binary is None:
        pytest.skip("runc is not installed")
    podman = Engine(podman_user.argv("podman", "--runtime", binary, "--cgroup-manager", "cgroupfs"),
                    env=podman_user.env())
    run = ["run", "--rm", "--network", "none"]
    res = podman(*run, "bb", "sh", "-c", "id -u; cat /proc/self/uid_map")
    maps = [line.split() for line in res.stdout.splitlines()[1:]]
    assert res.stdout.splitlines()[0] == "0" and maps[0] == ["0", str(podman_user.uid), "1"], res.stdout
    assert podman(*run, "bb", "sh", "-c", "exit 3", check=False).returncode == 3
    name = f"rl{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--network", "none", "--name", name, "bb", "sleep", "300")
    try:
        assert podman("exec", name, "sh", "-c", "echo in; exit 4", check=False).returncode == 4
        assert podman("exec", "-t", name, "tty", tty=True).stdout.replace("\r", "") == "/dev/pts/0\n"
        podman("stop", "-t", "1", name)
        assert podman("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "exited"
    finally:
        podman("rm", "-f", name, check=False)
    assert podman(*run, "bb", "grep", "^Seccomp:", "/proc/self/status").stdout == "Seccomp:\t2\n"
    blocked = podman(*run, "--security-opt", f"seccomp={DOCKER_PROFILE}", "bb", "unshare", "--user", "sh", "-c", "id",
                     check=False)
    assert blocked.returncode == 1 and "Operation not permitted" in blocked.stderr, blocked.stderr
    allowed = podman(*run, "--security-opt", "seccomp=unconfined", "bb", "unshare", "--user", "sh", "-c", "id -u")
    assert allowed.stdout == "65534\n"
