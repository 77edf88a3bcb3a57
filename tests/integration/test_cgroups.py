"""cgroups as this hybrid host has them: limits read back from the kernel, everything removed on delete."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import Runtime, busybox_config, cgroup_dirs, clear_default_parents, default_parents, reap

pytestmark = pytest.mark.root
CG = Path("/sys/fs/cgroup")


def test_limits_are_applied_and_removed(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["resources"] = {
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
        "cpu": {"shares": 512},
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                          "access": "rw"},
                    {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"},
                    {"allow": True, "type": "b", "major": 8, "minor": -1, "access": "r"}],
    }
    cfg["linux"]["devices"] = [{"type": "c", "path": "/dev/fuse-like", "major": 10, "minor": 229,
                                "fileMode": 0o600}]
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sh", "-c", "ls -l /dev/fuse-like > /dev/null; sleep 30"])), cid,
       check=True)
    pid = rt.state(cid)["pid"]
    assert (CG / "memory/pyrt" / cid / "memory.limit_in_bytes").read_text() == f"{64 << 20}\n"
    assert (CG / "pids/pyrt" / cid / "pids.max").read_text() == "50\n"
    assert (CG / "cpu/pyrt" / cid / "cpu.shares").read_text() == "512\n"
    # Every rule in order (deny all, the config's, then runc's defaults), each its own write: the kernel
    # merges c 1:3 rw with the default's rwm, and the default c 1:5 rwm follows the deny.  A device
    # linux.devices lists is not allowed for it (10:229): only the config's rules allow devices.
    rules = (CG / "devices/pyrt" / cid / "devices.list").read_text().splitlines()
    assert rules == ["c 1:3 rwm", "b 8:* r", "c *:* m", "b *:* m", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                     "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]
    for hierarchy in ("cpu", "memory", "pids", "devices", "freezer", "unified", "systemd"):
        assert str(pid) in (CG / hierarchy / "pyrt" / cid / "cgroup.procs").read_text().split(), hierarchy
    rt("delete", "--force", cid, check=True)
    assert cgroup_dirs(cid) == []


def test_the_default_parent_stays_after_its_last_container(rt: Runtime) -> None:
    """/pyrt, the parent of the default cgroups (/pyrt/<id>), stays once made, as runc leaves a
    cgroupsPath's parents and Docker its /docker; the container's own cgroups go."""
    clear_default_parents()
    cid = rt.new_id()
    rt("run", "-b", str(rt.bundle(args=["true"])), cid, check=True)
    assert cgroup_dirs(cid) == []
    parents = default_parents()
    assert {Path(p).parent.name for p in parents} >= {"cpu", "memory", "pids", "devices", "freezer", "unified"}
    assert [d for p in parents for d in Path(p).iterdir() if d.is_dir()] == []


def test_absolute_and_relative_cgroups_path(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["cgroupsPath"] = f"/pyrt-test/{cid}"
    rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid, check=True)
    assert (CG / "pids/pyrt-test" / cid).is_dir()
    rt("delete", "--force", cid, check=True)
    assert not (CG / "pids/pyrt-test").exists()  # pyrt made the parent, pyrt removes it
    cid2 = rt.new_id()
    cfg["linux"]["cgroupsPath"] = f"pyrt-test/{cid2}"  # relative: under pyrt's own cgroup
    rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid2, check=True)
    own = [line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
           if line.split(":")[1] == "pids"][0]
    assert (CG / "pids" / own.lstrip("/") / "pyrt-test" / cid2).is_dir()
    rt("delete", "--force", cid2, check=True)


def test_delete_kills_what_is_left_without_a_pid_namespace(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "pid"]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    cfg["linux"]["maskedPaths"] = []
    cfg["linux"]["readonlyPaths"] = []
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sh", "-c", "sleep 60 & exec sleep 0.3"])), cid, check=True)
    deadline = time.monotonic() + 0.25  # run -d returns once sh runs; its fork of sleep 60 may follow
    while len(procs := (CG / "pids/pyrt" / cid / "cgroup.procs").read_text().split()) < 2 \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(procs) == 2
    deadline = time.monotonic() + 10
    while rt.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
        reap()
        time.sleep(0.05)
    orphan = [int(p) for p in procs if int(p) != rt.state(cid)["pid"]]
    rt("delete", cid, check=True)
    reap()
    for pid in orphan:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1]


@pytest.mark.parametrize("clone_into_cgroup", ["1", "0"])
def test_init_and_exec_are_in_every_cgroup_both_ways(rt: Runtime, monkeypatch: pytest.MonkeyPatch,
                                                     clone_into_cgroup: str) -> None:
    """Born in the cgroup2 leaf by clone3(CLONE_INTO_CGROUP) with a self-move into the v1 leaves, or
    (PYRT_CLONE_INTO_CGROUP=0, as on kernels before 5.7) moved by cgroup.procs writes: the same result,
    with and without a cgroup namespace."""
    monkeypatch.setenv("PYRT_CLONE_INTO_CGROUP", clone_into_cgroup)
    hierarchies = sorted(p.name for p in CG.iterdir() if p.is_dir() and not p.is_symlink())
    for cgroupns in (False, True):
        cid = rt.new_id()
        cfg = busybox_config()
        if cgroupns:
            cfg["linux"]["namespaces"].append({"type": "cgroup"})
        rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sleep", "30"])), cid, check=True)
        try:
            pid = rt.state(cid)["pid"]
            inside = rt("exec", cid, "cat", "/proc/self/cgroup", check=True).stdout.splitlines()
            exec_pids = rt("exec", cid, "sh", "-c", "cat /proc/self/cgroup >/dev/null; echo $$", check=True)
            for h in hierarchies:
                assert str(pid) in (CG / h / "pyrt" / cid / "cgroup.procs").read_text().split(), h
            expected = "/" if cgroupns else f"/pyrt/{cid}"
            assert len(inside) == len(hierarchies) and all(line.split(":", 2)[2] == expected for line in inside), inside
            assert exec_pids.returncode == 0
        finally:
            rt("delete", "--force", cid, check=True)


def test_fork_into_cgroup_sets_the_childs_cached_thread_id(tmp_path: Path) -> None:
    """The raw clone3 leaves glibc's cached tid right in the child, as fork() does."""
    import subprocess
    import sys
    import uuid

    from tests.conftest import ROOT

    cg = CG / "unified" / f"pyrt-test-{uuid.uuid4().hex[:8]}"
    if not (CG / "unified").is_dir():
        pytest.skip("no cgroup2 hierarchy at /sys/fs/cgroup/unified")
    cg.mkdir()
    code = (f"import sys; sys.path[:0] = [{str(ROOT)!r}]\n"
            "import ctypes, os\n"
            "from pyrt.linux import sys as S\n"
            f"fd = os.open({str(cg)!r}, os.O_RDONLY | os.O_DIRECTORY)\n"
            "pid = S.fork_into_cgroup(fd)\n"
            "if pid == 0:\n"
            "    slot = S._cached_tid_address()\n"
            "    ok = ctypes.c_int.from_address(slot).value == S._syscall(186) == os.getpid()\n"
            "    cg = open('/proc/self/cgroup').read().splitlines()[-1]\n"
            "    os.write(1, f'{ok} {cg}\\n'.encode())\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n")
    try:
        out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == f"True 0::/{cg.name}", out.stderr
    finally:
        cg.rmdir()


