"""Cold planning in forked children, so that the caller never holds what planning imports.

A config the plan cache has not seen is parsed with attrs (which imports typing, inspect, threading,
re...) and its seccomp section compiled with pyseccomp and libseccomp: ~7 MB resident here on top of
the executor's ~9.  The caller then forks the container's processes with all of it mapped, and `run`
and `exec` wait the container's whole life with it.  call() runs a function in a forked child instead
and takes its result back as marshal data, as the warm planner's answers come back (planning/planner_client.py),
while the caller runs meanwhile() on the other CPU.  planning/bundle.py uses it twice: the CLI's child plans
while the CLI makes the executor's imports, and that child's own child compiles the config's seccomp
section while its parent imports attrs and parses; no process holds both the spec model and libseccomp.
A child keeps the launcher's GC off (it lives for one call, then _exit), dies with its caller
(PR_SET_PDEATHSIG), and PYRT_FAULT=planning-child kills it before it answers (common/faults.py).

An error the user can act on (PyrtError; SpecError keeps its JSON path) is raised in the caller as the
child raised it.  Anything else -- a fork that fails, a child killed or exiting without an answer, an
unreadable answer -- is (None, why), and planned() computes it in the caller, where a bug shows its
traceback.  No threads exist at these forks (the CLI starts none before its plan; attrs' import, which
loads `threading`, happens in the child).
"""

from __future__ import annotations

import gc
import marshal
import posix

from pyrt.common import faults
from pyrt.common.errors import PyrtError, from_wire, to_wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def call(fn: Callable[..., Any], *args: Any, meanwhile: Callable[[], object] | None = None) -> tuple[Any, str]:
    """(fn(*args) as the child computed it, "") or (None, why it could not be had from a child)."""
    r, w = posix.pipe()  # close-on-exec (PEP 446): no container process inherits them
    caller = posix.getpid()
    try:
        pid = posix.fork()
    except OSError as exc:
        posix.close(r)
        posix.close(w)
        return None, f"fork: {exc.strerror}"
    if pid == 0:
        _child(r, w, fn, args, caller)
    posix.close(w)
    try:
        if meanwhile is not None:
            meanwhile()
        chunks = []
        while chunk := posix.read(r, 1 << 16):
            chunks.append(chunk)
    except BaseException:
        _kill(pid)
        raise
    finally:
        posix.close(r)
    status = posix.waitpid(pid, 0)[1]
    raw = b"".join(chunks)
    if status != 0 or not raw:
        how = (f"was killed by signal {posix.WTERMSIG(status)}" if posix.WIFSIGNALED(status)
               else f"exited with {posix.WEXITSTATUS(status)}")
        return None, f"the planning child {how} without an answer" if not raw else f"the planning child {how}"
    try:
        out = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None, f"the planning child's answer is not readable ({len(raw)} bytes)"
    if isinstance(out, dict) and "result" in out:
        return out["result"], ""
    error = out.get("error") if isinstance(out, dict) else None
    if isinstance(error, list) and len(error) == 2 and all(isinstance(e, str) for e in error):
        raise from_wire(error)
    return None, "the planning child's answer has neither a result nor an error"


def _child(r: int, w: int, fn: Callable[..., Any], args: tuple[Any, ...], caller: int) -> None:
    code = 1
    try:
        gc.disable()  # one plan, then _exit: collecting its cycles frees nothing that matters (-5 to -6 ms)
        import _prctl  # python-prctl's C module (0.7 ms); the executor loads it anyway

        _prctl.prctl(_prctl.PR_SET_PDEATHSIG, 9)  # a caller killed mid-plan leaves no planning process
        if posix.getppid() != caller:  # it died before that
            return
        posix.close(r)
        faults.point("planning-child")
        try:
            out: dict[str, Any] = {"result": fn(*args)}
        except PyrtError as exc:
            out = {"error": to_wire(exc)}
        data = marshal.dumps(out)
        while data:
            data = data[posix.write(w, data):]
        code = 0
    finally:
        posix._exit(code)  # never the caller's atexit handlers, buffers or exceptions


def _kill(pid: int) -> None:
    try:
        posix.kill(pid, 9)
        posix.waitpid(pid, 0)
    except OSError:
        pass


def planned(fn: Callable[..., Any], *args: Any, meanwhile: Callable[[], object] | None = None) -> tuple[Any, str]:
    """(fn(*args), "") from a forked child, or (fn(*args), why) computed here when the child gave no answer."""
    got, why = call(fn, *args, meanwhile=meanwhile)
    if not why:
        return got, ""
    gc.enable()  # planning here, in a process that lives on (cli.py keeps the GC off for start-up)
    return fn(*args), why
