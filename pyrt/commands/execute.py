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
from pyrt.common.privilege import in_user_namespace, unprivileged

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ExecOptions:
    """exec's flags (a plain class: dataclasses would import inspect and re, ~15 ms here)."""

    def __init__(self, *, process_file: str | None = None, args: list[str] | None = None, detach: bool = False,
                 tty: bool = False, console_socket: str | None = None, pid_file: str | None = None,
                 env: list[str] | None = None, cwd: str | None = None, user: str | None = None,
                 additional_gids: list[str] | None = None, caps: list[str] | None = None,
                 no_new_privs: bool = False, preserve_fds: int = 0, ignore_paused: bool = False,
                 cgroups: list[str] | None = None, rootless: bool = False) -> None:
        self.process_file, self.args, self.detach, self.tty = process_file, args or [], detach, tty
        self.console_socket, self.pid_file, self.env, self.cwd = console_socket, pid_file, env or [], cwd
        self.user, self.additional_gids, self.caps = user, additional_gids or [], caps or []
        self.no_new_privs, self.preserve_fds = no_new_privs, preserve_fds
        self.ignore_paused, self.cgroups, self.rootless = ignore_paused, cgroups or [], rootless


def _from_flags(base: dict[str, Any], opts: ExecOptions, warnings: list[str]) -> dict[str, Any]:
    from pyrt.common import caps as capnames

    if not opts.args:
        raise PyrtError("exec: a command is required (or --process FILE)")
    proc = dict(base)
    proc["args"] = list(opts.args)
    proc["terminal"] = False  # a terminal only with --tty, whatever the container's own process has (as runc)
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
    if status not in ("created", "running") and not (status == "paused" and opts.ignore_paused):
        hint = " (--ignore-paused to exec all the same)" if status == "paused" else ""
        raise StateError(f"cannot exec in a {status} container{hint}")
    if opts.preserve_fds < 0:
        raise PyrtError(f"--preserve-fds: {opts.preserve_fds} is negative")
    plan = store.read_plan(cid)
    if plan["seccomp"] is not None and plan["seccomp"].get("record"):
        raise StateError(f"cannot exec in container {cid} while it is recorded (run --seccomp-record): "
                         "its filter answers only the recording pyrt")
    warnings: list[str] = []
    if opts.process_file:
        from pyrt.planning.process_file import plan_process_file

        proc = plan_process_file(opts.process_file, warnings, parent.preload)
    else:
        proc = _from_flags(plan["process"], opts, warnings)
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
        "in_userns": in_ns(plan, "user") or in_user_namespace(),
        "unprivileged": unprivileged(),
        # a listener gets the exec'd process's notify fd too, with the container's state (as runc)
        "listener_plan": plan if plan["seccomp"] is not None and plan["seccomp"]["listener"] else None,
    }
    leaves = sub_cgroups(plan["cgroup_leaves"], opts.cgroups) if opts.cgroups else plan["cgroup_leaves"]
    if opts.rootless:  # as runc: the cgroups this caller may not move a process into are skipped
        from pyrt.linux.cgroups import can_enter

        entered = [leaf for leaf in leaves if can_enter(leaf)]
        if len(entered) < len(leaves):
            log.debug(f"exec {cid}: rootless, stays out of " + ", ".join(h["dir"] for h in leaves if h not in entered))
            leaves = entered
    log.debug(f"exec {cid}: {proc['args'][0]!r} into the namespaces of init {record['pid']}, cgroups "
              + ", ".join(leaf["dir"] for leaf in leaves))
    _subreaper()
    pid, master = parent.spawn_exec(xplan, record["pid"], leaves)
    log.debug(f"exec {cid}: process {pid} started" + (" on a terminal" if proc["terminal"] else ""))
    if opts.pid_file:
        _write_pid_file(opts.pid_file, pid)
    if opts.detach:
        return 0
    forward_signals(pid)
    if master is not None:
        from pyrt.executor.console import proxy

        code = proxy(master, pid)
    else:
        code = _wait_for(pid)
    log.debug(f"exec {cid}: process {pid} exited with {code}")
    return code


def sub_cgroups(leaves: list[dict[str, Any]], specs: list[str]) -> list[dict[str, Any]]:
    """exec --cgroup [CONTROLLER:]SUB (repeatable, as runc): the leaves with SUB, an existing cgroup
    under the container's own, in place of the container's cgroup (for CONTROLLER's hierarchy only, or
    for every hierarchy without a controller).  A v1 hierarchy of several controllers (cpu,cpuacct) is
    named by any of them."""
    import os

    if not leaves:
        raise SpecError("--cgroup", "the container has no cgroup of its own (it was created rootless where this "
                        "user may write no cgroup)")
    chosen: dict[str, str] = {}
    for spec in specs:
        controller, sep, sub = spec.rpartition(":") if ":" in spec else ("", "", spec)
        parts = sub.split("/")
        if not sub or sub.startswith("/") or ".." in parts:
            raise SpecError("--cgroup", f"{spec!r}: expected [CONTROLLER:]PATH, PATH relative to the container's "
                            "cgroup and inside it")
        if sep and not controller:
            raise SpecError("--cgroup", f"{spec!r}: the controller before ':' is empty")
        chosen[controller] = sub
    out = []
    for leaf in leaves:
        names = (leaf.get("controllers") or []) if leaf["version"] == 1 else []
        picked = next((chosen[c] for c in [*names, ""] if c in chosen), None)
        if picked is None:
            out.append(leaf)
            continue
        path = os.path.join(leaf["dir"], picked)
        if not os.path.isdir(path):
            raise SpecError("--cgroup", f"{path}: no such cgroup (it must exist)")
        out.append({**leaf, "dir": path})
    known = {c for leaf in leaves for c in (leaf.get("controllers") or [])} | {""}
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise SpecError("--cgroup", f"no cgroup controller {unknown[0]!r} on this host")
    return out