def test_a_cgroup_with_processes_in_it_is_refused(rt: Runtime, tmp_path: Path) -> None:
    """LNX-20 (runc 1.2's rule): a cgroupsPath that holds processes is someone else's; `kill --all` and
    `delete --force` of the new container would reach them.  Refused with one line, nothing left."""
    path = f"/pyrt-test/shared-{os.getpid()}-{rt.new_id()}"
    first = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["cgroupsPath"] = path
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sleep", "30"])), first, check=True)
    try:
        second = rt.new_id()
        res = rt("run", "-d", "-b", str(rt.bundle(cfg, args=["true"])), second)
        assert res.returncode == 1
        assert res.stderr.startswith("pyrt: linux.cgroupsPath: /sys/fs/cgroup/") and \
            res.stderr.endswith(f"{path} is not empty: 1 process(es) found\n") and len(res.stderr.splitlines()) == 1
        assert not (rt.root / second).exists()
        assert rt.state(first)["status"] == "running"  # untouched
        assert (CG / "unified" / path.lstrip("/")).is_dir()  # and its cgroup too
    finally:
        rt("delete", "--force", first, check=True)
    assert not (CG / "unified" / path.lstrip("/")).exists()
    res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())  # empty again: taken
    assert res.returncode == 0, res.stderr


