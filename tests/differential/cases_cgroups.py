"""cgroups: the limits a config sets, read inside the container and on the host; `update` afterwards.

`update` is compared with runc alone: crun 1.8.1's update fails (exit 1, nothing written) for memory
and cpu quota on this host's masked v1 layout, and for pids -1; its create writes the same values."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import UNIFIED
from tests.differential.edits import chain, process, resources, set_path
from tests.differential.harness import Case, Config, Session, Steps

C = "cgroups"
U = "update"
CG = "cat /sys/fs/cgroup/{0}/{1}"
BLOCK = "254:0"  # this machine's disk (virtio); the lab's too
PARENT = "pyrt-differential"  # a cgroupsPath parent the test module removes after the cases


LIMITS = f"{PARENT}-limits"  # parents with a cpu limit of their own, made by the cases, removed after


def under_limited_parent(cfg: Config) -> None:
    """cgroupsPath below a parent made here, on the host, whose cpu quota is half a cpu."""
    name = uuid.uuid4().hex[:10]
    if UNIFIED:
        root = Path("/sys/fs/cgroup")
        (root / LIMITS / name).mkdir(parents=True)
        (root / "cgroup.subtree_control").write_text("+cpu")
        (root / LIMITS / "cgroup.subtree_control").write_text("+cpu")
        (root / LIMITS / name / "cpu.max").write_text("50000 100000")
    else:
        parent = Path("/sys/fs/cgroup/cpu", LIMITS, name)
        parent.mkdir(parents=True)
        (parent / "cpu.cfs_quota_us").write_text("50000")
    cfg["linux"]["cgroupsPath"] = f"/{LIMITS}/{name}/c"


def own_path(cfg: Config) -> None:
    """cgroupsPath under a parent of the harness's, a fresh one per runtime."""
    cfg["linux"]["cgroupsPath"] = f"/{PARENT}/{uuid.uuid4().hex[:10]}"


def update_stopped(s: Session) -> str:
    s("run", s.id)
    return s.obs("update", "--pids-limit", "5", s.id)


def created(*files: tuple[str, str]) -> Steps:
    """create, read cgroup files on the host, delete."""

    def steps(s: Session) -> str:
        rc, _, _ = s("create", s.id)
        out = [f"create -> {rc}"]
        out += [f"{ctrl}/{name}: {s.cgroup_file(ctrl, name)}" for ctrl, name in files]
        return "\n".join(out) + "\n"

    return steps


def updated(
    *args: str, files: tuple[tuple[str, str], ...], stdin: str | None = None, before: tuple[str, ...] = ()
) -> Steps:
    """create and start a container that sleeps, `update ARGS ID`, read files on the host."""

    def steps(s: Session) -> str:
        s("create", s.id)
        s("start", s.id)
        out = []
        if before:
            out.append(s.obs("update", *before, s.id).rstrip("\n"))
        out.append(s.obs("update", *args, s.id, input=stdin).rstrip("\n"))
        out += [f"{ctrl}/{name}: {s.cgroup_file(ctrl, name)}" for ctrl, name in files]
        return "\n".join(out) + "\n"

    return steps


RUNC = ("runc",)
SLEEP = process(args=["sleep", "30"])
PIDS = (("pids", "pids.max"),)
MEM = (("memory", "memory.limit_in_bytes"),)
MEMSW = (("memory", "memory.limit_in_bytes"), ("memory", "memory.memsw.limit_in_bytes"))
QUOTA = (("cpu", "cpu.cfs_quota_us"), ("cpu", "cpu.cfs_period_us"))

