"""pyrt's cBPF interpreter agrees with the kernel, call by call.

The filter under test is Docker's default profile, rendered for Docker's 14 capabilities on
x86_64 (with its x86 and x32 sub-architectures) and compiled by libseccomp with pyrt's ENOSYS
stub.  For the kernel check, a *probe* version of it answers every rule with its own errno
(100 + rule index) and the default with 99, so a seccomp answer can never be mistaken for
the kernel's own EPERM, and no probed call ever reaches the kernel.  A static C program runs
each call in a fresh child under that filter, inside a pyrt container without capabilities;
the interpreter evaluates the same program for the same seccomp_data.  Destructive calls
(reboot, kexec, swap, modules) are judged only by the interpreter, on the real filter.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyrt.seccomp import bpf, profiles
from pyrt.seccomp.compiler import _compile
from pyrt.seccomp.tools import KERNEL_PASSTHROUGH_X86_64
from tests.conftest import ROOT, Runtime, busybox_config

pytestmark = pytest.mark.root
X64, X86 = bpf.AUDIT_ARCH["x86_64"], bpf.AUDIT_ARCH["x86"]
DESTRUCTIVE_64 = {169: "reboot", 246: "kexec_load", 320: "kexec_file_load", 167: "swapon", 168: "swapoff",
                  175: "init_module", 313: "finit_module", 176: "delete_module"}
DESTRUCTIVE_32 = {88: "reboot", 283: "kexec_load", 87: "swapon", 115: "swapoff", 128: "init_module",
                  350: "finit_module", 129: "delete_module"}
EXITS = {(64, 60), (64, 231), (32, 1), (32, 252)}  # the probe's own way out
SIGSYS = 31


@pytest.fixture(scope="module")
def probe_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("probe") / "probe"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(ROOT / "tests" / "probe" / "probe.c")], check=True)
    return out


def docker_section() -> dict[str, Any]:
    return profiles.render(profiles.docker_default(), profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64", (6, 18))


def probe_section(section: dict[str, Any]) -> dict[str, Any]:
    probe = copy.deepcopy(section)
    probe["defaultAction"], probe["defaultErrnoRet"] = "SCMP_ACT_ERRNO", 99
    for i, rule in enumerate(probe["syscalls"]):
        rule["action"], rule["errnoRet"] = "SCMP_ACT_ERRNO", 100 + i
    return probe


def exit_group_prefix() -> list[bpf.Insn]:
    """Let exit_group through (x86_64 and i386) so the probe's children can report."""
    return [
        (bpf.LD | bpf.W | bpf.ABS, 0, 0, 4),
        (bpf.JMP | bpf.JEQ | bpf.K, 0, 3, X64),
        (bpf.LD | bpf.W | bpf.ABS, 0, 0, 0),
        (bpf.JMP | bpf.JEQ | bpf.K, 4, 5, 231),
        (bpf.JMP | bpf.JA, 0, 0, 4),
        (bpf.JMP | bpf.JEQ | bpf.K, 0, 3, X86),
        (bpf.LD | bpf.W | bpf.ABS, 0, 0, 0),
        (bpf.JMP | bpf.JEQ | bpf.K, 0, 1, 252),
        (bpf.RET | bpf.K, 0, 0, bpf.RET_ALLOW),
    ]


def cases() -> list[tuple[int, int, tuple[int, ...]]]:
    out: list[tuple[int, int, tuple[int, ...]]] = []
    for nr in list(range(0, 470)) + [500, 1000]:
        out.append((64, nr, ()))
    for flag in [0, 0x20000, 0x2000000, 0x4000000, 0x8000000, 0x10000000, 0x20000000, 0x40000000, 0x80]:
        out.append((64, 56, (0x11 | flag,)))  # clone(flags)
    out += [(64, 41, (family, 1, 0)) for family in range(0, 46)]  # socket(family, SOCK_STREAM, 0)
    out += [(64, 135, (p,)) for p in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF, 0x400000, 1)]  # personality
    for nr in list(range(0, 450)) + [1000]:
        out.append((32, nr, ()))
    return out


def expected(prog: list[bpf.Insn], abi: int, nr: int, args: tuple[int, ...]) -> str:
    if abi == 64 and nr in KERNEL_PASSTHROUGH_X86_64:
        return "passthrough"
    ret, _ = bpf.run(prog, bpf.seccomp_data(nr, X64 if abi == 64 else X86, args))
    action = ret & bpf.RET_ACTION_FULL
    if action == bpf.RET_ERRNO:
        return f"errno={ret & bpf.RET_DATA}"
    if action in (bpf.RET_KILL_THREAD, bpf.RET_KILL_PROCESS, bpf.RET_TRAP):
        return f"signal={SIGSYS}"
    return f"unexpected {bpf.describe(ret)}"


