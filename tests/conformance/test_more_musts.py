"""config.md MUSTs the integration tests do not already show (ids of ../shared/spec-musts.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root


def test_CFG_8_bind_and_rbind(rt: Runtime, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        (src / "sub" / "inside-submount").write_text("x")
        cfg = busybox_config()
        cfg["mounts"] += [{"destination": "/b", "type": "bind", "source": str(src), "options": ["bind"]},
                          {"destination": "/r", "type": "bind", "source": str(src), "options": ["rbind"]}]
        res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "ls /b/sub | wc -l; ls /r/sub"])), rt.new_id())
        assert res.stdout.split() == ["0", "inside-submount"], res.stderr
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_CFG_11_mount_propagation(rt: Runtime, tmp_path: Path) -> None:
    cfg = busybox_config()
    cfg["mounts"] += [{"destination": "/s", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]},
                      {"destination": "/u", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"]}]
    res = rt("run", "-b", str(rt.bundle(cfg, args=["awk", '$5 == "/s" || $5 == "/u"', "/proc/self/mountinfo"])),
             rt.new_id())
    lines = {line.split()[4]: line.split(" - ")[0] for line in res.stdout.splitlines()}
    assert "shared:" in lines["/s"] and "unbindable" in lines["/u"], res.stdout


def test_CFG_12_idmap_option_needs_mappings(rt: Runtime, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/d", "type": "bind", "source": str(data), "options": ["rbind", "idmap"]})
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1 and "mounts[7].options: idmap needs the mount's uidMappings" in res.stderr
    cfg["mounts"][-1].update(uidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}],
                             gidMappings=[{"containerID": 0, "hostID": 1000, "size": 1}])
    (data / "f").write_text("x")
    res = rt("run", "-b", str(rt.bundle(cfg, args=["stat", "-c", "%u", "/d/f"])), rt.new_id())
    assert res.stdout == "1000\n", res.stderr


def test_CFG_14_console_size_without_terminal(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["consoleSize"] = {"height": 10, "width": 20}
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "[ -t 1 ] && echo tty || echo no-tty"])),
             rt.new_id())
    assert (res.returncode, res.stdout) == (0, "no-tty\n")


def test_CFG_24_oom_score_adj_inherited_when_unset(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"].pop("oomScoreAdj", None)
    with open("/proc/self/oom_score_adj") as fh:
        mine = fh.read()
    script = "cat /proc/self/oom_score_adj"
    res = subprocess.run(["sh", "-c", 'echo 123 > /proc/self/oom_score_adj; exec "$@"', "sh",
                          str(Path(__file__).resolve().parents[2] / ".venv/bin/pyrt"), "--root", str(rt.root),
                          "run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id()],
                         capture_output=True, text=True, timeout=30)
    assert res.stdout == "123\n", res.stderr
    with open("/proc/self/oom_score_adj") as fh:
        assert fh.read() == mine
    assert os.path.exists("/proc/self")
