"""The hot commands stay cheap: what `state`, `start`, `kill`, `delete`, `list`, `exec` and `run` import.

Imports are dear on this machine (json ~10 ms through re and enum, typing ~18 ms, argparse ~12 ms,
attrs ~45 ms); one stray import on the hot path doubles `pyrt state`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest

from tests.conftest import ROOT, Runtime

HEAVY = {"json", "re", "enum", "typing", "argparse", "signal", "socket", "attrs", "attr", "pyseccomp", "pyroute2",
         "inspect", "subprocess", "ctypes", "_json",  # _json: fastjson escapes and scans strings itself
         "os", "posixpath", "_collections_abc"}  # os costs 2.3 ms: hot modules use pyrt.common.posixos


@pytest.mark.parametrize("argv", [["state", "x"], ["start", "x"], ["kill", "x", "KILL"], ["delete", "x"], ["list"],
                                  ["exec", "x", "true"]])
def test_hot_commands_import_nothing_heavy(argv: list[str], tmp_path: object) -> None:
    code = ("import sys\n"
            f"sys.path[:0] = [{str(ROOT)!r}]\n"
            "from pyrt.cli import main\n"
            f"main({['--root', str(tmp_path), *argv]!r})\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True).stdout
    loaded = set(out.split())
    assert not (HEAVY & loaded), f"{argv[0]} imports {sorted(HEAVY & loaded)}"


def test_a_warm_run_imports_no_planner(tmp_path: object) -> None:
    """With the plan cached, `run` needs neither attrs nor the planner nor pyseccomp (nor json/typing)."""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root: runs a container")
    from tests.conftest import BUSYBOX, ROOTFS

    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing")
    env = dict(os.environ, PYRT_CACHE_DIR=f"{tmp_path}/cache")
    for _ in range(2):  # the first run fills the plan cache, the second is the warm one
        loaded, _out, _err = _modules(["--root", str(tmp_path), "run", str(BUSYBOX)], env)
    heavy = {"attrs", "attr", "pyseccomp", "json", "typing", "re", "argparse",
             "ctypes",  # the syscall layer reaches libc through _ctypes (pyrt.linux.ffi): 3-4 ms less
             "resource",  # rlimits through prlimit64 in the syscall layer
             "os", "_collections_abc",  # pyrt.common.posixos instead
             *_pyrt_modules("pyrt.planning.plan", "pyrt.config.spec",
                            "pyrt.commands.running",  # update's table is in cli
                            "pyrt.executor.hooks")}  # the bundle has no hooks
    assert not (heavy & loaded), sorted(heavy & loaded)


def test_a_cold_run_served_by_the_planner_imports_no_planning(tmp_path: object) -> None:
    """A plan-cache miss answered by `pyrt planner` costs the CLI no attrs, pyseccomp, json or typing."""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root: runs a container and a planner")
    from tests.conftest import BUSYBOX, PYRT, ROOTFS

    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing")
    sock = f"{tmp_path}/planner/planner.sock"
    env = dict(os.environ, PYRT_CACHE_DIR=f"{tmp_path}/cache", PYRT_PLANNER_SOCKET=sock)
    assert subprocess.run([str(PYRT), "planner", "--detach"], env=env).returncode == 0
    try:
        loaded, _out, err = _modules(["--debug", "--root", str(tmp_path), "run", str(BUSYBOX)], env)
    finally:
        subprocess.run([str(PYRT), "planner", "--stop"], env=env)
        from tests.conftest import reap

        reap()
    assert "from the planner" in err, err
    heavy = {"attrs", "attr", "pyseccomp", "json", "typing", "re", "argparse", "os",
             *_pyrt_modules("pyrt.planning.plan", "pyrt.config.spec")}
    assert not (heavy & loaded), sorted(heavy & loaded)


def test_a_cold_plan_runs_no_ldconfig(tmp_path: object) -> None:
    """No planner, no cache: the CLI plans with pyseccomp, whose find_library calls went through
    ctypes.util (shutil, subprocess and two `ldconfig -p` runs: ~14 ms); pyrt.seccomp.binding avoids them."""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root: runs a container")
    from tests.conftest import BUSYBOX, ROOTFS, reap

    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing")
    env = dict(os.environ, PYRT_CACHE_DIR=f"{tmp_path}/cache", PYRT_PLANNER_SOCKET=f"{tmp_path}/no-planner.sock",
               PYRT_FAULT="planning-child")  # the forked planning child dies: this process plans (planning/in_child.py)
    try:
        loaded, _out, err = _modules(["--debug", "--root", str(tmp_path), "run", str(BUSYBOX)], env)
    finally:
        reap()
    assert "plan for" in err and "built" in err and "planned without a child" in err, err
    assert "pyseccomp" in loaded and not ({"subprocess", "ctypes.util", "shutil"} & loaded), \
        sorted({"subprocess", "ctypes.util", "shutil"} & loaded)


def test_a_cold_plan_leaves_the_cli_without_planning_modules(tmp_path: object) -> None:
    """No planner, no cache: the plan is built in a forked child (planning/in_child.py), so the CLI that forks the
    container and waits for it loads none of attrs, typing, pyseccomp or the spec model."""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root: runs a container")
    from tests.conftest import BUSYBOX, ROOTFS, reap

    if not ROOTFS.joinpath("bin", "busybox").exists():
        pytest.skip("bundles/busybox/rootfs is missing")
    env = dict(os.environ, PYRT_CACHE_DIR=f"{tmp_path}/cache", PYRT_PLANNER_SOCKET=f"{tmp_path}/no-planner.sock")
    try:
        loaded, _out, err = _modules(["--debug", "--root", str(tmp_path), "run", str(BUSYBOX)], env)
    finally:
        reap()
    assert "plan for" in err and "built" in err and "without a child" not in err, err
    heavy = {"attrs", "attr", "pyseccomp", "typing", "re",
             *_pyrt_modules("pyrt.planning.plan", "pyrt.config.spec", "pyrt.seccomp.compiler")}
    assert not (heavy & loaded), sorted(heavy & loaded)


def _pyrt_modules(*names: str) -> set[str]:
    """pyrt's modules a budget names, each checked to exist: after a rename, a budget naming the old
    module would otherwise pass whatever the command imports."""
    import importlib.util

    for name in names:
        assert importlib.util.find_spec(name) is not None, f"{name}: no such module (renamed?)"
    return set(names)


def test_budget_names_are_checked() -> None:
    with pytest.raises(AssertionError, match="no such module"):
        _pyrt_modules("pyrt.no_such_module")


def _modules(argv: list[str], env: dict[str, str] | None = None) -> tuple[set[str], str, str]:
    """The modules one CLI command loaded (in a fresh isolated interpreter with the launcher's paths),
    its stdout and its stderr; main() must return 0."""
    import sysconfig

    paths = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    code = ("import sys\n"
            f"sys.path[:0] = {paths!r}\n"
            "from pyrt.cli import main\n"
            f"assert main({argv!r}) == 0\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))\n")
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        # files, not pipes: a created container's init keeps the caller's stdio open until it starts
        res = subprocess.run([sys.executable, "-IS", "-c", code], stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=stderr, env=env, timeout=60)
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    assert res.returncode == 0, err
    line = next(line for line in out.splitlines() if line.startswith("MODULES"))
    return set(line.split()[1:]), out, err


def _command_modules(rt: Runtime, *argv: str) -> tuple[set[str], str]:
    """_modules of one command of rt's root, and its stdout."""
    loaded, out, _err = _modules(["--root", str(rt.root), *argv])
    return loaded, out


def test_state_of_a_running_container_imports_no_cgroups(rt: Runtime) -> None:
    """`state` and `kill` of a running container ask whether it is paused: the freezer module answers,
    not all of cgroups (~0.4 ms)."""
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "1000"])), cid, check=True)
    try:
        loaded, stdout = _command_modules(rt, "state", cid)
        assert '"status": "running"' in stdout
        assert "pyrt.linux.freezer" in loaded and not ({*_pyrt_modules("pyrt.linux.cgroups"), *HEAVY} & loaded), \
            sorted({*_pyrt_modules("pyrt.linux.cgroups"), *HEAVY} & loaded)
    finally:
        rt("delete", "--force", cid, check=True)


