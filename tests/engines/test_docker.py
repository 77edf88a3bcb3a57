"""Docker with --runtime=pyrt, every flow a user touches; runc in the same run as the control."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import PYRT, busybox_config
from tests.engines.conftest import RUNTIMES, Engine, container_name, unshare_demo

pytestmark = pytest.mark.root


@pytest.mark.parametrize("rt", RUNTIMES)
def test_run_rm_and_exit_code(docker: Engine, rt: str) -> None:
    assert docker("run", "--rm", f"--runtime={rt}", "bb", "echo", "hi").stdout == "hi\n"
    assert docker("run", "--rm", f"--runtime={rt}", "bb", "sh", "-c", "exit 3", check=False).returncode == 3


@pytest.mark.parametrize("rt", RUNTIMES)
def test_the_seed_articles_demo_verbatim(docker: Engine, rt: str) -> None:
    unshare_demo(docker, rt)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_detached_container_flows(docker: Engine, rt: str) -> None:
    name = container_name()
    docker("run", "-d", f"--runtime={rt}", "--name", name, "bb", "sleep", "1000")
    try:
        assert docker("exec", name, "echo", "from-exec").stdout == "from-exec\n"
        assert docker("exec", "-t", name, "tty", tty=True).stdout.strip() == "/dev/pts/0"
        top = docker("top", name).stdout
        assert "sleep 1000" in top
        docker("update", "--cpu-shares", "512", name)
        cid = docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
        with open(f"/sys/fs/cgroup/cpu/docker/{cid}/cpu.shares") as fh:
            assert fh.read() == "512\n"
        docker("pause", name)
        assert docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "paused"
        docker("unpause", name)
        assert docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "running"
        docker("kill", "-s", "USR1", name)
        t = time.monotonic()
        docker("stop", "-t", "1", name)
        assert time.monotonic() - t < 10
        assert docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "exited"
        docker("start", name)
        assert docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "running"
    finally:
        docker("rm", "-f", name)
    assert docker("ps", "-a", "-q", "--filter", f"name={name}").stdout == ""


@pytest.mark.parametrize("rt", RUNTIMES)
def test_run_with_a_terminal(docker: Engine, rt: str) -> None:
    assert docker("run", "--rm", "-t", f"--runtime={rt}", "bb", "tty", tty=True).stdout.strip() == "/dev/pts/0"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_bridge_network_gives_eth0_an_address(docker: Engine, rt: str) -> None:
    out = docker("run", "--rm", f"--runtime={rt}", "bb", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert " inet 172.31.213." in out


@pytest.mark.parametrize("rt", RUNTIMES)
def test_errors_reach_the_user(docker: Engine, rt: str) -> None:
    res = docker("run", "--rm", f"--runtime={rt}", "bb", "/nope", check=False)
    assert res.returncode != 0
    assert "/nope" in res.stderr and "no such file" in res.stderr.lower()


def test_pyrt_state_dir_is_dockers(docker: Engine) -> None:
    name = container_name()
    docker("run", "-d", "--runtime=pyrt", "--name", name, "bb", "sleep", "100")
    try:
        cid = docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
        info = json.loads(docker("inspect", name).stdout)[0]
        assert info["HostConfig"]["Runtime"] == "pyrt"
        assert cid
    finally:
        docker("rm", "-f", name)


@pytest.fixture(scope="module")
def recorded_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pyrt run --seccomp-record` of a small shell workload on bundles/busybox (Docker's configs
    leave noNewPrivileges unset, so the profile must also carry what runc and pyrt call after loading it)."""
    d = tmp_path_factory.mktemp("record")
    cfg = busybox_config()
    cfg["process"]["args"] = ["sh", "-c", "echo hi; ls / | wc -l"]
    (d / "bundle").mkdir()
    (d / "bundle" / "config.json").write_text(json.dumps(cfg))
    res = subprocess.run([str(PYRT), "--root", str(d / "state"), "run", "--seccomp-record", str(d / "rec.json"),
                          "-b", str(d / "bundle"), f"rec-{uuid.uuid4().hex[:8]}"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return d / "rec.json"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_a_profile_recorded_by_pyrt_works_under_docker(docker: Engine, rt: str, recorded_profile: Path) -> None:
    opt = f"seccomp={recorded_profile}"
    res = docker("run", "--rm", f"--runtime={rt}", "--security-opt", opt, "bb", "sh", "-c", "echo hi; ls / | wc -l")
    assert res.stdout.startswith("hi\n")
    res = docker("run", "--rm", f"--runtime={rt}", "--security-opt", opt, "bb", "unshare", "--user", "true",
                 check=False)
    assert res.returncode == 1 and "Operation not permitted" in res.stderr
    # The runtime's entry is what makes it work: without it the runtime itself dies after the load.
    data = json.loads(recorded_profile.read_text())
    data["syscalls"] = [e for e in data["syscalls"] if not e["comment"].startswith("pyrt-record: runtime")]
    bare = recorded_profile.with_name(f"bare-{rt}.json")
    bare.write_text(json.dumps(data))
    res = docker("run", "--rm", f"--runtime={rt}", "--security-opt", f"seccomp={bare}", "bb", "true", check=False)
    assert res.returncode != 0
