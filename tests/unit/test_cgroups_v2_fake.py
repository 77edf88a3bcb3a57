"""cgroup2-only hosts, against a fake cgroupfs tree (this machine is hybrid: the kernel cannot show it).

Discovery reads a fake mountinfo naming a temp dir as the cgroup2 mount; files a kernel would offer
are created beside each new cgroup; then the writes pyrt makes are read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrt.common.errors import SetupError
from pyrt.linux import cgroupdirs, cgroups, freezer

FILES = {"memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "cpu.weight": "100",
         "cpu.max": "max 100000", "pids.max": "max", "io.weight": "default 100", "cpuset.cpus": "",
         "cpuset.mems": "", "hugetlb.2MB.max": "max", "cgroup.procs": "", "cgroup.subtree_control": "",
         "cgroup.controllers": "cpu memory pids io cpuset hugetlb", "cgroup.freeze": "0",
         "cgroup.events": "populated 0\nfrozen 0\n"}


@pytest.fixture
def fake_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cgroup"
    root.mkdir()
    for name, value in FILES.items():
        (root / name).write_text(value)
    (tmp_path / "mountinfo").write_text(f"30 25 0:26 / {root} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    (tmp_path / "self-cgroup").write_text("0::/\n")
    monkeypatch.setattr(cgroups, "MOUNTINFO", str(tmp_path / "mountinfo"))
    monkeypatch.setattr(cgroups, "SELF_CGROUP", str(tmp_path / "self-cgroup"))
    return root


def make(root: Path, path: str) -> list[str]:
    hs = cgroups.leaf_dirs(path)
    created = cgroups.create(hs)
    for d in created:  # what the kernel would offer in a new cgroup
        for name, value in FILES.items():
            if name != "cgroup.controllers":
                Path(d, name).write_text(value)
    return [h["dir"] for h in hs]


def test_v1_style_values_are_converted(fake_v2: Path) -> None:
    leaves = make(fake_v2, "/pyrt/c1")
    leaf = fake_v2 / "pyrt" / "c1"
    assert leaves == [str(leaf)]
    cgroups.apply(leaves, {"settings": {"memory.limit": 64 << 20, "memory.reservation": 16 << 20,
                                        "memory.swap": 96 << 20, "cpu.shares": 512, "cpu.quota": 50000,
                                        "cpu.period": 200000, "pids.limit": 40, "blockIO.weight": 500,
                                        "cpu.cpus": "0-1"},
                           "hugepages": [["2MB", 4 << 21]], "unified": {"cgroup.freeze": "0"}})
    assert (leaf / "memory.max").read_text() == str(64 << 20)
    assert (leaf / "memory.low").read_text() == str(16 << 20)
    assert (leaf / "memory.swap.max").read_text() == str(32 << 20)  # swap alone: 96M - 64M
    assert (leaf / "cpu.weight").read_text() == "20"  # 1 + (512 - 2) * 9999 / 262142
    assert (leaf / "cpu.max").read_text() == "50000 200000"
    assert (leaf / "pids.max").read_text() == "40"
    assert (leaf / "io.weight").read_text() == "default 4950"  # 1 + (500 - 10) * 9999 / 990
    assert (leaf / "cpuset.cpus").read_text() == "0-1"
    assert (leaf / "hugetlb.2MB.max").read_text() == str(4 << 21)
    assert (fake_v2 / "pyrt" / "cgroup.subtree_control").read_text().startswith("+")  # controllers enabled


def test_a_cgroup_under_an_existing_parent_as_the_kernel_lays_it_out(fake_v2: Path) -> None:
    """A real cgroup2 root has no cpuset.cpus (only .effective), and a child of a parent with +cpuset in
    its subtree_control has an empty one (the parent's cpus): Docker's cgroupfs driver asks for
    /docker/<id> under an existing /docker.  Nothing is copied and nothing fails."""
    (fake_v2 / "cpuset.cpus").unlink()
    (fake_v2 / "cpuset.mems").unlink()
    (fake_v2 / "docker").mkdir()
    for name, value in FILES.items():
        if name != "cgroup.controllers":
            (fake_v2 / "docker" / name).write_text(value)
    leaves = make(fake_v2, "/docker/0123abcd")
    assert leaves == [str(fake_v2 / "docker" / "0123abcd")]
    assert (fake_v2 / "docker" / "cpuset.cpus").read_text() == ""


def test_unlimited_values(fake_v2: Path) -> None:
    leaves = make(fake_v2, "/pyrt/c2")
    cgroups.apply(leaves, {"settings": {"memory.limit": -1, "memory.swap": -1, "pids.limit": -1, "cpu.quota": -1}})
    leaf = fake_v2 / "pyrt" / "c2"
    assert [(leaf / f).read_text() for f in ("memory.max", "memory.swap.max", "pids.max", "cpu.max")] == \
        ["max", "max", "max", "max 100000"]


@pytest.mark.parametrize("settings, expected", [
    ({"memory.disableOOMKiller": True}, "linux.resources.memory.disableOOMKiller: has no cgroup2 equivalent"),
    ({"cpu.realtimeRuntime": 1000}, "linux.resources.cpu.realtimeRuntime: no real-time cpu cgroup"),
    ({"memory.swap": 10, "memory.limit": 20}, "linux.resources.memory.swap: on cgroup2 swap needs"),
])
def test_what_cgroup2_cannot_do_is_refused(fake_v2: Path, settings: dict[str, object], expected: str) -> None:
    leaves = make(fake_v2, "/pyrt/c3")
    with pytest.raises(SetupError) as info:
        cgroups.apply(leaves, {"settings": settings})
    assert str(info.value).startswith(expected)


def test_devices_become_an_ebpf_program_on_cgroup2(fake_v2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leaves = make(fake_v2, "/pyrt/c4")
    attached: list[tuple[str, object]] = []
    from pyrt.linux import devicefilter

    monkeypatch.setattr(devicefilter, "attach", lambda d, rules: attached.append((d, rules)))
    cgroups.apply(leaves, {"devices": [[False, "a", -1, -1, "rwm"]]})
    assert attached == [(leaves[0], [[False, "a", -1, -1, "rwm"]])]  # the kernel test is in integration/


def test_freeze_and_remove(fake_v2: Path) -> None:
    leaves = make(fake_v2, "/pyrt/c5")
    leaf = fake_v2 / "pyrt" / "c5"
    (leaf / "cgroup.events").write_text("populated 1\nfrozen 1\n")  # the kernel's answer
    cgroups.freeze(leaves, True, timeout=1)
    assert (leaf / "cgroup.freeze").read_text() == "1" and freezer.frozen(leaves)
    for f in leaf.iterdir():  # a real cgroup directory empties itself; a fake one must be emptied
        f.unlink()
    cgroupdirs.remove([str(leaf), str(fake_v2 / "pyrt")])
    assert not (fake_v2 / "pyrt").exists() or list((fake_v2 / "pyrt").iterdir())


def test_missing_names_what_create_makes(fake_v2: Path) -> None:
    """The record written before create() lists what it will make: a `delete` after a SIGKILL in between
    removes exactly those (tests/security/test_faults.py kills create there)."""
    (fake_v2 / "shared").mkdir()
    hs = cgroups.leaf_dirs("/shared/a/b")
    planned = cgroups.missing(hs)
    assert planned == [str(fake_v2 / "shared/a"), str(fake_v2 / "shared/a/b")]
    assert cgroups.create(hs) == planned
    assert cgroups.missing(hs) == []


def test_swappiness_is_ignored_with_a_warning_as_runc_does(fake_v2: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leaves = make(fake_v2, "/pyrt/sw")
    cgroups.apply(leaves, {"settings": {"memory.swappiness": 10, "pids.limit": 5}})
    assert (fake_v2 / "pyrt" / "sw" / "pids.max").read_text() == "5"
    assert not (fake_v2 / "pyrt" / "sw" / "memory.swappiness").exists()
    assert "linux.resources.memory.swappiness: cgroup2 has no swappiness; ignored" in capsys.readouterr().err


def test_kill_all_with_sigkill_uses_cgroup_kill(fake_v2: Path) -> None:
    """cgroup.kill (Linux 5.14) kills the whole cgroup at once; other signals go process by process."""
    leaves = make(fake_v2, "/pyrt/k1")
    leaf = fake_v2 / "pyrt" / "k1"
    (leaf / "cgroup.kill").write_text("")
    (leaf / "cgroup.procs").write_text("")
    cgroupdirs.kill_all(leaves, 9)
    assert (leaf / "cgroup.kill").read_text() == "1"
    (leaf / "cgroup.kill").write_text("")
    cgroupdirs.kill_all(leaves, 15)
    assert (leaf / "cgroup.kill").read_text() == ""
