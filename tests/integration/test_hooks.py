"""OCI hooks: when, where (namespaces), what they read (state on stdin), and how failures end."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root
LOGGER = """#!/bin/sh
# args: NAME EXIT [SLEEP]; appends: NAME mnt-ns stdin
[ -n "$3" ] && sleep "$3"
printf '%s %s %s\\n' "$1" "$(readlink /proc/self/ns/mnt)" "$(cat)" >> {log}
echo "hook $1 says goodbye" >&2
exit "$2"
"""


@pytest.fixture
def hook_env(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "hooks.log"
    script = tmp_path / "hook.sh"
    script.write_text(LOGGER.format(log=log))
    script.chmod(0o755)
    return script, log


def entries(log: Path) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        name, ns, state = line.split(" ", 2)
        out.append((name, ns, json.loads(state)))
    return out


def config(script: Path, fail: str = "", timeout: dict[str, int] | None = None,
           sleep: dict[str, str] | None = None) -> dict[str, Any]:
    cfg = busybox_config()
    cfg["annotations"] = {"org.example": "hooked"}
    cfg["hooks"] = {}
    for phase in ("prestart", "createRuntime", "createContainer", "poststart", "poststop"):
        hook: dict[str, Any] = {"path": str(script), "args": ["hook.sh", phase, "1" if phase == fail else "0",
                                                              *(([sleep[phase]]) if sleep and phase in sleep
                                                                else [])],
                                "env": ["PATH=/bin:/usr/bin"]}
        if timeout and phase in timeout:
            hook["timeout"] = timeout[phase]
        cfg["hooks"][phase] = [hook]
    return cfg


def test_order_namespaces_and_state(rt: Runtime, hook_env: tuple[Path, Path]) -> None:
    script, log = hook_env
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(config(script), args=["true"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    got = entries(log)
    assert [e[0] for e in got] == ["prestart", "createRuntime", "createContainer"]
    host_mnt, container_mnt = os.readlink("/proc/self/ns/mnt"), os.readlink(f"/proc/{pid}/ns/mnt")
    assert [e[1] for e in got] == [host_mnt, host_mnt, container_mnt]
    for _name, _ns, state in got:
        assert state == {"ociVersion": "1.0.2-dev", "id": cid, "status": "creating", "pid": pid,
                         "bundle": state["bundle"], "annotations": {"org.example": "hooked"}}
        assert state["bundle"].startswith("/")
    rt("start", cid, check=True)
    assert entries(log)[3][0] == "poststart" and entries(log)[3][2]["status"] == "running"
    rt.wait_status(cid, "stopped")
    rt("delete", cid, check=True)
    last = entries(log)[-1]
    assert last[0] == "poststop" and last[1] == host_mnt and last[2]["status"] == "stopped"


def test_start_container_hook_runs_inside_before_the_program(rt: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]})
    cfg["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo $$ > /out/sc; cat > /out/st"]}]}
    res = rt("run", "-b", str(rt.bundle(cfg, args=["sh", "-c", "test -e /out/sc && echo hook-first"])), rt.new_id())
    assert (res.returncode, res.stdout) == (0, "hook-first\n"), res.stderr
    assert json.loads((out / "st").read_text())["status"] == "created"


@pytest.mark.parametrize("phase", ["prestart", "createRuntime", "createContainer"])
def test_a_failing_create_hook_fails_create_and_runs_poststop(rt: Runtime, hook_env: tuple[Path, Path],
                                                              phase: str) -> None:
    script, log = hook_env
    cid = rt.new_id()
    res = rt("create", "-b", str(rt.bundle(config(script, fail=phase), args=["true"])), cid)
    assert res.returncode == 1
    assert res.stderr == f"pyrt: hooks.{phase}[0]: {script} exited with status 1: hook {phase} says goodbye\n"
    assert [e[0] for e in entries(log)][-1] == "poststop"
    assert rt("state", cid).returncode == 1


def test_a_failed_create_leaves_no_pid_file_and_an_old_one_as_it_was(rt: Runtime, tmp_path: Path) -> None:
    """--pid-file is written as soon as init's pid is known (while init builds its rootfs), so a create
    that fails after that removes it; a file that was there is only replaced by a create that succeeds."""
    seen = tmp_path / "seen"

    def bundle(pid_file: Path, fail: bool) -> str:
        cfg = busybox_config()
        cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": [
            "sh", "-c", f"cat {pid_file} > {seen} 2>&1; exit {1 if fail else 0}"]}]}
        return str(rt.bundle(cfg, args=["true"]))

    fresh = tmp_path / "fresh.pid"
    res = rt("create", "--pid-file", str(fresh), "-b", bundle(fresh, True), rt.new_id())
    assert res.returncode == 1 and "hooks.createRuntime[0]" in res.stderr
    assert seen.read_text().strip().isdigit()  # there while the hook ran: written early, then removed
    assert not fresh.exists() and [p.name for p in tmp_path.iterdir() if "pid" in p.name] == []
    old = tmp_path / "old.pid"
    old.write_text("4242\n")
    res = rt("create", "--pid-file", str(old), "-b", bundle(old, True), rt.new_id())
    assert res.returncode == 1 and old.read_text() == "4242\n" == seen.read_text()
    cid = rt.new_id()
    rt("create", "--pid-file", str(old), "-b", bundle(old, False), cid, check=True)
    assert int(old.read_text()) == rt.state(cid)["pid"]
    rt("delete", "--force", cid, check=True)


def test_a_failing_poststart_stops_and_destroys(rt: Runtime, hook_env: tuple[Path, Path]) -> None:
    script, log = hook_env
    cid = rt.new_id()
    rt("create", "-b", str(rt.bundle(config(script, fail="poststart"), args=["sleep", "60"])), cid, check=True)
    pid = rt.state(cid)["pid"]
    res = rt("start", cid)
    assert res.returncode == 1 and res.stderr.startswith("pyrt: hooks.poststart[0]: ")
    assert rt("state", cid).returncode == 1
    assert not Path(f"/proc/{pid}/cmdline").exists() or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    assert [e[0] for e in entries(log)][-2:] == ["poststart", "poststop"]


def test_a_failing_poststop_only_warns(rt: Runtime, hook_env: tuple[Path, Path], tmp_path: Path) -> None:
    script, log = hook_env
    cfg = config(script, fail="poststop")
    cfg["hooks"]["poststop"].append({"path": str(script), "args": ["hook.sh", "poststop-2", "0"]})
    res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
    assert res.returncode == 0
    assert "pyrt: warning: hooks.poststop[0]: " in res.stderr
    assert [e[0] for e in entries(log)][-2:] == ["poststop", "poststop-2"]


def test_hook_timeout(rt: Runtime, hook_env: tuple[Path, Path]) -> None:
    script, _log = hook_env
    cfg = config(script, timeout={"prestart": 1}, sleep={"prestart": "5"})
    res = rt("create", "-b", str(rt.bundle(cfg, args=["true"])), rt.new_id())
    assert res.returncode == 1 and res.stderr == "pyrt: hooks.prestart[0]: timed out after 1 s\n"


def test_missing_hook_binary(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["hooks"] = {"prestart": [{"path": "/proc/999999/exe", "args": ["libnetwork-setkey"]}]}
    res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 1
    assert res.stderr.startswith("pyrt: hooks.prestart[0]: /proc/999999/exe exited with status 127: cannot run")


def test_bad_hook_definitions(rt: Runtime) -> None:
    for hook, expected in (({"path": "relative"}, "hooks.prestart[0].path: must be an absolute path"),
                           ({"path": "/bin/true", "timeout": 0}, "hooks.prestart[0].timeout: 0 is out of range"),
                           ({"args": []}, "hooks.prestart[0].path: required")):
        cfg = busybox_config()
        cfg["hooks"] = {"prestart": [hook]}
        res = rt("create", "-b", str(rt.bundle(cfg)), rt.new_id())
        assert res.returncode == 1 and res.stderr.startswith(f"pyrt: {expected}"), res.stderr


def test_run_shows_creating_to_a_create_hook_that_asks(rt: Runtime, tmp_path: Path) -> None:
    """run writes the "created" record early, while init builds its rootfs, but not when hooks run then:
    a hook that asks `pyrt state` must see "creating" (the runtime spec's status during create)."""
    from tests.conftest import PYRT

    cid, seen = rt.new_id(), tmp_path / "seen"
    script = tmp_path / "ask.sh"
    script.write_text(f"#!/bin/sh\n{PYRT} --root {rt.root} state {cid} >> {seen}\n")
    script.chmod(0o755)
    cfg = busybox_config()
    cfg["hooks"] = {phase: [{"path": str(script)}] for phase in ("prestart", "createRuntime")}
    res = rt("run", "-b", str(rt.bundle(cfg, args=["true"])), cid)
    assert (res.returncode, res.stderr) == (0, "")
    states = [json.loads(part) for part in seen.read_text().replace("}\n{", "}\0{").split("\0")]
    assert [s["status"] for s in states] == ["creating", "creating"]


@pytest.mark.parametrize("signal_name", ["TERM", "HUP"])
def test_a_signal_to_a_foreground_run_while_init_is_built(rt: Runtime, tmp_path: Path, signal_name: str) -> None:
    """From the moment init's pid is known, `run` forwards signals to it; one that arrives while a
    create-time hook runs reaches init before its program exists, which (pid 1 of its namespace, with no
    handler) does not die of it: the container runs and is cleaned up, as with runc 1.1.5 (measured:
    the same output and exit status), instead of pyrt dying mid-create."""
    import signal
    import subprocess
    import time

    from tests.conftest import PYRT

    started = tmp_path / "started"
    script = tmp_path / "slow.sh"
    script.write_text(f"#!/bin/sh\ntouch {started}\nsleep 0.5\n")
    script.chmod(0o755)
    cfg = busybox_config()
    cfg["hooks"] = {"createRuntime": [{"path": str(script)}]}
    cid = rt.new_id()
    proc = subprocess.Popen([str(PYRT), "--root", str(rt.root), "run", "-b",
                             str(rt.bundle(cfg, args=["echo", "program ran"])), cid],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not started.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the hook never ran"
        time.sleep(0.01)
    proc.send_signal(getattr(signal, f"SIG{signal_name}"))
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out, err) == (0, "program ran\n", "")
    assert rt("state", cid).returncode == 1  # deleted: the fixture checks cgroups and mounts too
