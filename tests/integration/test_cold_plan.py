"""A cold plan (no planner, plan cache empty) is built in a forked child (pyrt/planning/in_child.py): the `run` that
waits for its container holds none of what planning loads, and the container is the same."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from tests.conftest import PYRT, Runtime, busybox_config

PROBE = "grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; unshare --user true 2>&1; echo ready; read x"


def foreground_run(rt: Runtime, bundle: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """(what the container printed, the waiting pyrt's /proc/PID/maps, its stderr)."""
    cid = rt.new_id()
    err = rt.tmp / f"stderr-{cid}"
    with open(err, "w") as errfh:
        proc = subprocess.Popen([str(PYRT), "--root", str(rt.root), "run", "-b", str(bundle), cid],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errfh, text=True, env=env)
        try:
            assert proc.stdout is not None and proc.stdin is not None
            lines = []
            while (line := proc.stdout.readline()) and line != "ready\n":
                lines.append(line)
            with open(f"/proc/{proc.pid}/maps") as fh:  # the container is running: pyrt waits for it
                maps = fh.read()
            proc.stdin.write("\n")
            proc.stdin.close()
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return "".join(lines), maps, err.read_text()


def test_the_waiting_run_holds_no_planning(rt: Runtime, tmp_path: Path) -> None:
    cfg = busybox_config()  # the demo profile: a cold plan compiles it with libseccomp
    assert cfg["linux"].get("seccomp")
    bundle = rt.bundle(cfg, args=["sh", "-c", PROBE])
    out = {}
    for how in ("child", "fallback"):
        env = dict(os.environ, PYRT_CACHE_DIR=str(tmp_path / f"cache-{uuid.uuid4().hex[:6]}"),
                   PYRT_PLANNER_SOCKET=str(tmp_path / "no-planner.sock"))
        if how == "fallback":
            env["PYRT_FAULT"] = "planning-child"  # the child dies before it answers: the caller plans
        printed, maps, stderr = foreground_run(rt, bundle, env)
        out[how] = printed
        if how == "child":
            assert "libseccomp" not in maps and stderr == ""
        else:
            assert "libseccomp" in maps  # what the child spared the caller
            assert "planning child was killed by signal 9" in stderr and "planned without a child" in stderr
    assert "Seccomp:\t2" in out["child"] and "Operation not permitted" in out["child"]
    assert out["child"] == out["fallback"]


def test_a_bad_config_is_one_line_from_the_child(rt: Runtime, tmp_path: Path) -> None:
    cfg = busybox_config()
    cfg["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_NOPE"
    res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id(),
             env=dict(os.environ, PYRT_CACHE_DIR=str(tmp_path / "cache"),
                      PYRT_PLANNER_SOCKET=str(tmp_path / "no-planner.sock")))
    assert res.returncode == 1
    assert res.stderr == "pyrt: linux.seccomp.syscalls[0].action: unknown action 'SCMP_ACT_NOPE'\n"


def test_exec_plans_a_new_process_file_apart_with_the_same_result(rt: Runtime, tmp_path: Path) -> None:
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "1000"])), cid, check=True)
    try:
        proc = busybox_config()["process"]
        proc["args"] = ["sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; id"]
        out = {}
        for how in ("child", "fallback"):
            env = dict(os.environ, PYRT_CACHE_DIR=str(tmp_path / f"cache-{how}"),
                       PYRT_PLANNER_SOCKET=str(tmp_path / "no-planner.sock"))
            if how == "fallback":
                env["PYRT_FAULT"] = "planning-child"
            (tmp_path / "p.json").write_text(json.dumps(proc))
            res = rt("exec", "--process", str(tmp_path / "p.json"), cid, env=env)
            assert res.returncode == 0, res.stderr
            out[how] = res.stdout
            assert ("planned without a child" in res.stderr) == (how == "fallback"), res.stderr
        assert "Seccomp:\t2" in out["child"] and out["child"] == out["fallback"]
    finally:
        rt("delete", "--force", cid, check=True)
