"""Attacks from a hostile image: nothing pyrt creates, mounts or writes may land on the host.

Each attack is shown to be meaningful: the host path it aims at is where a resolver that followed the
image's symlinks on the host would have created, mounted or written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOTFS, Runtime, busybox_config, host_mounts

pytestmark = pytest.mark.root


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the busybox rootfs and a 'host' directory its symlinks aim at."""
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", str(ROOTFS), str(rootfs)], check=True)
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host data\n")
    return rootfs, host


def config(rootfs: Path, **linux: Any) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["linux"].update(linux)
    return cfg


def host_untouched(host: Path, before: set[str]) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["secret"], "the image made pyrt create on the host"
    assert (host / "secret").read_text() == "host data\n"
    assert not {m for m in host_mounts() - before if m.startswith(str(host))}, "a mount landed on the host"


@pytest.mark.parametrize("target, how", [
    ("mnt-abs", "absolute"), ("mnt-dots", "dotdot"), ("etc/deep/target", "absolute"),
])
def test_mount_target_symlinks_stay_inside(rt: Runtime, hostile: tuple[Path, Path], target: str, how: str) -> None:
    rootfs, host = hostile
    link = rootfs / target
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(str(host) if how == "absolute" else "../" * 12 + str(host).lstrip("/"))
    cfg = config(rootfs)
    cfg["mounts"].append({"destination": f"/{target}/sub", "type": "tmpfs", "source": "tmpfs"})
    before = host_mounts()
    inside = "/" + str(host).lstrip("/") + "/sub"  # where the link leads when resolved inside the root
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", f"grep -c ' {inside} tmpfs' /proc/self/mounts"])),
             rt.new_id())
    assert (res.returncode, res.stdout) == (0, "1\n"), res.stderr
    host_untouched(host, before)
    assert (rootfs / str(host).lstrip("/") / "sub").is_dir()  # created inside the rootfs instead


@pytest.mark.parametrize("name", ["proc", "sys"])
def test_proc_and_sys_replaced_by_symlinks_are_refused(rt: Runtime, hostile: tuple[Path, Path], name: str) -> None:
    """CVE-2019-19921 class: /proc or /sys in the image point at the host.  Refused, as runc and crun do:
    followed inside the root, the link would still put the kernel's files wherever the image says."""
    rootfs, host = hostile
    shutil.rmtree(rootfs / name)
    (rootfs / name).symlink_to(str(host / name))
    before = host_mounts()
    res = rt("run", "-b", str(rt.bundle(config(rootfs), args=["true"])), rt.new_id())
    host_untouched(host, before)
    kind = "proc" if name == "proc" else "sysfs"
    assert (res.returncode, res.stderr) == (1, f"pyrt: mount mounts[{0 if name == 'proc' else 5}]: /{name}: a {kind} "
                                               "file system must be mounted on a directory, and that is a symlink\n")


def test_dev_replaced_by_a_symlink(rt: Runtime, hostile: tuple[Path, Path]) -> None:
    """/dev in the image points at the host: the tmpfs and the devices land inside the root instead."""
    rootfs, host = hostile
    shutil.rmtree(rootfs / "dev")
    (rootfs / "dev").symlink_to(str(host / "dev"))
    before = host_mounts()
    res = rt("run", "-b", str(rt.bundle(config(rootfs), args=["sh", "-c", "cat /proc/self/status | head -1"])),
             rt.new_id())
    host_untouched(host, before)
    assert res.returncode == 0 and res.stdout.startswith("Name:"), res.stderr


def test_masked_and_readonly_paths_through_symlinks(rt: Runtime, hostile: tuple[Path, Path]) -> None:
    rootfs, host = hostile
    (rootfs / "etc" / "masked").symlink_to(str(host / "secret"))
    (rootfs / "etc" / "ro").symlink_to("../" * 12 + str(host).lstrip("/"))
    before = host_mounts()
    res = rt("run", "-b", str(rt.bundle(config(rootfs, maskedPaths=["/etc/masked"], readonlyPaths=["/etc/ro"]),
                                        args=["true"])), rt.new_id())
    assert res.returncode == 0, res.stderr
    host_untouched(host, before)


def test_device_node_through_a_symlinked_dir(rt: Runtime, hostile: tuple[Path, Path]) -> None:
    rootfs, host = hostile
    (rootfs / "opt").mkdir(exist_ok=True)
    (rootfs / "opt" / "devs").symlink_to(str(host))
    cfg = config(rootfs, devices=[{"type": "c", "path": "/opt/devs/evil-null", "major": 1, "minor": 3}])
    before = host_mounts()
    res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
    assert res.returncode == 0, res.stderr
    host_untouched(host, before)