def test_the_same_id_under_another_root_is_refused(rt: Runtime) -> None:
    """The default cgroup is /pyrt/<id>: a second --root running the same id would share it."""
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "30"])), cid, check=True)
    other = Runtime(rt.tmp / "other")
    other.tmp.mkdir()
    try:
        res = other("run", "-d", "-b", str(rt.bundle(args=["true"])), cid)
        assert res.returncode == 1
        assert res.stderr.startswith("pyrt: cgroup /sys/fs/cgroup/") and res.stderr.endswith(
            f"/pyrt/{cid} is not empty: 1 process(es) found: a container with this id runs under another --root\n")
        assert not other.root.exists() or list(other.root.iterdir()) == []
        assert len(cgroup_dirs(cid)) >= 6  # the first one's, untouched
        assert rt.state(cid)["status"] == "running"
    finally:
        rt("delete", "--force", cid, check=True)


def test_a_frozen_cgroup_is_refused(rt: Runtime) -> None:
    path = f"/pyrt-test/frozen-{rt.new_id()}"
    made: list[Path] = []  # every level this test makes, parents included, to remove them all
    try:
        for hierarchy in ("unified", "freezer"):
            d = CG / hierarchy
            for part in path.strip("/").split("/"):
                d = d / part
                if not d.exists():
                    d.mkdir()
                    made.append(d)
        (CG / "unified" / path.lstrip("/") / "cgroup.freeze").write_text("1")
        cfg = busybox_config()
        cfg["linux"]["cgroupsPath"] = path
        cid = rt.new_id()
        res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), cid)
        assert res.returncode == 1
        assert res.stderr == f"pyrt: linux.cgroupsPath: {CG}/unified{path} is frozen (cgroup.freeze)\n"
        assert not (rt.root / cid).exists()
        assert {h for h in CG.iterdir() if (h / path.lstrip("/")).exists()} == {CG / "unified", CG / "freezer"}
    finally:
        for d in reversed(made):
            d.rmdir()


@pytest.mark.parametrize("clone_into_cgroup", ["1", "0"])
def test_a_limit_the_kernel_refuses_is_one_line_and_leaves_nothing(rt: Runtime, clone_into_cgroup: str) -> None:
    """Init forked directly (its limits written after its birth) or through an intermediate (before):
    either way one line naming the field, exit 1, and no state dir, cgroup or process left."""
    cfg = busybox_config()
    cfg["linux"]["resources"] = {"cpu": {"cpus": str(os.cpu_count() or 1)}}  # one past the last cpu
    cid = rt.new_id()
    res = rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid,
             env=dict(os.environ, PYRT_CLONE_INTO_CGROUP=clone_into_cgroup))
    assert res.returncode == 1
    assert res.stderr.startswith("pyrt: linux.resources.cpu.cpus: write ") and len(res.stderr.splitlines()) == 1, \
        res.stderr
    assert not (rt.root / cid).exists() and cgroup_dirs(cid) == []


def test_block_io_throttles_and_refusals_by_field(rt: Runtime) -> None:
    """A throttle is written to the device's line; what this host lacks is refused naming the field."""
    disk = next(p for p in Path("/sys/block").iterdir() if not p.name.startswith(("loop", "ram", "zram")))
    major, minor = (int(x) for x in (disk / "dev").read_text().split(":"))
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["resources"] = {"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor,
                                                                        "rate": 1 << 20}]}}
    rt("create", "-b", str(rt.bundle(cfg, args=["true"])), cid, check=True)
    try:
        rules = (CG / "blkio" / "pyrt" / cid / "blkio.throttle.read_bps_device").read_text()
        assert f"{major}:{minor} {1 << 20}" in rules
    finally:
        rt("delete", "--force", cid, check=True)
    for resources, why in (
            ({"rdma": {"mlx5_0": {"hcaHandles": 2}}}, "linux.resources.rdma.mlx5_0: no rdma cgroup controller"),
            ({"blockIO": {"weightDevice": [{"major": major, "minor": minor, "weight": 500}]}},
             "linux.resources.blockIO.weightDevice[0].weight: /sys/fs/cgroup/blkio/pyrt/")):
        cfg["linux"]["resources"] = resources
        if (CG / "rdma").exists() or (CG / "blkio" / "blkio.weight_device").exists():
            pytest.skip("this host has rdma or blkio weights")
        res = rt("create", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
        assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {why}"), res.stderr
    assert not rt.leftovers()
