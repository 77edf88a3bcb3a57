"""The CLI's side of the warm planner (`pyrt planner`): ask, and trust nothing it answers blindly.

One request per connection, one marshal datagram each way over a SOCK_SEQPACKET
unix socket (/run/pyrt-planner/planner.sock, or $PYRT_PLANNER_SOCKET).  The
planner must run as root (SO_PEERCRED), answer within $PYRT_PLANNER_TIMEOUT
seconds (default 0.1: a cold in-process plan costs ~60-100 ms here), echo the
request's key, and return a plan of the right shape (``check_plan``); anything
else is a fallback to planning in-process, said in the log.  Only built-in
modules are imported: this runs on every cache miss of create and run.
"""

from __future__ import annotations

import _socket
import marshal
import time

from pyrt.common import posixos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SOCKET = "/run/pyrt-planner/planner.sock"
MAX = 1 << 22
PROTOCOL = 1
_NONE = type(None)

# The plan's shape: each key and the types its value may have.
PLAN_TYPES: dict[str, tuple[type, ...]] = {
    "id": (_NONE,), "bundle": (str,), "rootfs": (str,), "oci_version": (str,), "annotations": (dict,),
    "no_pivot": (bool,), "keyring": (bool,), "preserve_fds": (int,), "new_ns": (list,), "clone_flags": (int,),
    "join_ns": (list,), "uid_map": (str,), "gid_map": (str,), "hostname": (str, _NONE), "domainname": (str, _NONE),
    "uts_ns": (bool,), "mounts": (list,), "rootfs_propagation": (int,), "root_propagation": (int, _NONE),
    "readonly_root": (bool,), "setup_dev": (bool,), "dev_readonly_flags": (int,), "devices": (list,),
    "masked_paths": (list,), "readonly_paths": (list,), "sysctl": (list,), "process": (dict,), "cgroup": (dict,),
    "personality": (int, _NONE), "time_offsets": (str, _NONE), "memory_policy": (dict, _NONE),
    "net_devices": (list,), "hooks": (dict,), "seccomp": (dict, _NONE),
}
PROCESS_TYPES: dict[str, tuple[type, ...]] = {
    "additional_gids": (list,), "apparmor": (str,), "args": (list,), "caps": (list, dict),
    "console_size": (list, dict, _NONE),
    "cwd": (str,), "env": (list,), "exec_affinity": (dict, _NONE), "gid": (int,), "ioprio": (int, _NONE),
    "last_cap": (int,), "no_new_privs": (bool,), "oom_score_adj": (int, _NONE), "path": (str, _NONE),
    "rlimits": (list,), "scheduler": (dict, _NONE), "terminal": (bool,), "uid": (int,), "umask": (int,),
}
SECCOMP_TYPES: dict[str, tuple[type, ...]] = {"bpf": (bytes,), "flags": (int,), "listener": (dict, _NONE),
                                              "notify": (bool,)}


def socket_path() -> str:
    return os.getenv("PYRT_PLANNER_SOCKET") or SOCKET


def _shape(value: Any, types: dict[str, tuple[type, ...]], where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is not a dict"
    if set(value) != set(types):
        return f"{where} has keys {sorted(set(value) ^ set(types))} that a plan does not (or lacks them)"
    for key, allowed in types.items():
        if type(value[key]) not in allowed:
            return f"{where}.{key} is a {type(value[key]).__name__}"
    return None


def check_plan(plan: Any, bundle: str, options: dict[str, Any]) -> str | None:
    """Why this cannot be the plan of this request, or None when its shape and echoes are right."""
    problem = _shape(plan, PLAN_TYPES, "plan") or check_process(plan["process"], "plan.process")
    if problem is None and plan["seccomp"] is not None:
        problem = _shape(plan["seccomp"], SECCOMP_TYPES, "plan.seccomp")
    if problem is not None:
        return problem
    if plan["bundle"] != bundle:
        return "plan.bundle is another bundle's"
    if (plan["no_pivot"], plan["keyring"], plan["preserve_fds"]) != (
            bool(options.get("no_pivot")), not options.get("no_new_keyring"), options.get("preserve_fds", 0)):
        return "the plan's options are not the request's"
    return None


def check_process(proc: Any, where: str = "process") -> str | None:
    """Why this cannot be a planned process (a plan's, or an exec --process file's), or None."""
    problem = _shape(proc, PROCESS_TYPES, where)
    if problem is None and (not proc["args"] or not all(isinstance(a, str) for a in proc["args"])):
        problem = f"{where}.args is not a list of strings"
    return problem


def consult(request: dict[str, Any], check: Callable[[dict[str, Any]], str | None],
            meanwhile: Callable[[], object] | None = None) -> tuple[dict[str, Any] | None, str]:
    """ask(), and take only what holds: the planner's error for the config is raised as planning here
    would raise it; an answer the planner refused, or that check() or its message lists find fault
    with, is (None, why).  (answer, "") when it holds; (None, "") when there is no planner."""
    answer, why = ask(request, meanwhile=meanwhile)
    if answer is None:
        return None, why
    error = answer.get("error")
    if isinstance(error, list) and len(error) == 2 and all(isinstance(e, str) for e in error):
        from pyrt.common.errors import from_wire

        raise from_wire(error)
    problem = answer.get("refused") or check(answer)
    for field in ("warnings", "debug"):
        value = answer.setdefault(field, [])
        if problem is None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problem = f"its {field} are not strings"
    if problem is not None:
        return None, f"the planner's answer was refused: {problem}"
    return answer, ""


def ask(request: dict[str, Any], timeout: float | None = None,
        meanwhile: Callable[[], object] | None = None) -> tuple[dict[str, Any] | None, str]:
    """(the planner's answer, or None; why not, for the log: "" when there is simply no planner).

    meanwhile(), when given, runs once the request is sent, while the planner plans on another CPU (the
    caller's own imports for what follows); the answer is due `timeout` seconds after the request all
    the same."""
    from pyrt.common import privilege

    if not privilege.host_root():  # the planner is root's, its plans are for root's containers
        return None, ""
    path = socket_path()
    if not os.path.exists(path):
        return None, ""
    if timeout is None:
        try:
            timeout = float(os.getenv("PYRT_PLANNER_TIMEOUT") or 0.1)
        except ValueError:
            timeout = 0.1
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError as exc:
            return None, f"the planner at {path} is not there ({exc.strerror or exc})"
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], "little") != 0:
            return None, f"the planner at {path} does not run as root: not used"
        try:
            sock.send(marshal.dumps({**request, "protocol": PROTOCOL}))
            if meanwhile is not None:
                due = time.monotonic() + timeout
                meanwhile()
                sock.settimeout(max(due - time.monotonic(), 1e-6))
            raw = sock.recv(MAX)
        except TimeoutError:
            return None, f"the planner did not answer within {timeout * 1000:.0f} ms"
        except OSError as exc:
            return None, f"the planner failed mid-request ({exc.strerror or exc})"
    finally:
        sock.close()
    if not raw:
        return None, "the planner closed the connection without an answer"
    try:
        answer = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None, f"the planner's answer is not readable ({len(raw)} bytes)"
    if not isinstance(answer, dict) or answer.get("key") != request["key"]:
        return None, "the planner answered another request"
    return answer, ""
