"""pyrt.planning.in_child: planning in a forked child, its result and errors brought back, a fallback when it fails."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from pyrt.common.errors import PyrtError, SpecError
from pyrt.planning import in_child


def bug() -> None:
    raise KeyError("bug")


def children() -> set[str]:
    out: set[str] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as fh:
            out |= set(fh.read().split())
    return out


@pytest.fixture
def no_new_children() -> object:
    before = children()
    yield None
    assert children() <= before, "a planning child was left behind"


def test_the_result_is_the_childs(no_new_children: object) -> None:
    got, why = in_child.call(lambda a, b: {"pid": os.getpid(), "sum": a + b, "raw": b"\0\1"}, 2, 3)
    assert why == ""
    assert got["pid"] != os.getpid() and got["sum"] == 5 and got["raw"] == b"\0\1"


def test_what_the_child_imports_stays_in_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   no_new_children: object) -> None:
    name = f"heavy_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    got, why = in_child.call(lambda: __import__(name).VALUE)
    assert (got, why) == (42, "")
    assert name not in sys.modules


def test_a_spec_error_keeps_its_json_path(no_new_children: object) -> None:
    def bad() -> None:
        raise SpecError("process.args", "must not be empty")

    with pytest.raises(SpecError) as info:
        in_child.call(bad)
    assert info.value.json_path == "process.args" and str(info.value) == "process.args: must not be empty"


def test_a_pyrt_error_crosses_whole(no_new_children: object) -> None:
    def bad() -> None:
        raise PyrtError("--security-opt: /nope: No such file or directory")

    with pytest.raises(PyrtError, match="^--security-opt: /nope: No such file or directory$") as info:
        in_child.call(bad)
    assert not isinstance(info.value, SpecError)


@pytest.mark.parametrize(("fn", "expect"), [
    (lambda: os._exit(3), "exited with 3 without an answer"),
    (lambda: os.kill(os.getpid(), 9), "killed by signal 9 without an answer"),
    (bug, "exited with 1 without an answer"),  # a bug: planned again in the caller
    (lambda: lambda: None, "exited with 1 without an answer"),  # not marshal data
])
def test_a_child_without_an_answer_is_a_reason_not_a_result(fn: object, expect: str,
                                                            no_new_children: object) -> None:
    got, why = in_child.call(fn)  # type: ignore[arg-type]
    assert got is None and expect in why


def test_planned_falls_back_to_the_caller(monkeypatch: pytest.MonkeyPatch, no_new_children: object) -> None:
    monkeypatch.setenv("PYRT_FAULT", "planning-child")
    got, why = in_child.planned(lambda: os.getpid())
    assert got == os.getpid() and "killed by signal 9" in why
    monkeypatch.delenv("PYRT_FAULT")
    got, why = in_child.planned(lambda: os.getpid())
    assert got != os.getpid() and why == ""


def test_a_bug_in_the_fallback_shows_as_itself(no_new_children: object) -> None:
    with pytest.raises(KeyError, match="bug"):
        in_child.planned(bug)


def test_meanwhile_runs_in_the_caller_while_the_child_plans(no_new_children: object) -> None:
    seen = []
    got, why = in_child.call(os.getpid, meanwhile=lambda: seen.append(os.getpid()))
    assert seen == [os.getpid()] and got != os.getpid() and why == ""


def test_a_killed_caller_leaves_no_planning_child(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a CLI killed mid-plan (Ctrl-C, an engine's timeout) takes its planning child along."""
    import subprocess
    import time

    from tests.conftest import ROOT, reap

    pid_file = tmp_path / "child.pid"
    code = (f"import os, sys, time\nsys.path.insert(0, {str(ROOT)!r})\nfrom pyrt.planning import in_child\n"
            f"def slow():\n    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n    time.sleep(60)\n"
            "in_child.call(slow)\n")
    caller = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and caller.poll() is None
            time.sleep(0.01)
        child = int(pid_file.read_text())
    finally:
        caller.kill()
        caller.wait()

    def alive() -> bool:
        try:
            with open(f"/proc/{child}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 5
    while alive():
        assert time.monotonic() < deadline, "the planning child outlived its caller"
        time.sleep(0.01)
    reap()  # this test process is a subreaper: the orphan's zombie may be ours
