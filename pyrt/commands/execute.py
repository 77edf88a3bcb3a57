"""`pyrt exec`: a new process inside a running container, as runc exec starts it.

The process joins every namespace and the cgroups of the container's init, and
gets the container's seccomp filter (compiled at create, kept in the state dir).
Without --process it is the container's own process with the command, env, cwd,
user, groups and capabilities the flags change; with --process it is that file.
"""

from __future__ import annotations

from pyrt.commands import state as st
from pyrt.common.constants import in_ns
from pyrt.common.errors import PyrtError, SpecError, StateError
from pyrt.common.log import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class ExecOptions:
    """exec's flags (a plain class: dataclasses would import inspect and re, ~15 ms here)."""

    def __init__(self, *, process_file: str | None = None, args: list[str] | None = None, detach: bool = False,
                 tty: bool = False, console_socket: str | None = None, pid_file: str | None = None,
                 env: list[str] | None = None, cwd: str | None = None, user: str | None = None,
                 additional_gids: list[str] | None = None, caps: list[str] | None = None,
                 no_new_privs: bool = False, preserve_fds: int = 0) -> None:
        self.process_file, self.args, self.detach, self.tty = process_file, args or [], detach, tty
        self.console_socket, self.pid_file, self.env, self.cwd = console_socket, pid_file, env or [], cwd
        self.user, self.additional_gids, self.caps = user, additional_gids or [], caps or []
        self.no_new_privs, self.preserve_fds = no_new_privs, preserve_fds


def process_key(raw: bytes, code: Any) -> str:
    """The file's bytes, not its path: engines write every exec's process.json to a new file (Docker
    and containerd /tmp/runc-processNNN, Podman exec-process-NNN), so that a keyed path would make every
    exec a cache miss and import attrs (~45 ms); the same command's file has the same bytes."""
    from pyrt.common import cache

    return cache.key("process", raw, code, cache.host_stamp())


_PATH = "\0process-file\0"  # where a cached warning names the file: the path of the exec that uses it


def _portable(warnings: list[str], path: str) -> list[str]:
    return [w.replace(path, _PATH) for w in warnings]


def _named(warnings: list[str], path: str) -> list[str]:
    return [w.replace(_PATH, path) for w in warnings]


def build_process(raw: bytes, path: str) -> tuple[dict[str, Any], list[str]]:
    """Parse and plan a process.json (attrs: the expensive part, ~45 ms of imports here)."""
    from pyrt.common.jsonread import Reader, parse_json_bytes
    from pyrt.config.spec import parse_process
    from pyrt.planning.plan import process_plan

    proc = parse_process(Reader(parse_json_bytes(raw, path), ""))
    if proc.unsupported:
        raise SpecError(proc.unsupported[0], "not supported by this version of pyrt")
    warnings: list[str] = []
    return process_plan(proc, warnings, where=path), warnings


def _from_file(path: str, warnings: list[str], meanwhile: Callable[[], object] | None = None) -> dict[str, Any]:
    """--process FILE, through the plan cache and the planner, as create's config is; meanwhile() runs
    while the planner or a planning child plans, as create's does."""
    from pyrt.common import cache
    from pyrt.planning import planner_client as planclient

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError("--process", f"{path}: {exc.strerror}") from None
    k = process_key(raw, cache.code_stamp())
    hit = cache.get("plans", k)
    if isinstance(hit, dict) and hit.get("kind") == "process" and isinstance(hit.get("process"), dict):
        warnings.extend(_named(hit["warnings"], path))
        proc: dict[str, Any] = hit["process"]
        return proc
    answer, why = planclient.consult({"kind": "process", "key": k, "config": raw, "config_path": path},
                                     lambda a: planclient.check_process(a.get("process")), meanwhile)
    if answer is not None:
        got: dict[str, Any] = answer["process"]
        cache.put("plans", k, {"kind": "process", "process": got, "warnings": _portable(answer["warnings"], path)})
        warnings.extend(answer["warnings"])
        return got
    from pyrt.planning import in_child as apart

    (proc, more), unforked = apart.planned(build_process, raw, path, meanwhile=meanwhile)
    cache.put("plans", k, {"kind": "process", "process": proc, "warnings": _portable(more, path)})
    warnings.extend(more + ([f"{why}; planned in-process"] if why else [])
                    + ([f"{unforked}; planned without a child"] if unforked else []))
    return proc


