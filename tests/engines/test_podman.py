"""Podman 4.3 with --runtime pyrt; runc in the same run as the control."""

from __future__ import annotations

import shutil

import pytest

from tests.engines.conftest import PODMAN_RUN, PYRT_BIN, Engine, container_name

pytestmark = pytest.mark.root


def runtime(rt: str) -> str:
    return PYRT_BIN if rt == "pyrt" else (shutil.which("runc") or "/usr/sbin/runc")


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_run_rm_and_exit_code(podman: Engine, rt: str) -> None:
    base = ["--runtime", runtime(rt), "run", "--rm", *PODMAN_RUN, "localhost/bb"]
    assert podman(*base, "echo", "hi").stdout == "hi\n"
    assert podman(*base, "sh", "-c", "exit 3", check=False).returncode == 3


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_detached_container_flows(podman: Engine, rt: str) -> None:
    name = container_name()
    podman("--runtime", runtime(rt), "run", "-d", *PODMAN_RUN, "--name", name, "localhost/bb", "sleep", "1000")
    try:
        assert podman("--runtime", runtime(rt), "exec", name, "echo", "from-exec").stdout == "from-exec\n"
        assert podman("--runtime", runtime(rt), "exec", "-t", name, "tty", tty=True).stdout.strip() == "/dev/pts/0"
        assert "sleep 1000" in podman("--runtime", runtime(rt), "top", name).stdout
        podman("--runtime", runtime(rt), "update", "--cpu-shares", "512", name)
        podman("--runtime", runtime(rt), "pause", name)
        assert podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "paused"
        podman("--runtime", runtime(rt), "unpause", name)
        assert podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "running"
        podman("--runtime", runtime(rt), "stop", "-t", "1", name)
        assert podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "exited"
    finally:
        podman("--runtime", runtime(rt), "rm", "-f", "-t", "0", name)


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_run_with_a_terminal(podman: Engine, rt: str) -> None:
    out = podman("--runtime", runtime(rt), "run", "--rm", "-t", *PODMAN_RUN, "localhost/bb", "tty", tty=True)
    assert out.stdout.strip() == "/dev/pts/0"


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_podmans_profile_allows_unshare_and_caps_decide(podman: Engine, rt: str) -> None:
    """Podman's default profile allows unshare (it relies on capabilities): the same call succeeds."""
    res = podman("--runtime", runtime(rt), "run", "--rm", *PODMAN_RUN, "localhost/bb", "unshare", "--user", "sh",
                 "-c", "id -u")
    assert res.stdout.strip() == "65534"
