"""The cgroup2 device program, proven on this kernel: attached to a cgroup2 directory (this hybrid
host's /sys/fs/cgroup/unified), it decides opens exactly as the v1 rules it came from."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pyrt.linux import devicefilter

pytestmark = pytest.mark.root
UNIFIED = Path("/sys/fs/cgroup/unified")
PROBE = """
import os, sys
sys.stdin.read(1)
for path, mode in (("/dev/null", os.O_RDWR), ("/dev/zero", os.O_RDONLY), ("/dev/zero", os.O_WRONLY),
                   ("/dev/full", os.O_RDONLY), ("/dev/urandom", os.O_RDONLY)):
    try:
        os.close(os.open(path, mode))
        print("ok", end=" ")
    except OSError:
        print("denied", end=" ")
"""


def opens_under(rules: list[list[object]]) -> list[str]:
    if not IS_CGROUP2:
        pytest.skip("no cgroup2 hierarchy at /sys/fs/cgroup/unified")
    d = UNIFIED / f"pyrt-devtest-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    try:
        devicefilter.attach(str(d), rules)
        p = subprocess.Popen([sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        (d / "cgroup.procs").write_text(str(p.pid))
        out, _ = p.communicate("x", timeout=20)
        return out.split()
    finally:
        d.rmdir()


IS_CGROUP2 = (UNIFIED / "cgroup.controllers").exists()


def test_allow_list_after_deny_all() -> None:
    rules: list[list[object]] = [[False, "a", -1, -1, "rwm"], [True, "c", 1, 3, "rw"], [True, "c", 1, 5, "r"],
                                 [True, "c", 1, -1, "m"]]
    assert opens_under(rules) == ["ok", "ok", "denied", "denied", "denied"]


def test_later_rules_win_and_deny_rules() -> None:
    rules: list[list[object]] = [[True, "a", -1, -1, "rwm"], [False, "c", 1, 5, "w"], [False, "c", 1, 7, "rwm"]]
    assert opens_under(rules) == ["ok", "ok", "denied", "denied", "ok"]


def test_pyrt_default_rules_allow_the_default_devices() -> None:
    from pyrt.planning.plan import DEFAULT_DEVICE_RULES

    rules: list[list[object]] = [[False, "a", -1, -1, "rwm"]] + [[True, *r] for r in DEFAULT_DEVICE_RULES]
    assert opens_under(rules) == ["ok", "ok", "ok", "ok", "ok"]
    assert os.path.exists("/dev/null")