def _from_flags(base: dict[str, Any], opts: ExecOptions, warnings: list[str]) -> dict[str, Any]:
    from pyrt.common import caps as capnames

    if not opts.args:
        raise PyrtError("exec: a command is required (or --process FILE)")
    proc = dict(base)
    proc["args"] = list(opts.args)
    for i, e in enumerate(opts.env):
        if "=" not in e:
            raise SpecError(f"--env[{i}]", f"expected KEY=VALUE, got {e!r}")
    proc["env"] = [*base["env"], *opts.env]
    proc["path"] = next((e[5:] for e in reversed(proc["env"]) if e.startswith("PATH=")), None)
    if opts.cwd is not None:
        if not opts.cwd.startswith("/"):
            raise SpecError("--cwd", f"must be an absolute path, got {opts.cwd!r}")
        proc["cwd"] = opts.cwd
    if opts.user is not None:
        uid, _, gid = opts.user.partition(":")
        try:
            proc["uid"] = int(uid)
            proc["gid"] = int(gid) if gid else proc["gid"]
        except ValueError:
            raise SpecError("--user", f"expected UID[:GID] as numbers, got {opts.user!r}") from None
    if opts.additional_gids:
        try:
            proc["additional_gids"] = [int(g) for g in opts.additional_gids]
        except ValueError:
            raise SpecError("--additional-gids", "expected numbers") from None
    if opts.caps:
        names = tuple(capnames.canonical(c) for c in opts.caps)
        add = capnames.mask(names, "--cap", warnings, proc["last_cap"])
        proc["caps"] = {k: (v | add if k in ("bounding", "effective", "permitted") else v)
                        for k, v in proc["caps"].items()}
    if opts.no_new_privs:
        proc["no_new_privs"] = True
    return proc


def exec_process(store: st.Store, cid: str, opts: ExecOptions) -> int:
    from pyrt.commands.lifecycle import _subreaper, _wait_for, _write_pid_file, forward_signals
    from pyrt.executor import parent

    record = store.read(cid)
    status = st.status(store, record)
    if status not in ("created", "running"):
        raise StateError(f"cannot exec in a {status} container")
    if opts.preserve_fds < 0:
        raise PyrtError(f"--preserve-fds: {opts.preserve_fds} is negative")
    plan = store.read_plan(cid)
    if plan["seccomp"] is not None and plan["seccomp"].get("record"):
        raise StateError(f"cannot exec in container {cid} while it is recorded (run --seccomp-record): "
                         "its filter answers only the recording pyrt")
    warnings: list[str] = []
    proc = (_from_file(opts.process_file, warnings, parent.preload) if opts.process_file
            else _from_flags(plan["process"], opts, warnings))
    for msg in warnings:
        log.warning(msg)
    if opts.tty:
        proc["terminal"] = True
    if proc["terminal"] and opts.detach and not opts.console_socket:
        raise PyrtError("exec --tty --detach needs --console-socket")
    if opts.console_socket and not proc["terminal"]:
        raise PyrtError("--console-socket needs --tty (or terminal: true in --process)")
    xplan = {
        "process": proc,
        "seccomp": plan["seccomp"],
        "preserve_fds": opts.preserve_fds,
        "console_socket": opts.console_socket,
        "in_userns": in_ns(plan, "user"),
    }
    _subreaper()
    pid, master = parent.spawn_exec(xplan, record["pid"], plan["cgroup_leaves"])
    if opts.pid_file:
        _write_pid_file(opts.pid_file, pid)
    if opts.detach:
        return 0
    forward_signals(pid)
    if master is not None:
        from pyrt.executor.console import proxy

        return proxy(master, pid)
    return _wait_for(pid)



