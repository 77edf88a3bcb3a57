"""Docker, Podman and containerd on a standard host, with pyrt and runc side by side: Docker with its
default systemd cgroup driver and with cgroupfs, Podman with both cgroup managers, ctr with the systemd
cgroup option and a Kubernetes-style cgroupsPath."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engines.conftest import (
    PODMAN_RUN,
    RUNTIMES,
    Engine,
    container_name,
    ctr,  # noqa: F401  (the fixture)
    dockerd,
    kill_task,
    podman_cleanup,
    podman_engine,
    unshare_demo,
)
from tests.engines.test_containerd import IMAGE, binary
from tests.engines.test_podman import runtime
from tests.standard_host.conftest import STANDARD_HOST, unit_show

pytestmark = [pytest.mark.root, *STANDARD_HOST]


@pytest.fixture(scope="module", params=["systemd", "cgroupfs"])
def docker_driver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    opts = {} if request.param == "systemd" else {"exec-opts": ["native.cgroupdriver=cgroupfs"]}
    with dockerd(tmp_path_factory.mktemp(f"docker-{request.param}"), **opts) as engine:
        assert engine("info", "-f", "{{.CgroupDriver}}").stdout.strip() == request.param
        yield engine


def inside(engine: Engine, name: str, path: str) -> str:
    return engine("exec", name, "cat", path).stdout.strip()


def pause_kill_stop(engine: Engine, name: str) -> None:
    """pause/unpause, a signal init ignores (it has no handler for USR1), stop: as Docker and Podman say."""
    def status() -> str:
        return engine("inspect", "-f", "{{.State.Status}}", name).stdout.strip()

    engine("pause", name)
    assert status() == "paused"
    engine("unpause", name)
    engine("kill", "-s", "USR1", name)
    assert status() == "running"
    engine("stop", "-t", "1", name)
    assert status() == "exited"


@pytest.mark.parametrize("rt", RUNTIMES)
def test_docker_flows(docker_driver: Engine, rt: str) -> None:
    docker = docker_driver
    assert docker("run", "--rm", f"--runtime={rt}", "bb", "echo", "hi").stdout == "hi\n"
    assert docker("run", "--rm", f"--runtime={rt}", "bb", "sh", "-c", "exit 3", check=False).returncode == 3
    name = container_name()
    docker("run", "-d", f"--runtime={rt}", "--name", name, "-m", "64m", "--cpus", "0.5", "--pids-limit", "30",
           "bb", "sleep", "1000")
    try:
        assert docker("exec", name, "echo", "from-exec").stdout == "from-exec\n"
        assert docker("exec", "-t", name, "tty", tty=True).stdout.strip() == "/dev/pts/0"
        assert inside(docker, name, "/sys/fs/cgroup/memory.max") == str(64 << 20)
        assert inside(docker, name, "/sys/fs/cgroup/cpu.max") == "50000 100000"
        assert inside(docker, name, "/sys/fs/cgroup/pids.max") == "30"
        assert inside(docker, name, "/proc/self/attr/current") == "docker-default (enforce)"
        docker("update", "--pids-limit", "20", name)
        assert inside(docker, name, "/sys/fs/cgroup/pids.max") == "20"
        pause_kill_stop(docker, name)
    finally:
        docker("rm", "-f", name)


def test_docker_oom(docker_driver: Engine) -> None:
    """An OOM kill: exit 137 with either runtime, and Docker's OOMKilled true under the cgroupfs driver.
    The workload waits 2 s first: containerd 1.6's shim starts watching memory.events only once the
    runtime's `start` has returned, so an OOM kill before that is never reported, whichever the runtime
    (seen once in the lab, with pyrt and an immediate OOM; in 4 runs per runtime, with the wait and
    without, all 16 were reported).  Under the systemd driver Docker 20.10 reports it by chance, for runc
    as for pyrt, with the wait or without (8 runs each: true 3 times for pyrt, 2 for runc): systemd
    removes a scope as soon as its last process dies, racing containerd's read of its memory.events."""
    docker = docker_driver
    got = {}
    for rt in RUNTIMES:
        name = container_name()
        res = docker("run", f"--runtime={rt}", "--name", name, "-m", "16m", "--memory-swap", "16m", "bb", "sh",
                     "-c", "sleep 2; x=a; while true; do x=$x$x; done", check=False, timeout=300)
        try:
            got[rt] = (res.returncode, docker("inspect", "-f", "{{.State.OOMKilled}}", name).stdout.strip())
        finally:
            docker("rm", "-f", name)
    assert got["pyrt"][0] == got["runc"][0] == 137, got
    if docker("info", "-f", "{{.CgroupDriver}}").stdout.strip() == "cgroupfs":
        assert got["pyrt"][1] == got["runc"][1] == "true", got


@pytest.mark.parametrize("rt", RUNTIMES)
def test_docker_unshare_demo(docker_driver: Engine, rt: str) -> None:
    unshare_demo(docker_driver, rt)


@pytest.fixture(scope="module", params=["systemd", "cgroupfs"])
def podman_manager(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    d = tmp_path_factory.mktemp(f"podman-{request.param}")
    engine = podman_engine(d, request.param)
    try:
        yield engine
    finally:
        podman_cleanup(engine, d)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_podman_flows(podman_manager: Engine, rt: str) -> None:
    podman = Engine([*podman_manager.argv, "--runtime", runtime(rt)])
    run = ["run", *PODMAN_RUN]
    assert podman(*run, "--rm", "localhost/bb", "echo", "hi").stdout == "hi\n"
    assert podman(*run, "--rm", "localhost/bb", "sh", "-c", "exit 3", check=False).returncode == 3
    name = container_name()
    podman(*run, "-d", "--name", name, "--pids-limit", "30", "-m", "64m", "localhost/bb", "sleep", "1000")
    try:
        assert podman("exec", name, "echo", "from-exec").stdout == "from-exec\n"
        assert podman("exec", "-t", name, "tty", tty=True).stdout.strip() == "/dev/pts/0"
        assert inside(podman, name, "/sys/fs/cgroup/pids.max") == "30"
        assert inside(podman, name, "/sys/fs/cgroup/memory.max") == str(64 << 20)
        pause_kill_stop(podman, name)
    finally:
        podman("rm", "-f", name)


@pytest.mark.parametrize("rt", ["pyrt", "runc"])
def test_ctr_with_the_systemd_cgroup_and_a_kubernetes_path(ctr: Engine, rt: str) -> None:  # noqa: F811
    name = container_name()
    path = f"kubepods-besteffort.slice:cri-containerd:{name}"
    unit = f"cri-containerd-{name}.scope"
    ctr("run", "-d", "--runc-binary", binary(rt), "--runc-systemd-cgroup", "--cgroup", path, IMAGE, name,
        "sleep", "1000")
    try:
        shown = unit_show(unit, "ActiveState", "ControlGroup")
        assert shown == {"ActiveState": "active",
                         "ControlGroup": f"/kubepods.slice/kubepods-besteffort.slice/{unit}"}, shown
        assert ctr("task", "exec", "--exec-id", "e1", name, "echo", "from-exec").stdout == "from-exec\n"
        kill_task(ctr, name, timeout=60)
    finally:
        ctr("task", "delete", "--force", name, check=False)
        ctr("container", "delete", name, check=False)
    assert unit_show(unit, "LoadState")["LoadState"] == "not-found"
