"""pause/resume, update, ps, events, features, and every resources field this host has, read back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Runtime, busybox_config, clear_default_parents, schema_validator

pytestmark = pytest.mark.root
CG = Path("/sys/fs/cgroup")


@pytest.fixture
def ticking(rt: Runtime, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A container that counts into a host file every 10 ms."""
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cid = rt.new_id()
    # write-then-rename: a freeze can land between a truncate and a write, never inside a rename
    script = "i=0; while :; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; sleep 0.01; done"
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), cid, check=True)
    yield cid, out / "n"
    rt("delete", "--force", cid, check=True)


def _count(path: Path) -> int:
    for _ in range(1000):
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.01)
    raise AssertionError("the container never counted")


def test_pause_freezes_and_resume_thaws(rt: Runtime, ticking: tuple[str, Path]) -> None:
    cid, counter = ticking
    _count(counter)
    rt("pause", cid, check=True)
    st = rt.state(cid)
    assert st["status"] == "paused" and st["pid"] > 0
    assert (CG / "freezer/pyrt" / cid / "freezer.state").read_text().strip() == "FROZEN"
    before = _count(counter)
    time.sleep(0.3)
    assert _count(counter) == before  # frozen: not a single tick
    assert rt("pause", cid).stderr == "pyrt: cannot pause a container that is paused\n"
    rt("resume", cid, check=True)
    assert rt.state(cid)["status"] == "running"
    time.sleep(0.3)
    assert _count(counter) > before
    assert rt("resume", cid).stderr == "pyrt: container not paused\n"


def test_delete_force_of_a_paused_container(rt: Runtime, ticking: tuple[str, Path]) -> None:
    cid, _counter = ticking
    rt("pause", cid, check=True)
    rt("delete", "--force", cid, check=True)
    assert rt("state", cid).returncode == 1


def test_ps(rt: Runtime, ticking: tuple[str, Path]) -> None:
    cid, _counter = ticking
    pid = rt.state(cid)["pid"]
    pids = json.loads(rt("ps", "--format", "json", cid, check=True).stdout)
    assert pid in pids
    table = rt("ps", cid, check=True).stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"]
    assert any(line.split()[1] == str(pid) for line in table[1:])
    assert all(int(line.split()[1]) in pids for line in table[1:])


def test_update_as_docker_sends_it(rt: Runtime, ticking: tuple[str, Path]) -> None:
    cid, _counter = ticking
    docker_update = {"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0},
                     "cpu": {"shares": 512, "quota": 0, "period": 0, "cpus": "", "mems": ""},
                     "blockIO": {"weight": 0}, "pids": {"limit": 0}}
    res = rt("update", "--resources", "-", cid, input=json.dumps(docker_update), stdin=None)
    assert res.returncode == 0, res.stderr
    assert (CG / "cpu/pyrt" / cid / "cpu.shares").read_text() == "512\n"
    rt("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "40", "--cpu-period", "100000",
       "--cpu-quota", "50000", "--cpuset-cpus", "0", cid, check=True)
    assert (CG / "memory/pyrt" / cid / "memory.limit_in_bytes").read_text() == f"{64 << 20}\n"
    assert (CG / "memory/pyrt" / cid / "memory.memsw.limit_in_bytes").read_text() == f"{128 << 20}\n"
    assert (CG / "pids/pyrt" / cid / "pids.max").read_text() == "40\n"
    assert (CG / "cpu/pyrt" / cid / "cpu.cfs_quota_us").read_text() == "50000\n"
    assert (CG / "cpuset/pyrt" / cid / "cpuset.cpus").read_text() == "0\n"
    res = rt("update", "--memory", "lots", cid)
    assert res.returncode == 1 and res.stderr.startswith("pyrt: --memory: expected a size")


def test_events_stats(rt: Runtime, ticking: tuple[str, Path]) -> None:
    cid, _counter = ticking
    event = json.loads(rt("events", "--stats", cid, check=True).stdout)
    assert event["type"] == "stats" and event["id"] == cid
    assert event["data"]["cpu"]["usage"]["total"] > 0
    assert event["data"]["memory"]["usage"]["usage"] > 0
    assert event["data"]["pids"]["current"] >= 1


def test_features_validate_against_the_schema(rt: Runtime) -> None:
    validator = schema_validator("features-schema.json")
    doc = json.loads(rt("features", check=True).stdout)
    validator.validate(doc)
    assert doc["linux"]["seccomp"]["actions"] == sorted(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                                         "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                                                         "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
                                                         "SCMP_ACT_NOTIFY"])
    assert doc["annotations"]["io.github.seccomp.libseccomp.version"].count(".") == 2
    assert doc["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                            "poststop"]
    assert doc["ociVersionMax"] == "1.2.0"


def test_every_resource_field_this_host_has(rt: Runtime) -> None:
    clear_default_parents()
    cfg = busybox_config()
    cfg["linux"]["resources"].update({
        "memory": {"limit": 96 << 20, "reservation": 32 << 20, "swap": 192 << 20, "swappiness": 10,
                   "disableOOMKiller": True},
        "cpu": {"shares": 256, "quota": 20000, "period": 100000, "realtimeRuntime": 1000, "realtimePeriod": 1000000,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 30},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 21}],
        "unified": {"hugetlb.1GB.max": "0"},
    })
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(cfg, args=["sleep", "30"])), cid, check=True)
    mem, cpu = CG / "memory/pyrt" / cid, CG / "cpu/pyrt" / cid
    assert (mem / "memory.limit_in_bytes").read_text() == f"{96 << 20}\n"
    assert (mem / "memory.soft_limit_in_bytes").read_text() == f"{32 << 20}\n"
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == f"{192 << 20}\n"
    assert (mem / "memory.swappiness").read_text() == "10\n"
    assert "oom_kill_disable 1" in (mem / "memory.oom_control").read_text()
    assert [(cpu / f).read_text().strip() for f in ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
                                                   "cpu.rt_runtime_us", "cpu.rt_period_us")] == \
        ["256", "20000", "100000", "1000", "1000000"]
    assert (CG / "cpu/pyrt/cpu.rt_runtime_us").read_text().strip() != "0"  # the parent got RT time first
    assert (CG / "cpuset/pyrt" / cid / "cpuset.cpus").read_text() == "0\n"
    assert (CG / "pids/pyrt" / cid / "pids.max").read_text() == "30\n"
    assert (CG / "unified/pyrt" / cid / "hugetlb.2MB.max").read_text() == f"{4 << 21}\n"
    assert (CG / "unified/pyrt" / cid / "hugetlb.1GB.max").read_text() == "0\n"
    rt("delete", "--force", cid, check=True)
    assert not (CG / "cpu/pyrt").exists()  # empty, it went, and gave its real-time time back to the root


@pytest.mark.parametrize("resources, expected", [
    ({"network": {"classID": 7}}, "linux.resources.network: not supported"),
    ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}, "linux.resources.hugepageLimits: no 3MB huge pages"),
    ({"unified": {"memory.nope": "1"}}, "linux.resources.unified.memory.nope: "),
    ({"blockIO": {"weight": 100}}, "linux.resources.blockIO.weight: "),
])
def test_resources_this_host_lacks_fail_cleanly(rt: Runtime, resources: dict[str, object], expected: str) -> None:
    cfg = busybox_config()
    cfg["linux"]["resources"].update(resources)
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {expected}"), res.stderr
