"""linux.seccomp from engine configs: loaded on both no_new_privs paths, and it is enforced."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROOTFS, SHARED, Runtime

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")]


def docker_config(nnp: bool) -> dict[str, object]:
    cfg: dict[str, Any] = json.loads((SHARED / "engines" / "docker-runc-run-rm.config.json").read_text())
    cfg["root"]["path"] = str(ROOTFS)
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "bind"]
    cfg.pop("hooks", None)
    if nnp:
        cfg["process"]["noNewPrivileges"] = True
    return cfg


@pytest.mark.parametrize("nnp", [False, True], ids=["nnp-unset-like-docker", "nnp-true"])
def test_docker_profile_is_loaded_and_blocks_unshare(rt: Runtime, nnp: bool) -> None:
    script = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; unshare --user true 2>&1; echo rc=$?"
    res = rt("run", "-b", str(rt.bundle(docker_config(nnp), args=["sh", "-c", script])), rt.new_id())
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["NoNewPrivs:", "1" if nnp else "0"]
    assert lines[1].split() == ["Seccomp:", "2"]
    assert lines[2] == "unshare: unshare(0x10000000): Operation not permitted"
    assert lines[3] == "rc=1"


def test_unconfined_config_lets_unshare_through(rt: Runtime) -> None:
    cfg = json.loads((SHARED / "engines" / "docker-runc-seccomp-unconfined.config.json").read_text())
    cfg["root"]["path"] = str(ROOTFS)
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "bind"]
    cfg.pop("hooks", None)
    cfg["process"]["capabilities"] = {k: ["CAP_SYS_ADMIN"] for k in ("bounding", "effective", "permitted")}
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "unshare --user true && echo ok"])), rt.new_id())
    assert (res.returncode, res.stdout) == (0, "ok\n"), res.stderr


def test_errno_and_argument_rules(rt: Runtime) -> None:
    from tests.conftest import busybox_config

    cfg = busybox_config()
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_ERRNO"},
        ],
    }
    script = "mkdir /tmp/x 2>&1; kill -USR1 $$ 2>/dev/null || echo usr1-denied; kill -0 $$ && echo sig0-allowed"
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", script])), rt.new_id())
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0] == "mkdir: can't create directory '/tmp/x': Function not implemented"
    assert out[1:] == ["usr1-denied", "sig0-allowed"]


@pytest.mark.parametrize("mutate, expected", [
    (lambda s: s.update(defaultAction="SCMP_ACT_NOPE"), "linux.seccomp.defaultAction: unknown action"),
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_FOO"), "linux.seccomp.syscalls[0].action: unknown action"),
    (lambda s: s["syscalls"][0].update(args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range"),
    (lambda s: s["syscalls"][0].update(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]),
     "linux.seccomp.syscalls[0].args[0].op: unknown operator"),
    (lambda s: s.update(architectures=["SCMP_ARCH_Z80"]), "linux.seccomp.architectures[0]: unknown architecture"),
    (lambda s: s["syscalls"][0].update(name="x"), 'linux.seccomp.syscalls[0]: has both "name" and "names"'),
    (lambda s: s.update(flags=["SECCOMP_FILTER_FLAG_NOPE"]), "linux.seccomp.flags[0]: unknown or unsupported"),
])
def test_bad_profiles_fail_before_anything_runs(rt: Runtime, mutate: object, expected: str) -> None:
    from tests.conftest import busybox_config

    cfg = busybox_config()
    section = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    mutate(section)  # type: ignore[operator]
    cfg["linux"]["seccomp"] = section
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {expected}"), res.stderr
    assert len(res.stderr.splitlines()) == 1
