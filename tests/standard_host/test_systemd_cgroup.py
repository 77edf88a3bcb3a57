"""The systemd cgroup driver (--systemd-cgroup): a transient scope per container, as runc makes it."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import PYRT, Runtime, busybox_config, reap
from tests.standard_host.conftest import CG, STANDARD_HOST, unit_show

pytestmark = [pytest.mark.root, *STANDARD_HOST]


def test_a_scope_with_the_limits_then_nothing_left(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["cgroupsPath"] = f"system.slice:pyrt-test:{cid}"
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 30},
                                 "cpu": {"quota": 50000, "period": 100000}}
    cfg["process"]["args"] = ["sleep", "60"]
    unit = f"pyrt-test-{cid}.scope"
    rt("--systemd-cgroup", "run", "-d", "-b", str(rt.bundle(cfg)), cid, check=True)
    try:
        shown = unit_show(unit, "ActiveState", "Delegate", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec",
                          "ControlGroup", "Slice")
        assert shown["ActiveState"] == "active" and shown["Delegate"] == "yes", shown
        assert shown["MemoryMax"] == str(64 << 20) and shown["TasksMax"] == "30", shown
        assert shown["CPUQuotaPerSecUSec"] == "500ms" and shown["Slice"] == "system.slice", shown
        leaf = CG / shown["ControlGroup"].lstrip("/")
        assert leaf == CG / "system.slice" / unit
        assert (leaf / "memory.max").read_text() == f"{64 << 20}\n" and (leaf / "pids.max").read_text() == "30\n"
        assert str(rt.state(cid)["pid"]) in (leaf / "cgroup.procs").read_text().split()
        rt("update", "--pids-limit", "25", cid, check=True)
        assert unit_show(unit, "TasksMax")["TasksMax"] == "25" and (leaf / "pids.max").read_text() == "25\n"
    finally:
        rt("delete", "--force", cid, check=True)
    assert unit_show(unit, "LoadState")["LoadState"] == "not-found"
    assert not (CG / "system.slice" / unit).exists()


def test_a_kubernetes_style_slice(rt: Runtime) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["linux"]["cgroupsPath"] = f"kubepods-besteffort.slice:cri-containerd:{cid}"
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["process"]["args"] = ["cat", "/proc/self/cgroup"]
    res = rt("--systemd-cgroup", "run", "--keep", "-b", str(rt.bundle(cfg)), cid)
    try:
        assert res.returncode == 0 and res.stdout == "0::/\n", (res.stdout, res.stderr)
    finally:
        rt("delete", "--force", cid, check=True)
    assert not (CG / "kubepods.slice" / "kubepods-besteffort.slice" / f"cri-containerd-{cid}.scope").exists()
    subprocess.run(["systemctl", "stop", "kubepods.slice"], capture_output=True)


def test_a_sigkilled_create_is_cleaned_by_delete(rt: Runtime) -> None:
    """pyrt killed while init is being made: the record names the unit, so delete stops it."""
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["process"]["args"] = ["sleep", "60"]
    env = dict(os.environ, PYRT_FAULT="cgroups")
    res = subprocess.run([str(PYRT), "--root", str(rt.root), "--systemd-cgroup", "create", "-b",
                          str(rt.bundle(cfg)), cid], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == -signal.SIGKILL, (res.returncode, res.stderr)
    reap()
    rt("delete", "--force", cid, check=True)
    assert unit_show(f"pyrt-{cid}.scope", "LoadState")["LoadState"] == "not-found"


def _wait_state(unit: str, want: str, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while unit_show(unit, "ActiveState")["ActiveState"] != want:
        assert time.monotonic() < deadline, f"{unit} never became {want}: {unit_show(unit, 'ActiveState')}"
        time.sleep(0.2)


def test_a_failed_leftover_unit_is_reset_and_a_live_one_refused(rt: Runtime) -> None:
    """As runc: a unit of the same name left failed is reset and the start tried again; one that is
    alive (another container's, or anything else's) is left alone and the create fails with one line."""
    cid = rt.new_id()
    unit = f"pyrt-{cid}.scope"
    cfg = busybox_config()
    cfg["process"]["args"] = ["true"]
    # a failed leftover: a scope that systemd stopped for running too long
    subprocess.run(["systemd-run", "--scope", f"--unit={unit}", "-p", "RuntimeMaxSec=1", "sleep", "100"],
                   capture_output=True, timeout=120)
    _wait_state(unit, "failed")
    res = rt("--systemd-cgroup", "run", "-b", str(rt.bundle(cfg)), cid)
    assert res.returncode == 0, res.stderr
    assert unit_show(unit, "LoadState")["LoadState"] == "not-found"
    # a live one
    other = subprocess.Popen(["systemd-run", "--scope", f"--unit={unit}", "sleep", "120"])
    try:
        _wait_state(unit, "active")
        res = rt("--systemd-cgroup", "run", "-b", str(rt.bundle(cfg)), cid)
        assert res.returncode == 1 and len(res.stderr.splitlines()) == 1, res.stderr
        assert res.stderr.startswith(f"pyrt: linux.cgroupsPath: /sys/fs/cgroup/system.slice/{unit} is not empty"), \
            res.stderr
        assert unit_show(unit, "ActiveState")["ActiveState"] == "active" and other.poll() is None
        assert not (rt.root / cid).exists()
    finally:
        other.kill()
        other.wait()
        subprocess.run(["systemctl", "stop", unit], capture_output=True)
        subprocess.run(["systemctl", "reset-failed", unit], capture_output=True)