def test_interpreter_agrees_with_the_kernel(rt: Runtime, probe_binary: Path, tmp_path: Path) -> None:
    probe = probe_section(docker_section())
    program = _compile(probe, "probe", [])["bpf"]
    prog = bpf.decode(program)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(probe_binary, work / "probe")
    (work / "filter.bpf").write_bytes(bpf.encode(exit_group_prefix()) + program)
    run_cases = [(abi, nr, args) for abi, nr, args in cases()
                 if (abi, nr) not in EXITS and nr not in (DESTRUCTIVE_64 if abi == 64 else DESTRUCTIVE_32)]
    (work / "cases").write_text("".join(f"{abi} {nr} {' '.join(str(a) for a in (args + (0,) * 6)[:6])}\n"
                                        for abi, nr, args in run_cases))
    cfg = busybox_config()
    del cfg["linux"]["seccomp"]
    cfg["process"]["capabilities"] = {}  # no capabilities at all, in fresh namespaces
    cfg["process"]["user"] = {"uid": 65534, "gid": 65534}
    cfg["mounts"].append({"destination": "/probe", "type": "bind", "source": str(work), "options": ["rbind", "ro"]})
    res = rt("run", "-b", str(rt.bundle(cfg, args=["/probe/probe", "/probe/filter.bpf", "/probe/cases"])),
             rt.new_id(), timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == len(run_cases)
    mismatches = []
    seen = set()
    for line, (abi, nr, args) in zip(lines, run_cases, strict=True):
        kernel = line.rsplit(" ", 1)[1]
        seen.add(kernel)
        interp = expected(prog, abi, nr, args)
        if interp == "passthrough":  # not filtered: the kernel's own answer, never one of the probe's
            if kernel in (f"errno={e}" for e in [38, *range(99, 140)]):
                mismatches.append(f"abi {abi} nr {nr}: the filter answered ({kernel}) a call the kernel passes")
            continue
        if kernel != interp:
            mismatches.append(f"abi {abi} nr {nr} args {args}: kernel {kernel}, interpreter {interp}")
    assert not mismatches, "\n".join(mismatches[:20])
    assert {"errno=99", "errno=100", "errno=38"} <= seen  # the default, the big allow list, the ENOSYS stub
    assert any(s.startswith("errno=1") and s != "errno=1" for s in seen)  # argument rules answered too


def test_destructive_calls_are_judged_by_the_interpreter_only() -> None:
    prog = bpf.decode(_compile(docker_section(), "linux.seccomp", [])["bpf"])
    for nr, name in DESTRUCTIVE_64.items():
        assert expected(prog, 64, nr, ()) == "errno=1", name  # EPERM: Docker's default denies them all
    for nr, name in DESTRUCTIVE_32.items():
        assert expected(prog, 32, nr, ()) == "errno=1", name


def test_real_filter_verdicts_for_the_demo_calls() -> None:
    prog = bpf.decode(_compile(docker_section(), "linux.seccomp", [])["bpf"])
    assert expected(prog, 64, 272, ()) == "errno=1"  # unshare
    assert expected(prog, 32, 310, ()) == "errno=1"  # i386 unshare
    assert expected(prog, 64, 56, (0x10000011,)) == "errno=1"  # clone(CLONE_NEWUSER)
    assert expected(prog, 64, 435, ()) == "errno=38"  # clone3: ENOSYS
    assert expected(prog, 64, 462, ()) == "errno=38"  # mseal: newer than libseccomp, the stub answers
    assert json.dumps(bpf.describe(bpf.run(prog, bpf.seccomp_data(0, bpf.AUDIT_ARCH["aarch64"]))[0])) == \
        '"KILL_THREAD"'


def test_clone_newuser_refused_and_plain_fork_allowed_by_the_real_filter(rt: Runtime, probe_binary: Path,
                                                                         tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(probe_binary, work / "probe")
    (work / "filter.bpf").write_bytes(_compile(docker_section(), "linux.seccomp", [])["bpf"])
    # clone(flags, stack=0): the child returns 0 and exits at once through the probe's exit_group
    (work / "cases").write_text("64 56 268435473 0 0 0 0 0\n64 56 17 0 0 0 0 0\n64 435 0 0 0 0 0 0\n")
    cfg = busybox_config()
    del cfg["linux"]["seccomp"]
    cfg["process"]["capabilities"] = {}
    cfg["mounts"].append({"destination": "/probe", "type": "bind", "source": str(work), "options": ["rbind", "ro"]})
    res = rt("run", "-b", str(rt.bundle(cfg, args=["/probe/probe", "/probe/filter.bpf", "/probe/cases"])),
             rt.new_id())
    assert res.returncode == 0, res.stderr
    verdicts = [line.rsplit(" ", 1)[1] for line in res.stdout.splitlines()]
    assert verdicts == ["errno=1", "errno=0", "errno=38"]  # CLONE_NEWUSER: EPERM; fork: works; clone3: ENOSYS
