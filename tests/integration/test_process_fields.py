"""runtime-spec 1.2 process and linux fields, observed from inside the container."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root


def inside(rt: Runtime, cfg: dict[str, Any], script: str) -> str:
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id())
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_scheduler_and_io_priority(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    cfg["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    out = inside(rt, cfg, "grep -E '^(policy|prio) ' /proc/self/sched | tr -s ' '; ionice")
    assert out.splitlines() == ["policy : 3", "prio : 125", "idle"]


def test_realtime_scheduler_with_cpu_rt_runtime(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    cfg["linux"]["resources"]["cpu"] = {"realtimeRuntime": 10000, "realtimePeriod": 1000000}
    cfg["process"]["capabilities"]["bounding"].append("CAP_SYS_NICE")
    out = inside(rt, cfg, "grep -E '^policy ' /proc/self/sched | tr -s ' '")
    assert out == "policy : 1\n"


def test_personality_time_offsets_memory_policy(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["personality"] = {"domain": "LINUX32"}
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 86400}, "monotonic": {"secs": 3600, "nanosecs": 5}}
    cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    out = inside(rt, cfg, "uname -m; cat /proc/self/timens_offsets | tr -s ' '; cut -d' ' -f1 /proc/uptime; "
                          "grep -c ' bind:0' /proc/self/numa_maps")
    lines = out.splitlines()
    assert lines[0] == "i686"
    assert lines[1:3] == ["monotonic 3600 5", "boottime 86400 0"]
    host_uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert float(lines[3]) > host_uptime + 86000
    assert int(lines[4]) > 0


def test_exec_cpu_affinity(rt: Runtime, tmp_path: Path) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cpus")
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "60"])), cid, check=True)
    proc = busybox_config()["process"]
    proc.update(args=["grep", "Cpus_allowed_list", "/proc/self/status"],
                execCPUAffinity={"initial": "0", "final": "1"})
    (tmp_path / "p.json").write_text(json.dumps(proc))
    res = rt("exec", "--process", str(tmp_path / "p.json"), cid)
    assert res.stdout.split() == ["Cpus_allowed_list:", "1"], res.stderr
    rt("delete", "--force", cid, check=True)


@pytest.mark.parametrize("mutate, expected", [
    (lambda c: c["process"].update(scheduler={"policy": "SCHED_NOPE"}), "process.scheduler.policy: unknown value"),
    (lambda c: c["process"].update(scheduler={"policy": "SCHED_FIFO"}), "process.scheduler.priority: SCHED_FIFO"),
    (lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 9}),
     "process.ioPriority.priority: 9 is out of range"),
    (lambda c: c["linux"].update(personality={"domain": "LINUX", "flags": ["X"]}), "linux.personality.flags: "),
    (lambda c: c["linux"].update(timeOffsets={"boottime": {"secs": 1}}), "linux.timeOffsets: needs a new time"),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes: this mode"),
    (lambda c: c["process"].update(execCPUAffinity={"initial": "x-y"}), "process.execCPUAffinity.initial: "),
])
def test_bad_values_name_their_path(rt: Runtime, mutate: Any, expected: str) -> None:
    cfg = busybox_config()
    mutate(cfg)
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {expected}"), res.stderr


def test_selinux_and_apparmor_are_ignored_with_a_warning_when_off(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    cfg["process"]["apparmorProfile"] = "docker-default"
    cfg["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
    assert res.returncode == 0
    assert {line.split(":")[2].strip() for line in res.stderr.splitlines()} == {
        "process.apparmorProfile", "process.selinuxLabel", "linux.mountLabel"}


def test_the_program_starts_with_default_signal_dispositions(rt: Runtime) -> None:
    """Ignored signals survive execve: neither what Python ignores itself (SIGPIPE, SIGXFSZ) nor what
    pyrt's caller ignored (here SIGHUP and SIGUSR1, as nohup does) reaches the container's program; no
    signal is blocked either."""
    import signal

    def ignore() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)

    res = rt("run", "-b", str(rt.bundle(args=["grep", "^Sig[IB]", "/proc/self/status"])), rt.new_id(),
             preexec_fn=ignore)
    assert (res.returncode, res.stdout) == (0, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"), res.stderr
