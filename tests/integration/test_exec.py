"""pyrt exec: same namespaces and cgroups as init, the container's filter, runc's flags."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SHARED, Runtime, busybox_config, reap

pytestmark = pytest.mark.root


@pytest.fixture
def running(rt: Runtime) -> Iterator[str]:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "1000"])), cid, check=True)
    yield cid
    rt("delete", "--force", cid, check=True)


def test_exec_joins_every_namespace_and_the_cgroups(rt: Runtime, running: str) -> None:
    init = rt.state(running)["pid"]
    res = rt("exec", running, "sh", "-c", "echo $$; for n in ipc mnt net pid uts cgroup; do readlink "
             "/proc/self/ns/$n; done; cat /proc/self/cgroup")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] != "1"  # a second process in the container's pid namespace
    for name, link in zip(["ipc", "mnt", "net", "pid", "uts", "cgroup"], lines[1:7], strict=True):
        assert link == os.readlink(f"/proc/{init}/ns/{name}"), name
    assert sorted(lines[7:]) == sorted(Path(f"/proc/{init}/cgroup").read_text().splitlines())


def test_exec_gets_the_containers_filter_and_caps(rt: Runtime, running: str) -> None:
    res = rt("exec", running, "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|CapEff|CapInh|CapAmb):' "
             "/proc/self/status; unshare --user true 2>&1; ls /proc/self/fd")
    fields = dict(line.split(":\t") for line in res.stdout.splitlines() if ":\t" in line)
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "1"
    assert int(fields["CapEff"], 16) == 1 << 29 | 1 << 5 | 1 << 10
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    assert "unshare: unshare(0x10000000): Operation not permitted" in res.stdout
    assert res.stdout.split("\n")[-5:-1] == ["0", "1", "2", "3"]  # only stdio (3: ls's own)


def test_exec_flags(rt: Runtime, running: str) -> None:
    res = rt("exec", "-e", "FOO=bar", "--env=PATH=/bin", "--cwd", "/tmp", "-u", "65534:65534",
             "--additional-gids", "5", "--no-new-privs", running, "sh", "-c", "echo $FOO $PATH; pwd; id")
    assert res.stdout == "bar /bin\n/tmp\nuid=65534(nobody) gid=65534(nogroup) groups=5\n", res.stderr
    res = rt("exec", "--cap", "CAP_SYS_ADMIN", running, "sh", "-c", "grep CapEff /proc/self/status")
    assert int(res.stdout.split()[1], 16) & 1 << 21


def test_exec_exit_status_and_errors(rt: Runtime, running: str) -> None:
    assert rt("exec", running, "sh", "-c", "exit 5").returncode == 5
    res = rt("exec", running, "nope")
    # exec's own failures exit 255, as runc's (1-254 are the process's)
    assert (res.returncode, res.stderr) == (255, "pyrt: exec: 'nope': executable file not found in $PATH\n")
    res = rt("exec", running)
    assert res.returncode == 255 and res.stderr == "pyrt: exec: a command is required (or --process FILE)\n"
    res = rt("exec", "--cwd", "/nowhere", running, "true")
    assert res.returncode == 255 and res.stderr == "pyrt: process.cwd /nowhere: No such file or directory\n"
    res = rt("exec", "no-such-container", "true")
    assert res.stderr == "pyrt: container no-such-container does not exist\n"


def test_exec_detach_and_pid_file(rt: Runtime, running: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "exec.pid"
    res = rt("exec", "--detach", "--pid-file", str(pid_file), running, "sleep", "30")
    assert res.returncode == 0, res.stderr
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"30"]
    init = rt.state(running)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{init}/ns/pid")
    rt("kill", "--all", running, "KILL", check=True)
    # The detached process is the caller's to reap (here: the test's, a subreaper); until it is
    # reaped, the kernel keeps the container's init in zap_pid_ns_processes, as with runc.
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists():
        reap()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    rt.wait_status(running, "stopped")


@pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")
@pytest.mark.parametrize("name", ["docker-runc-exec", "podman-runc-exec", "ctr-runc-exec"])
def test_engine_process_json_fixtures(rt: Runtime, running: str, name: str, tmp_path: Path) -> None:
    proc = json.loads((SHARED / "engines" / f"{name}.process.json").read_text())
    proc["args"] = ["echo", "from-exec"]
    (tmp_path / "p.json").write_text(json.dumps(proc))
    res = rt("exec", "--process", str(tmp_path / "p.json"), running)
    assert (res.returncode, res.stdout, res.stderr) == (0, "from-exec\n", "")


def test_exec_into_a_stopped_container_is_refused(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["true"])), cid, check=True)
    rt.wait_status(cid, "stopped")
    res = rt("exec", cid, "true")
    assert (res.returncode, res.stderr) == (255, "pyrt: cannot exec in a stopped container\n")
    rt("delete", cid, check=True)


@pytest.mark.parametrize("extra", ["user", "time"])
def test_exec_joins_user_and_time_namespaces_through_an_intermediate(rt: Runtime, extra: str) -> None:
    """A user namespace must be joined before the others, a time namespace by a process that forks
    after: exec's process is then forked by an intermediate, not by pyrt itself (parent._direct)."""
    cfg = busybox_config()
    cfg["linux"]["namespaces"].append({"type": extra})
    if extra == "user":
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["root"]["readonly"] = True
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sleep", "1000"])), cid, check=True)
    try:
        init = rt.state(cid)["pid"]
        res = rt("exec", cid, "sh", "-c", "echo $$; for n in user time pid mnt; do readlink /proc/self/ns/$n; done; "
                 "cat /proc/self/cgroup")
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0] != "1"
        for name, link in zip(["user", "time", "pid", "mnt"], lines[1:5], strict=True):
            assert link == os.readlink(f"/proc/{init}/ns/{name}"), name
        assert sorted(lines[5:]) == sorted(Path(f"/proc/{init}/cgroup").read_text().splitlines())
    finally:
        rt("delete", "--force", cid, check=True)


