"""`pyrt run --seccomp-record FILE`: record a workload, replay it under what was recorded.

The workload is tests/probe/call.c, a static binary that makes exactly the syscalls it is
told to (bind-mounted at /probe/call), or busybox's sh.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Runtime, busybox_config, reap

SOCKET, CLONE, PERSONALITY, SYSINFO, UNAME, GETPRIORITY = 41, 56, 135, 99, 63, 140
SIGCHLD, CLONE_NEWUTS = 0x11, 0x04000000
EPERM = 1


@pytest.fixture(scope="module")
def call_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("call")
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out / "call"), str(ROOT / "tests" / "probe" / "call.c")],
                   check=True)
    return out


def config(call_dir: Path | None, args: list[str], nnp: bool = True) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["process"]["args"] = args
    cfg["process"]["noNewPrivileges"] = nnp
    if call_dir is not None:
        cfg["mounts"].append({"destination": "/probe", "type": "bind", "source": str(call_dir),
                              "options": ["rbind", "ro"]})
    return cfg


def calls(*groups: tuple[Any, ...]) -> list[str]:
    args = ["/probe/call"]
    for i, group in enumerate(groups):
        args += (["--"] if i else []) + [str(g) for g in group]
    return args


def record(rt: Runtime, cfg: dict[str, Any], profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    res = rt("run", "--seccomp-record", str(profile), *extra, "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 0, res.stderr
    return res


def replay(rt: Runtime, cfg: dict[str, Any], profile: Path) -> subprocess.CompletedProcess[str]:
    return rt("run", "--security-opt", f"seccomp={profile}", "-b", str(rt.bundle(cfg)), rt.new_id())


def results(stdout: str) -> dict[str, int]:
    """'41 ret=3 errno=0' lines -> {"41": errno}; 'fork 99 exit=E' -> {"fork 99": E}."""
    out = {}
    for line in stdout.splitlines():
        head, _, last = line.rpartition(" ")
        key = head.split(" ret=")[0]
        out[key] = int(last.split("=")[1])
    return out


def entries(profile: Path, kind: str) -> list[dict[str, Any]]:
    data = json.loads(profile.read_text())
    return [e for e in data["syscalls"] if e.get("comment", "").startswith(f"pyrt-record: {kind}")]


def test_a_recorded_workload_replays_and_what_it_never_called_is_denied(rt: Runtime, tmp_path: Path) -> None:
    profile = tmp_path / "sh.json"
    workload = config(None, ["sh", "-c", "echo hi; ls / | wc -l"])
    first = record(rt, workload, profile)
    assert "seccomp-record:" in first.stderr and str(profile) in first.stderr
    data = json.loads(profile.read_text())
    assert data["defaultAction"] == "SCMP_ACT_ERRNO" and data["defaultErrnoRet"] == 1
    assert data["archMap"][0]["architecture"] == "SCMP_ARCH_X86_64"
    names = set(entries(profile, "workload")[0]["names"])
    assert {"execve", "write", "getdents64", "wait4"} <= names
    assert "unshare" not in names
    again = replay(rt, workload, profile)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    denied = replay(rt, config(None, ["unshare", "--user", "true"]), profile)
    assert denied.returncode == 1
    assert "Operation not permitted" in denied.stderr


def test_argument_rules_are_recorded_and_enforced(rt: Runtime, tmp_path: Path, call_binary: Path) -> None:
    profile = tmp_path / "args.json"
    record(rt, config(call_binary, calls((SOCKET, 1, 1, 0), (SOCKET, 2, 2, 0), (CLONE, SIGCHLD),
                                         (PERSONALITY, 0xFFFFFFFF))), profile)
    sockets = entries(profile, "socket")
    assert sorted(e["args"][0]["value"] for e in sockets) == [1, 2]
    assert all(e["args"][0]["op"] == "SCMP_CMP_EQ" and e["names"] == ["socket"] for e in sockets)
    (clone,) = entries(profile, "clone:")
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    assert [e["args"][0]["value"] for e in entries(profile, "personality")] == [0xFFFFFFFF]
    (clone3,) = entries(profile, "clone3")
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38
    probes = calls((SOCKET, 1, 1, 0), (SOCKET, 10, 2, 0), (SOCKET, 2, 2, 0), (CLONE, SIGCHLD),
                   (CLONE, CLONE_NEWUTS | SIGCHLD), (PERSONALITY, 0xFFFFFFFF), (PERSONALITY, 8))
    cfg = config(call_binary, probes)
    for kind in ("bounding", "effective", "permitted"):  # so that only the filter can refuse clone(NEWUTS)
        cfg["process"]["capabilities"][kind].append("CAP_SYS_ADMIN")
    unconfined = rt("run", "--security-opt", "seccomp=unconfined", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert [int(line.rsplit("errno=", 1)[1]) for line in unconfined.stdout.splitlines()] == [0] * 7
    res = replay(rt, cfg, profile)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    errnos = [int(line.rsplit("errno=", 1)[1]) for line in lines]
    # AF_UNIX ok, AF_INET6 denied, AF_INET ok, plain clone ok, clone with NEWUTS denied, persona query ok,
    # PER_LINUX32 denied
    assert errnos == [0, EPERM, 0, 0, EPERM, 0, EPERM], lines


def test_merging_two_runs_covers_both_workloads(rt: Runtime, tmp_path: Path, call_binary: Path) -> None:
    profile = tmp_path / "merged.json"
    a = config(call_binary, calls((GETPRIORITY, 0, 0)))
    b = config(call_binary, calls((SYSINFO, 0)))
    record(rt, a, profile)
    record(rt, b, profile, "--seccomp-record-merge")
    names = set(entries(profile, "workload")[0]["names"])
    assert {"getpriority", "sysinfo"} <= names
    assert results(replay(rt, a, profile).stdout) == {str(GETPRIORITY): 0}
    assert results(replay(rt, b, profile).stdout) == {str(SYSINFO): 14}  # EFAULT: allowed, ran, bad pointer
    record(rt, b, profile)  # without the flag: replaced
    assert "getpriority" not in set(entries(profile, "workload")[0]["names"])
    assert results(replay(rt, a, profile).stdout) == {str(GETPRIORITY): EPERM}


def test_a_forked_childs_calls_are_recorded(rt: Runtime, tmp_path: Path, call_binary: Path) -> None:
    profile = tmp_path / "fork.json"
    workload = config(call_binary, calls(("fork", SYSINFO, 0)))
    record(rt, workload, profile)
    assert "sysinfo" in entries(profile, "workload")[0]["names"]
    assert results(replay(rt, workload, profile).stdout) == {f"fork {SYSINFO}": 14}


def test_recording_starts_before_the_capability_drop_without_no_new_privs(rt: Runtime, tmp_path: Path) -> None:
    profile = tmp_path / "nnp.json"
    workload = config(None, ["true"], nnp=False)
    record(rt, workload, profile)
    runtime = set(entries(profile, "runtime")[0]["names"])
    assert {"capset", "execve"} <= runtime | set(entries(profile, "workload")[0]["names"])
    assert replay(rt, workload, profile).returncode == 0


def test_a_container_killed_mid_recording_leaves_a_valid_profile(rt: Runtime, tmp_path: Path) -> None:
    profile = tmp_path / "killed.json"
    cid = rt.new_id()
    bundle = rt.bundle(config(None, ["sh", "-c", "echo started; exec sleep 100"]))
    out = tmp_path / "out"
    with open(out, "w") as fh:
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "pyrt"), "--root", str(rt.root), "run",
                                 "--seccomp-record", str(profile), "-b", str(bundle), cid], stdout=fh, stderr=fh)
    try:
        deadline = time.monotonic() + 20
        while "started" not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        time.sleep(0.2)  # sleep is in nanosleep by now
        refused = rt("exec", cid, "true")
        assert refused.returncode == 255  # exec's own failures, as runc
        assert "while it is recorded" in refused.stderr and len(refused.stderr.splitlines()) == 1
        rt("kill", cid, "KILL", check=True)
        assert proc.wait(30) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reap()
    names = set(entries(profile, "workload")[0]["names"])
    assert {"execve", "write"} <= names
    assert names & {"nanosleep", "clock_nanosleep"}
    assert not list(tmp_path.glob(".killed.json*")), "a temporary file was left beside the profile"


@pytest.mark.parametrize("extra, message", [
    (["--detach"], "needs a foreground run"),
    (["--security-opt", "seccomp=unconfined"], "cannot be combined with --security-opt"),
    (["--seccomp-record-merge"], "not valid JSON"),
])
def test_refused_before_anything_starts(rt: Runtime, tmp_path: Path, extra: list[str], message: str) -> None:
    profile = tmp_path / "bad.json"
    profile.write_text("{not json")
    res = rt("run", "--seccomp-record", str(profile), *extra, "-b", str(rt.bundle(config(None, ["true"]))),
             rt.new_id())
    assert res.returncode == 1
    assert message in res.stderr and len(res.stderr.splitlines()) == 1, res.stderr
    assert profile.read_text() == "{not json"


def test_merge_refuses_a_profile_pyrt_did_not_record(rt: Runtime, tmp_path: Path) -> None:
    profile = tmp_path / "docker.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}))
    res = rt("run", "--seccomp-record", str(profile), "--seccomp-record-merge", "-b",
             str(rt.bundle(config(None, ["true"]))), rt.new_id())
    assert res.returncode == 1
    assert "not a profile written by pyrt run --seccomp-record" in res.stderr
    assert len(res.stderr.splitlines()) == 1


def test_a_record_target_in_a_missing_directory_is_refused(rt: Runtime, tmp_path: Path) -> None:
    res = rt("run", "--seccomp-record", str(tmp_path / "nowhere" / "p.json"), "-b",
             str(rt.bundle(config(None, ["true"]))), rt.new_id())
    assert res.returncode == 1
    assert "is not a directory" in res.stderr and len(res.stderr.splitlines()) == 1