CASES = [
    Case(C, "pids.limit 10", CG.format("pids", "pids.max"), edit=resources(pids={"limit": 10})),
    Case(
        C,
        "pids.limit -1",
        CG.format("pids", "pids.max"),
        edit=resources(pids={"limit": -1}),
        refs_differ="crun writes -1 to v1's pids.max, which refuses it; runc writes max",
    ),
    Case(C, "pids.limit 0", CG.format("pids", "pids.max"), edit=resources(pids={"limit": 0})),
    Case(
        C, "memory.limit 64M", CG.format("memory", "memory.limit_in_bytes"), edit=resources(memory={"limit": 64 << 20})
    ),
    Case(C, "memory.limit -1", CG.format("memory", "memory.limit_in_bytes"), edit=resources(memory={"limit": -1})),
    Case(
        C,
        "memory limit and swap",
        "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        edit=resources(memory={"limit": 64 << 20, "swap": 128 << 20}),
    ),
    Case(C, "memory swap below the limit", "true", edit=resources(memory={"limit": 64 << 20, "swap": 32 << 20})),
    Case(
        C,
        "memory swap -1",
        "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        edit=resources(memory={"limit": 64 << 20, "swap": -1}),
    ),
    Case(
        C,
        "memory reservation",
        CG.format("memory", "memory.soft_limit_in_bytes"),
        edit=resources(memory={"reservation": 32 << 20}),
    ),
    Case(C, "memory swappiness", CG.format("memory", "memory.swappiness"), edit=resources(memory={"swappiness": 10})),
    Case(
        C,
        "memory swappiness above 100",
        "true",
        edit=resources(memory={"swappiness": 200}),
        refs_differ="runc refuses 200 (valid: 0-100); crun passes it on and this kernel takes it",
    ),
    Case(
        C,
        "OOM killer disabled",
        "head -1 /sys/fs/cgroup/memory/memory.oom_control",
        edit=resources(memory={"disableOOMKiller": True}),
    ),
    Case(C, "memory limit below what the runtime needs", "true", edit=resources(memory={"limit": 4096})),
    Case(C, "cpu shares", CG.format("cpu", "cpu.shares"), edit=resources(cpu={"shares": 512})),
    Case(
        C,
        "cpu quota and period",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
        edit=resources(cpu={"quota": 50000, "period": 200000}),
    ),
    Case(
        C,
        "cpu quota alone",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
        edit=resources(cpu={"quota": 50000}),
    ),
    Case(
        C,
        "cpu period alone",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
        edit=resources(cpu={"period": 50000}),
    ),
    Case(
        C,
        "cpu quota -1",
        CG.format("cpu", "cpu.cfs_quota_us"),
        edit=resources(cpu={"quota": -1}),
        refs_differ="crun fails to write -1 (ERANGE, as unsigned); runc writes it: no quota",
    ),
    Case(
        C,
        "cpuset cpus and mems",
        "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems",
        edit=resources(cpu={"cpus": "0", "mems": "0"}),
    ),
    Case(C, "cpuset cpus out of range", "true", edit=resources(cpu={"cpus": "64"})),
    Case(
        C,
        "cpu realtime runtime and period",
        steps=created(("cpu", "cpu.rt_runtime_us"), ("cpu", "cpu.rt_period_us")),
        edit=resources(cpu={"realtimeRuntime": 1000, "realtimePeriod": 500000}),
    ),
    Case(
        C,
        "block io throttle",
        CG.format("blkio", "blkio.throttle.read_bps_device"),
        edit=resources(blockIO={"throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}]}),
    ),
    Case(
        C,
        "block io write iops",
        CG.format("blkio", "blkio.throttle.write_iops_device"),
        edit=resources(blockIO={"throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]}),
    ),
    Case(C, "block io weight without a weight file", "true", edit=resources(blockIO={"weight": 500})),
    Case(
        C,
        "hugepage limit without a v1 hugetlb",
        "true",
        edit=resources(hugepageLimits=[{"pageSize": "2MB", "limit": 2097152}]),
        differs="on a hybrid host pyrt sets a limit v1 lacks in the container's cgroup2 leaf (hugetlb is "
        "there); runc and crun look in v1 only and fail",
        expect="exit=0\n",
    ),
    Case(C, "unified on a hybrid host", "true", edit=resources(unified={"pids.max": "7"})),
    Case(C, "cgroupsPath of the config", steps=created(*PIDS), edit=chain(own_path, resources(pids={"limit": 9}))),
    Case(
        C,
        "cgroupsPath relative",
        "grep -c pids: /proc/self/cgroup",
        edit=set_path("linux.cgroupsPath", f"{PARENT}/rel-{uuid.uuid4().hex[:6]}"),
    ),
    Case(C, "the container's own cgroup in /proc/self/cgroup", "grep -c :/ /proc/self/cgroup"),
    Case(U, "pids limit", steps=updated("--pids-limit", "20", files=PIDS), edit=SLEEP, refs=RUNC),
    Case(
        U,
        "pids limit -1",
        steps=updated("--pids-limit", "-1", files=PIDS),
        edit=chain(SLEEP, resources(pids={"limit": 10})),
        refs=RUNC,
    ),
    Case(U, "memory", steps=updated("--memory", "64M", files=MEM), edit=SLEEP, refs=RUNC),
    Case(U, "memory in bytes", steps=updated("--memory", "67108864", files=MEM), edit=SLEEP, refs=RUNC),
    Case(
        U,
        "memory and swap",
        steps=updated("--memory", "64M", "--memory-swap", "128M", files=MEMSW),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "memory -1 while a swap limit is set",
        steps=updated("--memory", "-1", files=MEMSW),
        edit=chain(SLEEP, resources(memory={"limit": 64 << 20, "swap": 128 << 20})),
        refs=RUNC,
    ),
    Case(
        U,
        "memory and swap -1 while both are set",
        steps=updated("--memory", "-1", "--memory-swap", "-1", files=MEMSW),
        edit=chain(SLEEP, resources(memory={"limit": 64 << 20, "swap": 128 << 20})),
        refs=RUNC,
    ),
    Case(
        U,
        "memory below the swap limit",
        steps=updated("--memory", "32M", files=MEMSW),
        edit=chain(SLEEP, resources(memory={"limit": 64 << 20, "swap": 128 << 20})),
        refs=RUNC,
    ),
    Case(
        U,
        "memory above the swap limit",
        steps=updated("--memory", "256M", files=MEMSW),
        edit=chain(SLEEP, resources(memory={"limit": 64 << 20, "swap": 128 << 20})),
        refs=RUNC,
    ),
    Case(
        U,
        "memory reservation",
        steps=updated("--memory-reservation", "16M", files=(("memory", "memory.soft_limit_in_bytes"),)),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "cpu quota and period",
        steps=updated("--cpu-quota", "30000", "--cpu-period", "60000", files=QUOTA),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "cpu period below the quota",
        steps=updated("--cpu-period", "20000", files=QUOTA),
        edit=chain(SLEEP, resources(cpu={"quota": 50000, "period": 100000})),
        refs=RUNC,
    ),
    Case(
        U,
        "cpu quota -1",
        steps=updated("--cpu-quota", "-1", files=QUOTA),
        edit=chain(SLEEP, resources(cpu={"quota": 50000, "period": 100000})),
        refs=RUNC,
    ),
    Case(
        U,
        "a smaller period and quota under a parent's limit",
        steps=updated("--cpu-quota", "25000", "--cpu-period", "50000", files=QUOTA),
        edit=chain(SLEEP, under_limited_parent, resources(cpu={"quota": 50000, "period": 100000})),
        refs=RUNC,
    ),
    Case(
        C,
        "quota and period under a parent's limit",
        steps=created(*QUOTA),
        edit=chain(SLEEP, under_limited_parent, resources(cpu={"quota": 20000, "period": 50000})),
    ),
    Case(
        C,
        "a quota over a parent's limit",
        "true",
        edit=chain(under_limited_parent, resources(cpu={"quota": 90000, "period": 100000})),
    ),
    Case(U, "cpu shares", steps=updated("--cpu-share", "256", files=(("cpu", "cpu.shares"),)), edit=SLEEP, refs=RUNC),
    Case(
        U,
        "cpuset",
        steps=updated(
            "--cpuset-cpus", "0", "--cpuset-mems", "0", files=(("cpuset", "cpuset.cpus"), ("cpuset", "cpuset.mems"))
        ),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "cpu realtime",
        steps=updated(
            "--cpu-rt-period",
            "500000",
            "--cpu-rt-runtime",
            "2000",
            files=(("cpu", "cpu.rt_runtime_us"), ("cpu", "cpu.rt_period_us")),
        ),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "resources from stdin",
        steps=updated(
            "-r", "-", files=PIDS + MEM, stdin=json.dumps({"pids": {"limit": 33}, "memory": {"limit": 50 << 20}})
        ),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U, "resources JSON that is no JSON", steps=updated("-r", "-", files=PIDS, stdin="{nope"), edit=SLEEP, refs=RUNC
    ),
    Case(U, "memory value that is no size", steps=updated("--memory", "lots", files=MEM), edit=SLEEP, refs=RUNC),
    Case(
        U,
        "twice: the second sees the first",
        steps=updated("--memory", "32M", files=MEM, before=("--pids-limit", "40")),
        edit=SLEEP,
        refs=RUNC,
    ),
    Case(
        U,
        "a stopped container",
        steps=update_stopped,
        script="true",
        refs=RUNC,
    ),
    Case(U, "an unknown container", steps=lambda s: s.obs("update", "--pids-limit", "5", "no-such-" + s.id), refs=RUNC),
]