def test_exec_forks_directly_only_where_nothing_needs_an_intermediate(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyrt.executor.parent import _direct
    from pyrt.linux import sys as S

    monkeypatch.setattr(S, "can_clone_into_cgroup", lambda: True)
    monkeypatch.delenv("PYRT_CLONE_INTO_CGROUP", raising=False)
    plain = [("ipc", 0, 5), ("pid", 0, 6), ("mount", 0, 7)]
    leaves = [("/sys/fs/cgroup/memory/x", 1), ("/sys/fs/cgroup/unified/x", 2)]
    assert _direct(plain, leaves, userns=False)
    assert not _direct([("user", 0, 4), *plain], leaves, userns=True)
    assert not _direct([*plain, ("time", 0, 8)], leaves, userns=False)
    assert not _direct(plain, leaves[:1], userns=False)  # no cgroup2 leaf to clone into
    monkeypatch.setenv("PYRT_CLONE_INTO_CGROUP", "0")
    assert not _direct(plain, leaves, userns=False)


def test_a_process_file_is_planned_once_whatever_its_path(rt: Runtime, running: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines write each exec's process.json to a new path: the plan is keyed by the file's bytes
    (one cache entry for the same command), and a cached warning names the file of the exec that uses it."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYRT_CACHE_DIR", str(cache))
    proc = busybox_config()["process"]
    proc["args"] = ["echo", "from-exec"]
    proc["capabilities"]["bounding"].append("CAP_NO_SUCH_THING")
    for name in ("runc-process111", "runc-process222"):
        (tmp_path / name).write_text(json.dumps(proc))
        res = rt("exec", "--process", str(tmp_path / name), running)
        assert (res.returncode, res.stdout) == (0, "from-exec\n"), res.stderr
        assert res.stderr == (f"pyrt: warning: {tmp_path / name}.capabilities.bounding: ignoring unknown or "
                              "unavailable capability 'CAP_NO_SUCH_THING'\n")
    assert len([p for p in (cache / "plans").iterdir() if not p.name.startswith(".")]) == 1
