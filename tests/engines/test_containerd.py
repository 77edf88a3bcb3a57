"""containerd 1.6 (ctr, shim io.containerd.runc.v2) with --runc-binary pyrt; runc as the control."""

from __future__ import annotations

import shutil

import pytest

from tests.engines.conftest import PYRT_BIN, Engine, container_name, kill_task

pytestmark = pytest.mark.root
IMAGE = "docker.io/library/bb:latest"


def binary(rt: str) -> str:
    return PYRT_BIN if rt == "pyrt" else (shutil.which("runc") or "/usr/sbin/runc")


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_run_rm_and_exit_code(ctr: Engine, rt: str) -> None:
    assert ctr("run", "--rm", "--runc-binary", binary(rt), IMAGE, container_name(), "echo", "hi").stdout == "hi\n"
    res = ctr("run", "--rm", "--runc-binary", binary(rt), IMAGE, container_name(), "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_task_flows(ctr: Engine, rt: str) -> None:
    name = container_name()
    ctr("run", "-d", "--runc-binary", binary(rt), IMAGE, name, "sleep", "1000")
    try:
        assert ctr("task", "exec", "--exec-id", "e1", name, "echo", "from-exec").stdout == "from-exec\n"
        ps = ctr("task", "ps", name).stdout
        assert len(ps.strip().splitlines()) >= 2  # header and init
        ctr("task", "pause", name)  # (ctr 1.6 has no update command: containerd updates through CRI only)
        assert "PAUSED" in ctr("task", "ls").stdout
        ctr("task", "resume", name)
        kill_task(ctr, name)
    finally:
        ctr("task", "delete", "--force", name, check=False)
        ctr("container", "delete", name, check=False)
    assert name not in ctr("container", "ls", "-q").stdout


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_run_with_a_terminal(ctr: Engine, rt: str) -> None:
    out = ctr("run", "--rm", "-t", "--runc-binary", binary(rt), IMAGE, container_name(), "tty", tty=True)
    assert out.stdout.replace("^@", "").strip() == "/dev/pts/0"  # ctr writes a NUL first, with runc too


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_default_seccomp_blocks_unshare(ctr: Engine, rt: str) -> None:
    res = ctr("run", "--rm", "--seccomp", "--runc-binary", binary(rt), IMAGE, container_name(), "unshare", "--user",
              "true", check=False)
    assert res.returncode == 1 and "Operation not permitted" in res.stdout + res.stderr