@pytest.mark.parametrize("fd", range(3, 12))
def test_cwd_through_a_leaked_fd_never_reaches_the_host(rt: Runtime, fd: int, tmp_path: Path) -> None:
    """CVE-2024-21626: process.cwd /proc/self/fd/N, with the caller holding host directories open."""
    held = [os.open("/", os.O_RDONLY) for _ in range(8)] + [os.open(str(tmp_path), os.O_RDONLY)]
    try:
        cfg = busybox_config()
        cfg["process"]["cwd"] = f"/proc/self/fd/{fd}"
        res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "pwd; ls ../../../../ | head -3"])),
                 rt.new_id(), pass_fds=tuple(held))
    finally:
        for h in held:
            os.close(h)
    if res.returncode == 0:  # if it started at all, it must be inside the container
        assert not res.stdout.startswith("(unreachable)"), res.stdout
        assert str(tmp_path) not in res.stdout
    else:
        assert "process.cwd" in res.stderr


@pytest.mark.parametrize("fd", range(3, 12))
def test_a_missing_cwd_is_never_made_through_a_leaked_fd(rt: Runtime, fd: int, tmp_path: Path) -> None:
    """A missing process.cwd is made (as runc does), but only inside the container: /proc/self/fd/N/made,
    with the caller holding a host directory open, must not create `made` on the host."""
    host = tmp_path / "host"
    host.mkdir()
    held = [os.open("/", os.O_RDONLY) for _ in range(8)] + [os.open(str(host), os.O_RDONLY)]
    try:
        cfg = busybox_config()
        cfg["root"]["readonly"] = False
        cfg["process"]["cwd"] = f"/proc/self/fd/{fd}/made"
        res = rt("run", "-b", str(rt.bundle(cfg, args=["pwd"])), rt.new_id(), pass_fds=tuple(held))
    finally:
        for h in held:
            os.close(h)
    assert list(host.iterdir()) == [] and not Path("/made").exists(), res.stdout + res.stderr
    assert res.returncode == 1 and "process.cwd" in res.stderr, res.stdout + res.stderr


@pytest.mark.parametrize("fd", range(3, 10))
def test_exec_cwd_through_a_leaked_fd(rt: Runtime, fd: int, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "30"])), cid, check=True)
    held = [os.open(str(tmp_path), os.O_RDONLY) for _ in range(8)]
    try:
        res = rt("exec", "--cwd", f"/proc/self/fd/{fd}", cid, "sh", "-c", "pwd; ls ../../../..", pass_fds=tuple(held))
    finally:
        for h in held:
            os.close(h)
        rt("delete", "--force", cid, check=True)
    if res.returncode == 0:
        assert not res.stdout.startswith("(unreachable)") and str(tmp_path) not in res.stdout, res.stdout
    else:
        assert "process.cwd" in res.stderr, res.stderr


def test_the_resolver_is_what_stops_it(hostile: tuple[Path, Path]) -> None:
    """Meaningfulness: following the image's symlink on the host lands exactly on the host target."""
    rootfs, host = hostile
    (rootfs / "mnt-abs").symlink_to(str(host))
    assert os.path.realpath(rootfs / "mnt-abs" / "sub") == str(host / "sub")


def test_pyrt_and_python_cannot_be_opened_from_the_container(rt: Runtime, tmp_path: Path) -> None:
    """CVE-2019-5736 class: while `pyrt exec` runs inside the container's namespaces, a container process
    scans /proc/*/exe of every other process and tries to open it; none may be opened."""
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    attacker = ("end=$(( $(date +%s) + 6 )); n=0; while [ $(date +%s) -lt $end ]; do "
                "for e in /proc/[0-9]*/exe; do p=${e%/exe}; p=${p#/proc/}; [ $p = $$ ] && continue; "
                "head -c1 $e >/dev/null 2>&1 && echo $p $(cat /proc/$p/cmdline | tr '\\0' ' ') >> /out/opened; "
                "n=$((n+1)); done; done; echo $n > /out/tries")
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sh", "-c", attacker])), cid, check=True)
    for _ in range(15):
        rt("exec", cid, "true")
    rt.wait_status(cid, "stopped", timeout=20)
    rt("delete", cid, check=True)
    opened = (out / "opened").read_text() if (out / "opened").exists() else ""
    assert int((out / "tries").read_text()) > 0
    foreign = [line for line in opened.splitlines() if "python" in line or "pyrt" in line]
    assert foreign == [], f"the container opened the runtime's executable: {foreign[:3]}"