def test_delete_imports_no_cgroup_limits(rt: Runtime) -> None:
    """`delete` removes the cgroups: cgroupdirs answers, not cgroups.py with all its limits (~0.4 ms)."""
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["true"])), cid, check=True)
    rt.wait_status(cid, "stopped")
    loaded, _stdout = _command_modules(rt, "delete", cid)
    assert "pyrt.linux.cgroupdirs" in loaded and not ({*_pyrt_modules("pyrt.linux.cgroups"), *HEAVY} & loaded), \
        sorted({*_pyrt_modules("pyrt.linux.cgroups"), *HEAVY} & loaded)
    assert not rt.leftovers()


def test_create_with_a_pid_file_imports_nothing_heavy(rt: Runtime, tmp_path: object) -> None:
    """Engines always pass --pid-file: writing it once imported `os` (create +1.6-2.1 ms, paired)."""
    bundle = str(rt.bundle(args=["true"]))
    first, second = rt.new_id(), rt.new_id()
    rt("create", "-b", bundle, first, check=True)  # fills the plan cache: the measured create plans nothing
    try:
        loaded, _stdout = _command_modules(rt, "create", "-b", bundle, "--pid-file", f"{tmp_path}/init.pid", second)
        heavy = {"attrs", *_pyrt_modules("pyrt.planning.plan"), *HEAVY}
        assert "pyrt.linux.files" in loaded and not (heavy & loaded), sorted(heavy & loaded)
    finally:
        for cid in (first, second):
            rt("delete", "--force", cid, check=True)


