"""cgroup v2 as a standard host has it, with the cgroupfs driver (a path under /sys/fs/cgroup): limits
read back outside and inside, the container's cgroup namespace, freeze, kill --all, OOM, nothing left."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config
from tests.standard_host.conftest import CG, STANDARD_HOST, live_procs

pytestmark = [pytest.mark.root, *STANDARD_HOST]

LIMITS = {"memory": {"limit": 64 << 20, "reservation": 16 << 20, "swap": 96 << 20}, "pids": {"limit": 40},
          "cpu": {"shares": 512, "quota": 50000, "period": 100000}}
INSIDE = "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max"


def limited(args: list[str], path: str) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["linux"]["resources"] = LIMITS
    cfg["linux"]["cgroupsPath"] = path
    cfg["process"]["args"] = args
    return cfg


def test_limits_read_back_outside(rt: Runtime) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(limited(["sleep", "60"], f"/pyrt-test/{cid}"))), cid, check=True)
    try:
        leaf = CG / "pyrt-test" / cid
        assert (leaf / "memory.max").read_text() == f"{64 << 20}\n"
        assert (leaf / "memory.low").read_text() == f"{16 << 20}\n"
        assert (leaf / "memory.swap.max").read_text() == f"{32 << 20}\n"  # OCI swap is memory+swap
        assert (leaf / "pids.max").read_text() == "40\n"
        assert (leaf / "cpu.weight").read_text() == "20\n"  # shares 512, converted as runc does
        assert (leaf / "cpu.max").read_text() == "50000 100000\n"
        assert str(rt.state(cid)["pid"]) in (leaf / "cgroup.procs").read_text().split()
    finally:
        rt("delete", "--force", cid, check=True)
    assert not (CG / "pyrt-test").exists()


def test_limits_and_cgroup_namespace_inside(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = limited(["sh", "-c", INSIDE], f"/pyrt-test/{cid}")
    res = rt("run", "-b", str(rt.bundle(cfg)), cid)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [f"0::/pyrt-test/{cid}", str(64 << 20), "40", "50000", "100000"]
    cid = rt.new_id()
    cfg = limited(["sh", "-c", INSIDE], f"/pyrt-test/{cid}")
    cfg["linux"]["namespaces"].append({"type": "cgroup"})  # Docker's default on cgroup v2
    res = rt("run", "-b", str(rt.bundle(cfg)), cid)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0::/", str(64 << 20), "40", "50000", "100000"]


def test_docker_and_podman_cgroupfs_paths(rt: Runtime) -> None:
    """Docker's cgroupfs driver asks for /docker/<id> and Podman's for /libpod_parent/libpod-<id>, under
    parents that exist (Docker's) or not yet (Podman's)."""
    for path in ("/docker/{cid}", "/libpod_parent/libpod-{cid}"):
        cid = rt.new_id()
        parent = CG / path.split("/")[1]
        existed = parent.exists()
        res = rt("run", "-b", str(rt.bundle(limited(["sh", "-c", INSIDE], path.format(cid=cid)))), cid)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [f"0::{path.format(cid=cid)}", str(64 << 20), "40", "50000", "100000"]
        assert not (parent / path.split("/")[2].format(cid=cid)).exists()
        if not existed and parent.exists():
            parent.rmdir()  # as runc, pyrt leaves a cgroupsPath's parents


@pytest.mark.parametrize("driver", ["cgroupfs", "systemd"])
def test_pause_kill_all_and_events(rt: Runtime, driver: str) -> None:
    cid = rt.new_id()
    systemd = driver == "systemd"
    path, flags = ((f"system.slice:pyrt-test:{cid}", ["--systemd-cgroup"]) if systemd
                   else (f"/pyrt-test/{cid}", []))
    leaf = CG / "system.slice" / f"pyrt-test-{cid}.scope" if systemd else CG / "pyrt-test" / cid
    cfg = limited(["sh", "-c", "sleep 60 & sleep 60"], path)
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "pid"]
    rt(*flags, "run", "-d", "-b", str(rt.bundle(cfg)), cid, check=True)
    try:
        rt("pause", cid, check=True)
        assert rt.state(cid)["status"] == "paused"
        assert (leaf / "cgroup.freeze").read_text() == "1\n" and "frozen 1" in (leaf / "cgroup.events").read_text()
        rt("resume", cid, check=True)
        assert rt.state(cid)["status"] == "running"
        stats = json.loads(rt("events", "--stats", cid, check=True).stdout)["data"]
        assert stats["pids"]["current"] >= 2 and stats["pids"]["limit"] == 40
        assert stats["memory"]["usage"]["limit"] == 64 << 20
        rt("kill", "--all", cid, "KILL", check=True)
        deadline = time.monotonic() + 20
        while live_procs(leaf) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_procs(leaf) == ""
    finally:
        rt("delete", "--force", cid, check=True)
    assert not leaf.exists()


def test_an_oom_kill_is_recorded(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = limited(["sh", "-c", "x=a; while true; do x=$x$x; done"], f"/pyrt-test/{cid}")
    cfg["linux"]["resources"] = {"memory": {"limit": 16 << 20, "swap": 16 << 20}}
    res = rt("run", "--keep", "-b", str(rt.bundle(cfg)), cid, timeout=300)
    try:
        assert res.returncode == 137, (res.returncode, res.stderr)  # SIGKILLed by the OOM killer
        events = dict(line.split() for line in (CG / "pyrt-test" / cid / "memory.events").read_text().splitlines())
        assert int(events["oom_kill"]) >= 1
    finally:
        rt("delete", "--force", cid, check=True)


def test_block_io_throttles_in_io_max(rt: Runtime) -> None:
    from pathlib import Path

    disk = next(p for p in Path("/sys/block").iterdir() if not p.name.startswith(("loop", "ram", "zram", "sr")))
    dev = (disk / "dev").read_text().strip()
    major, minor = (int(x) for x in dev.split(":"))
    cid = rt.new_id()
    cfg = limited(["true"], f"/pyrt-test/{cid}")
    cfg["linux"]["resources"] = {"blockIO": {
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1 << 20}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}}
    rt("create", "-b", str(rt.bundle(cfg)), cid, check=True)
    try:
        assert (CG / "pyrt-test" / cid / "io.max").read_text() == \
            f"{dev} rbps={1 << 20} wbps=max riops=max wiops=100\n"
    finally:
        rt("delete", "--force", cid, check=True)
