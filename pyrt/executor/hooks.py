"""OCI hooks: run one with the container's state JSON on stdin, its args, env and timeout.

Needs only ``os`` and ``time``, so init can run createContainer and startContainer
hooks after it has blocked imports.  A hook fails when it cannot be started,
exits non-zero, is killed, or outlives its timeout; the error names the hook
(``hooks.prestart[0]``), what happened, and the last line it printed.
"""

from __future__ import annotations

import time
from posix import environ as _own_environ  # a hook without env gets pyrt's own (as runc and crun)

from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HookError(PyrtError):
    pass


def run_phase(hooks: dict[str, list[dict[str, Any]]], phase: str, state_json: bytes) -> None:
    """Run every hook of a phase in order; the first failure raises HookError."""
    for i, hook in enumerate(hooks.get(phase) or []):
        run_one(hook, f"hooks.{phase}[{i}]", state_json)


def run_one(hook: dict[str, Any], where: str, state_json: bytes) -> None:
    path = hook["path"]
    argv = list(hook.get("args") or []) or [path]
    given = hook.get("env")
    env = _own_environ if given is None else dict(e.split("=", 1) for e in given)
    timeout = hook.get("timeout")
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(stdin_r, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.closerange(3, 65536)
            os.execve(path, argv, env)
        except BaseException as exc:  # noqa: BLE001 - the parent reports it
            os.write(2, f"cannot run {path}: {getattr(exc, 'strerror', None) or exc}\n".encode())
        os._exit(127)
    os.close(stdin_r)
    os.close(out_w)
    try:
        try:
            os.write(stdin_w, state_json)
        except BrokenPipeError:
            pass  # a hook need not read its stdin
        os.close(stdin_w)
        output = _collect(pid, out_r, timeout, where)
    finally:
        os.close(out_r)
    status = output[0]
    last = output[1].decode(errors="replace").strip().splitlines()[-1:] or [""]
    said = f": {last[0][:200]}" if last[0] else ""
    if os.WIFSIGNALED(status):
        raise HookError(f"{where}: {path} was killed by signal {os.WTERMSIG(status)}{said}")
    code = os.WEXITSTATUS(status)
    if code != 0:
        raise HookError(f"{where}: {path} exited with status {code}{said}")


def _collect(pid: int, out_r: int, timeout: Any, where: str) -> tuple[int, bytes]:
    """Wait for the hook (reading its output so it never blocks on a full pipe)."""
    deadline = None if not timeout else time.monotonic() + float(timeout)
    os.set_blocking(out_r, False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(out_r, 65536)
            if chunk:
                chunks.append(chunk)
                del chunks[:-4]
        except BlockingIOError:
            pass
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            try:
                chunks.append(os.read(out_r, 65536))
            except BlockingIOError:
                pass
            return status, b"".join(chunks)
        if deadline is not None and time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise HookError(f"{where}: timed out after {timeout} s")
        time.sleep(0.001)


def container_state(plan: dict[str, Any], status: str, pid: int) -> dict[str, Any]:
    """The runtime-spec state of the container being built from plan."""
    return {"ociVersion": plan["oci_version"], "id": plan["id"], "status": status, "pid": pid,
            "bundle": plan["bundle"], "annotations": plan["annotations"]}


def hook_state(plan: dict[str, Any], status: str, pid: int) -> bytes:
    """The state JSON a hook reads on its stdin."""
    from pyrt.common.fastjson import dumps

    return dumps(container_state(plan, status, pid)).encode()
