"""The mission's demo and Docker's --security-opt seccomp=... in real containers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root
UNSHARE = ["unshare", "--user", "sh", "-c", "id"]


def run(rt: Runtime, cfg: dict[str, Any], args: list[str], *opts: str) -> Any:
    return rt("run", *opts, "-b", str(rt.bundle(cfg, args=args)), rt.new_id())


def test_busybox_bundle_blocks_unshare_and_unconfined_lets_it_through(rt: Runtime) -> None:
    cfg = busybox_config()
    assert cfg["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"  # Docker's default profile
    res = run(rt, cfg, UNSHARE)
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == "unshare: unshare(0x10000000): Operation not permitted\n"
    res = run(rt, cfg, UNSHARE, "--security-opt", "seccomp=unconfined")
    assert (res.returncode, res.stdout) == (0, "uid=65534(nobody) gid=65534(nogroup)\n"), res.stderr


def test_clone_newuser_refused_while_fork_works(rt: Runtime) -> None:
    # unshare -f forks with clone(SIGCHLD) after the namespace: plain forks still work under the profile
    script = "sh -c 'echo child-ok'; unshare -f -p true 2>&1 | head -1"
    res = run(rt, busybox_config(), ["sh", "-c", script])
    assert res.stdout.splitlines() == ["child-ok", "unshare: unshare(0x20000000): Operation not permitted"]


def test_security_opt_default_on_a_config_without_seccomp(rt: Runtime) -> None:
    cfg = busybox_config()
    del cfg["linux"]["seccomp"]
    script = "grep Seccomp: /proc/self/status; unshare --user true 2>/dev/null || echo blocked"
    assert run(rt, cfg, ["sh", "-c", script]).stdout == "Seccomp:\t0\n"
    res = run(rt, cfg, ["sh", "-c", script], "--security-opt", "seccomp=default")
    assert res.stdout == "Seccomp:\t2\nblocked\n", res.stderr


def test_security_opt_is_rendered_for_the_containers_own_caps(rt: Runtime) -> None:
    cfg = busybox_config()
    del cfg["linux"]["seccomp"]
    for key in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][key].append("CAP_SYS_ADMIN")
    res = run(rt, cfg, ["sh", "-c", "unshare --user true && echo allowed"], "--security-opt", "seccomp=default")
    assert res.stdout == "allowed\n", res.stderr  # CAP_SYS_ADMIN in the bounding set includes unshare


def test_security_opt_files_docker_and_oci_format(rt: Runtime, tmp_path: Path) -> None:
    from pyrt.seccomp.docker_data import PROFILE

    docker: dict[str, Any] = json.loads(json.dumps(PROFILE))
    docker["syscalls"] = [s for s in docker["syscalls"]]
    docker["syscalls"][0]["names"] = [n for n in docker["syscalls"][0]["names"] if n not in ("mkdir", "mkdirat")]
    (tmp_path / "docker.json").write_text(json.dumps(docker))
    oci: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
                                                            "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
    (tmp_path / "oci.json").write_text(json.dumps(oci))
    script = "mkdir /dev/shm/d 2>&1; echo rc=$?"
    res = run(rt, busybox_config(), ["sh", "-c", script], "--security-opt", f"seccomp={tmp_path / 'docker.json'}")
    assert res.stdout == "mkdir: can't create directory '/dev/shm/d': Operation not permitted\nrc=1\n", res.stderr
    res = run(rt, busybox_config(), ["sh", "-c", script], "--security-opt", f"seccomp={tmp_path / 'oci.json'}")
    assert res.stdout == "mkdir: can't create directory '/dev/shm/d': Function not implemented\nrc=1\n"
    oci["syscalls"][0]["errnoRet"] = 95  # same path, new bytes: never a stale plan or BPF
    (tmp_path / "oci.json").write_text(json.dumps(oci))
    res = run(rt, busybox_config(), ["sh", "-c", script], "--security-opt", f"seccomp={tmp_path / 'oci.json'}")
    assert res.stdout == "mkdir: can't create directory '/dev/shm/d': Operation not supported\nrc=1\n"


@pytest.mark.parametrize("opt, expected", [
    ("apparmor=unconfined", "--security-opt: unsupported option 'apparmor=unconfined' (pyrt takes "
                              "seccomp=unconfined|default|FILE)"),
    ("seccomp=/nonexistent/profile.json", "--security-opt: /nonexistent/profile.json: No such file or directory"),
])
def test_security_opt_bad_input(rt: Runtime, opt: str, expected: str) -> None:
    res = rt("create", "--security-opt", opt, "-b", str(rt.bundle()), rt.new_id())
    assert res.returncode == 1 and res.stderr == f"pyrt: {expected}\n"


def test_security_opt_bad_profile_names_the_option(rt: Runtime, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"defaultAction": "SCMP_ACT_NOPE"}))
    res = rt("create", "--security-opt", f"seccomp={tmp_path / 'bad.json'}", "-b", str(rt.bundle()), rt.new_id())
    assert res.returncode == 1
    assert res.stderr.startswith(f"pyrt: --security-opt seccomp={tmp_path / 'bad.json'}: defaultAction: unknown")
