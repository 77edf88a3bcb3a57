"""Faults and races: pyrt killed at any step of create, a stale state dir, and the CVE-2021-30465 race."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pyrt.common.faults import STEPS
from tests.conftest import PYRT, ROOTFS, Runtime, busybox_config, cgroup_dirs, host_mounts, reap

pytestmark = pytest.mark.root


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("command", [["create"], ["run", "-d"]])  # run writes its "created" record earlier
def test_sigkill_at_each_step_of_create_then_delete_force(rt: Runtime, step: str, command: list[str],
                                                          tmp_path: Path) -> None:
    cid = rt.new_id()
    bundle = rt.bundle(args=["sleep", "30"])
    with open(tmp_path / "err", "w") as err:
        code = subprocess.run([str(PYRT), "--root", str(rt.root), *command, "-b", str(bundle), cid],
                              env=dict(os.environ, PYRT_FAULT=step), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, timeout=60).returncode
    assert code == -9, f"pyrt was not killed at {step}: {code}"
    time.sleep(0.2)
    reap()
    st = rt("state", cid)
    if st.returncode == 0:  # whatever it shows, a dead creator's container is not "creating"
        assert '"creating"' not in st.stdout
    assert rt("delete", "--force", cid).returncode == 0
    reap()
    assert cgroup_dirs(cid) == [] and not (rt.root / cid).exists()
    rt("create", "-b", str(bundle), cid, check=True)  # the id is free again
    rt("delete", "--force", cid, check=True)


def test_init_speaking_before_the_intermediate_reports_its_pid(rt: Runtime, tmp_path: Path) -> None:
    """Init and the intermediate share the sync socket: init's first messages (a console, hooks, ready)
    may arrive before the intermediate's {"type": "pid"} on a busy machine (seen once in the suite).
    PYRT_FAULT=late-pid holds that message back half a second, for create, a terminal and exec."""
    env = dict(os.environ, PYRT_FAULT="late-pid")
    cid = rt.new_id()
    res = rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "30"])), cid, env=env)
    assert res.returncode == 0, res.stderr
    try:
        assert rt("exec", cid, "echo", "from-exec", env=env).stdout == "from-exec\n"
        hooked = busybox_config()
        hooked["hooks"] = {"createRuntime": [{"path": "/bin/true"}]}
        other = rt.new_id()
        res = rt("run", "-b", str(rt.bundle(hooked, args=["echo", "hooked"])), other, env=env)
        assert (res.returncode, res.stdout) == (0, "hooked\n"), res.stderr
    finally:
        rt("delete", "--force", cid, check=True)


def test_the_mount_target_race(rt: Runtime, tmp_path: Path) -> None:
    """CVE-2021-30465: while containers start, a target flips between a directory and a symlink to
    the host; whatever wins a race, nothing may be mounted or created on the host."""
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", str(ROOTFS), str(rootfs)], check=True)
    host = tmp_path / "host"
    host.mkdir()
    target = rootfs / "mnt" / "t"
    target.parent.mkdir(exist_ok=True)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            try:
                if target.is_symlink():
                    target.unlink()
                    target.mkdir()
                else:
                    target.rmdir()
                    target.symlink_to(str(host))
            except OSError:
                pass

    cfg = busybox_config()
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["mounts"].append({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs"})
    cfg["mounts"].append({"destination": "/mnt/t/sub", "type": "tmpfs", "source": "tmpfs"})
    before = host_mounts()
    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    try:
        for _ in range(30):
            rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())  # may fail: the target may vanish
    finally:
        stop.set()
        flipper.join()
    assert sorted(host.iterdir()) == [], "a race made pyrt create on the host"
    assert not {m for m in host_mounts() - before if m.startswith(str(host))}
