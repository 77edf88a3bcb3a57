"""The systemd cgroup driver's pure parts: cgroupsPath as runc reads it, slices, unit properties."""

from __future__ import annotations

import pytest

from pyrt.common.errors import SpecError
from pyrt.linux import systemd


@pytest.mark.parametrize("path, expected", [
    ("system.slice:docker:abc", ("system.slice", "docker-abc.scope", "system.slice/docker-abc.scope")),
    (":libpod:abc", ("system.slice", "libpod-abc.scope", "system.slice/libpod-abc.scope")),
    ("kubepods-besteffort.slice:cri-containerd:abc",
     ("kubepods-besteffort.slice", "cri-containerd-abc.scope",
      "kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope")),
    ("machine.slice::abc", ("machine.slice", "abc.scope", "machine.slice/abc.scope")),
    ("-.slice:p:abc", ("-.slice", "p-abc.scope", "p-abc.scope")),
    ("system.slice:p:my-pod.slice", ("system.slice", "my-pod.slice", "system.slice/my-pod.slice")),
    (None, ("system.slice", "pyrt-cid.scope", "system.slice/pyrt-cid.scope")),
])
def test_cgroups_path_as_runc_reads_it(path: str | None, expected: tuple[str, str, str]) -> None:
    assert systemd.parse_path(path, "cid") == expected


@pytest.mark.parametrize("path, why", [
    ("/docker/abc", "expected \"slice:prefix:name\""),
    ("a:b", "expected \"slice:prefix:name\""),
    ("system.slice:docker:", "the name part is empty"),
    ("system:docker:abc", "is not a slice name"),
    ("a--b.slice:p:n", "is not a valid slice name"),
    ("-a.slice:p:n", "is not a valid slice name"),
    ("system.slice:p:a/b", "has no '/'"),
])
def test_bad_cgroups_paths_name_the_field(path: str, why: str) -> None:
    with pytest.raises(SpecError, match=why) as err:
        systemd.parse_path(path, "cid")
    assert str(err.value).startswith("linux.cgroupsPath: ")


def test_limits_become_the_unit_properties_runc_sets() -> None:
    props = dict(systemd.unit_properties({
        "memory.limit": 64 << 20, "memory.swap": 96 << 20, "memory.reservation": 16 << 20, "cpu.shares": 512,
        "cpu.quota": 50000, "cpu.period": 100000, "cpu.cpus": "0-2,5", "pids.limit": 40, "blockIO.weight": 500}))
    assert props["MemoryMax"] == ("t", 64 << 20)
    assert props["MemorySwapMax"] == ("t", 32 << 20)  # OCI swap is memory+swap
    assert props["MemoryLow"] == ("t", 16 << 20)
    assert props["CPUWeight"] == ("t", 20)
    assert props["CPUQuotaPerSecUSec"] == ("t", 500000)  # half a CPU
    assert props["CPUQuotaPeriodUSec"] == ("t", 100000)
    assert props["AllowedCPUs"] == ("ay", bytes([0b00100111]))
    assert props["TasksMax"] == ("t", 40)
    assert props["IOWeight"] == ("t", 4950)


def test_unlimited_and_unset_values() -> None:
    infinity = 2**64 - 1
    props = dict(systemd.unit_properties({"memory.limit": -1, "memory.swap": -1, "pids.limit": -1,
                                          "cpu.quota": -1}))
    assert props == {"MemoryMax": ("t", infinity), "MemorySwapMax": ("t", infinity), "TasksMax": ("t", infinity),
                     "CPUQuotaPerSecUSec": ("t", infinity)}
    assert systemd.unit_properties({"memory.limit": 0, "pids.limit": 0, "cpu.quota": 0}) == []


def test_a_quota_rounds_up_to_ten_ms_per_second_as_systemd_stores_it() -> None:
    props = dict(systemd.unit_properties({"cpu.quota": 12345, "cpu.period": 100000}))
    assert props["CPUQuotaPerSecUSec"] == ("t", 130000)