def test_pause_resume_and_ps_import_nothing_heavy(rt: Runtime) -> None:
    """What engines call on a live container (docker pause, top): commands/running.py once imported `os`."""
    cid = rt.new_id()
    rt("run", "-d", "-b", str(rt.bundle(args=["sleep", "1000"])), cid, check=True)
    try:
        for argv in (["pause", cid], ["resume", cid], ["ps", "--format", "json", cid]):
            loaded, _stdout = _command_modules(rt, *argv)
            assert "pyrt.commands.running" in loaded and not (HEAVY & loaded), (argv[0], sorted(HEAVY & loaded))
    finally:
        rt("delete", "--force", cid, check=True)


def test_create_with_a_console_socket_imports_nothing_heavy(rt: Runtime, tmp_path: object) -> None:
    """docker run -t, containerd's tty: the pty master goes out through `_socket`, not `socket` (~9 ms)."""
    import os
    from pathlib import Path

    from tests.integration.test_terminal import ConsoleReceiver, terminal_config

    bundle = str(rt.bundle(terminal_config(["true"])))
    first, second = rt.new_id(), rt.new_id()
    receivers = [ConsoleReceiver(Path(f"{tmp_path}/{cid}.sock")) for cid in (first, second)]
    try:
        rt("create", "--console-socket", f"{tmp_path}/{first}.sock", "-b", bundle, first, check=True)  # fills the cache
        loaded, _stdout = _command_modules(rt, "create", "--console-socket", f"{tmp_path}/{second}.sock", "-b",
                                           bundle, second)
        receivers[1].thread.join(10)
        assert receivers[1].master is not None, "no pty master arrived"
        assert "pyrt.executor.console" in loaded and not (HEAVY & loaded), sorted(HEAVY & loaded)
    finally:
        for cid in (first, second):
            rt("delete", "--force", cid, check=True)
        for receiver in receivers:
            receiver.thread.join(10)
            if receiver.master is not None:
                os.close(receiver.master)
