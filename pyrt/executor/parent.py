"""The parent side of the protocol (see sync.py): fork, map ids, join cgroups, wait for READY."""

from __future__ import annotations

from pyrt.common import constants as C
from pyrt.common import faults
from pyrt.common import posixos as os
from pyrt.common.constants import CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWUSER, in_ns
from pyrt.common.errors import InitError, ProtocolError, SetupError
from pyrt.common.signals import SIGKILL
from pyrt.executor import sync
from pyrt.linux import cgroups
from pyrt.linux.processes import proc_stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _high_fd(fd: int, floor: int) -> int:
    """Move an fd above the range --preserve-fds hands to the container."""
    import fcntl

    if fd >= floor:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return new


class Launch:
    """A forked intermediate (A) at work on the container's namespaces, before init exists; or, for a
    direct launch (no A: _create_direct), what release() forks init with, and then init."""

    def __init__(self, mid: int, sock: Any, direct: tuple[Any, int] | None = None) -> None:
        self.mid, self.sock, self.init_pid = mid, sock, 0
        self.direct = direct  # (init's end of the socket, the exec fifo's fd) until release()

    def abort(self) -> None:
        """A failure before finish(): A (or init) dies, is reaped, and the sockets close."""
        kill_and_reap(self.mid, self.init_pid)
        self.mid = self.init_pid = 0
        self._drop_direct()
        self.sock.close()

    def _drop_direct(self) -> None:
        if self.direct is not None:
            self.direct[0].close()
            os.close(self.direct[1])
            self.direct = None


def preload() -> None:
    """begin()'s imports, ahead of it (create runs this while the warm planner plans)."""
    from pyrt.executor import child  # noqa: F401


def begin(plan: dict[str, Any], fifo_path: str) -> Launch:
    """Fork A.  It sets up its namespaces (user first, then the rest), brings lo up and sets the hostname
    while the caller makes the cgroups, then waits for release() to put it in them.  Measured gain of the
    overlap: 0.8 ms a run (the parent's writes after the fork take copy-on-write faults).  Where
    _create_direct, nothing is forked yet: release() forks init itself (run -3.2 ms, create -1.2)."""
    from pyrt.executor import child  # python-prctl and the rootfs steps: only `create` needs them

    if plan["hooks"]:  # init runs createContainer and startContainer hooks after it has blocked imports
        from pyrt.executor import hooks  # noqa: F401
    if plan["process"]["apparmor"]:  # as hooks: init asks for the profile after it has blocked imports
        from pyrt.linux import lsm  # noqa: F401

    floor = 3 + plan["preserve_fds"]
    import _socket

    idmap_fds = _detached_trees(plan, floor)
    parent_sock, child_sock = sync.pair()
    child_sock = _socket.socket(fileno=_high_fd(child_sock.detach(), floor))
    fifo_fd = _high_fd(os.open(fifo_path, os.O_RDWR | os.O_CLOEXEC), floor)
    if not idmap_fds and _create_direct(plan):
        return Launch(0, parent_sock, (child_sock, fifo_fd))
    mid = os.fork()
    if mid == 0:
        parent_sock.close()
        child.intermediate(plan, child_sock, fifo_fd)
    child_sock.close()
    os.close(fifo_fd)
    for fd in idmap_fds:
        os.close(fd)
    faults.point("forked")
    return Launch(mid, parent_sock)


def release(launch: Launch, plan: dict[str, Any]) -> None:
    """Map A's user namespace ids if it made one, then put A in the cgroups (plan["cgroup_leaves"], now
    made and limited): A forks init inside them.  A direct launch forks init here (_fork_init), once
    the cgroup2 leaf alone is made; the caller makes the rest, then calls cgroups_made().  The caller
    may work in parallel before finish(); on a failure in between, or here, it calls launch.abort()
    (init, if forked, is in the cgroups: kill those)."""
    if launch.direct is not None:
        _fork_init(launch, plan)
        return
    if plan["clone_flags"] & CLONE_NEWUSER:
        _expect(launch.sock, "userns")
        _write_maps(launch.mid, plan)
        _send(launch.sock, "mapped")
    _put_in_cgroups(launch.sock, _versions(plan["cgroup_leaves"]), launch.mid, in_ns(plan, "user"))


def _create_direct(plan: dict[str, Any]) -> bool:
    """Whether init can be forked by this process, straight into its new namespaces and its cgroup2
    leaf, without A: no user namespace (its ids are mapped between A's unshare and the rest), no time
    namespace (its offsets are written before any process enters it) and no pid namespace to join,
    and the cgroups can take a process at birth (_clone3_possible).  Not under the systemd driver: a
    scope unit is started with a process in it, A, which then forks init inside it."""
    return (not plan["clone_flags"] & (CLONE_NEWUSER | CLONE_NEWTIME) and not plan["cgroup"].get("systemd")
            and not any(ns_type in ("user", "time", "pid") for ns_type, _flag, _path in plan["join_ns"])
            and _clone3_possible(_versions(plan["cgroup_leaves"]), False))


def _fork_init(launch: Launch, plan: dict[str, Any]) -> None:
    """release() of a direct launch: clone3 init into its new namespaces (all but cgroup, which init
    makes once it is in the v1 leaves too) and its cgroup2 leaf, the one cgroup made before.  This
    process then makes the v1 leaves and writes the limits while init starts (cgroups_made); init
    writes "0" into each v1 leaf's `tasks` itself.  This process pays for the namespaces' creation
    (~0.8 ms); A's fork, wait for "joined", clone3 and exit are gone."""
    from pyrt.executor import child
    from pyrt.linux import sys as S

    assert launch.direct is not None
    child_sock, fifo_fd = launch.direct
    v2 = next(d for d, version in _versions(plan["cgroup_leaves"]) if version == 2)
    cgroup_fd = _high_fd(os.open(v2, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), 3 + plan["preserve_fds"])
    pid = -1
    try:
        faults.point("joined")
        try:
            pid = S.fork_into_cgroup(cgroup_fd, plan["clone_flags"] & ~CLONE_NEWCGROUP)
        except OSError as exc:  # as A would report its unshare: the namespaces could not be made
            raise SetupError("namespaces", f"clone3: {exc.strerror or exc}") from None
        if pid == 0:
            launch.sock.close()
            os.close(cgroup_fd)
            child.born(plan, child_sock, fifo_fd)
    finally:
        if pid != 0:
            os.close(cgroup_fd)
    launch.init_pid = pid
    launch._drop_direct()
    faults.point("forked")


def cgroups_made(launch: Launch) -> None:
    """Tell a directly forked init that its v1 leaves exist and the limits are written: it enters the
    leaves itself, before it binds them into its /sys/fs/cgroup or unshares its cgroup namespace."""
    try:
        _send(launch.sock, "cgroups")
    except OSError:  # init failed already (EPIPE): finish() reads its report
        pass


def _versions(cgroup_leaves: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(dir, 1 or 2) of each leaf of a plan's "cgroup_leaves" (cgroups.leaf_dirs)."""
    return [(h["dir"], h["version"]) for h in cgroup_leaves]


def finish(launch: Launch, plan: dict[str, Any], console_socket: str | None = None, recorder: Any = None,
           network: Any = None, spawned: Callable[[int, int], None] | None = None) -> tuple[int, int, int | None]:
    """After release(): wait until init is ready; returns (pid, start time, pty master or None).

    The pty master (process.terminal) goes to console_socket when given; otherwise it is returned,
    for `run` to proxy the caller's terminal.  A recorder (--seccomp-record) takes init's
    listener when init announces it, and answers every call from then on.  Once init's namespaces
    exist, linux.netDevices move in and a CNI network (--network) is attached, while init builds
    its rootfs.  spawned(pid, start time) is called then too, before init is ready.

    On any failure, every process started here is killed and reaped before raising.
    """
    parent_sock, mid, init_pid = launch.sock, launch.mid, launch.init_pid
    try:
        early: list[dict[str, Any]] = []
        if mid:
            init_pid, early = _pid_of_child(parent_sock, INIT_MESSAGES)
            os.waitpid(mid, 0)
            mid = launch.mid = 0
        if plan["net_devices"]:
            from pyrt.network import devices

            devices.move(plan["net_devices"], init_pid)
        if network is not None:
            network.attach(init_pid)
        info = proc_stat(init_pid)
        if info is None:
            raise ProtocolError("the container's init exited during create")
        if spawned is not None:
            spawned(init_pid, info[1])
        master = None
        while True:
            msg = early.pop(0) if early else sync.expect(parent_sock, *INIT_MESSAGES)
            if msg["type"] == "hooks":
                from pyrt.executor import hooks

                creating = hooks.hook_state(plan, "creating", init_pid)
                hooks.run_phase(plan["hooks"], "prestart", creating)
                hooks.run_phase(plan["hooks"], "createRuntime", creating)
                sync.send(parent_sock, "hooks-done", creating=creating,
                          created=hooks.hook_state(plan, "created", init_pid))
            elif msg["type"] == "console":
                master = _console(msg, console_socket)
            elif msg["type"] == "seccomp-fd":
                _hand_over_listener(plan, init_pid, int(msg["fd"]))
                sync.send(parent_sock, "seccomp-done")
            elif msg["type"] == "seccomp-record":
                if recorder is None:
                    raise ProtocolError("init loaded a recording filter, but nobody records")
                recorder.attach(init_pid, int(msg["fd"]), parent_sock)
            elif msg["type"] == "error":
                raise _init_error(msg)
            else:
                break
        return init_pid, info[1], master
    except BaseException:
        kill_and_reap(init_pid, mid)
        launch.mid = launch.init_pid = 0
        raise
    finally:
        parent_sock.close()


def _put_in_cgroups(sock: Any, leaves: list[tuple[str, int]], mid: int, userns: bool) -> None:
    """Send A "joined" once it can be in the cgroups, and so fork init inside them.

    A cgroup.procs write (whose first one waits 9-23 ms here for an RCU grace period) is avoided where
    _clone3_possible: "joined" carries the fds of _open_cgroup_fds, for A to enter the v1 leaves and
    clone3 into the cgroup2 one.  Otherwise the parent writes A's pid into every leaf first."""
    if not _clone3_possible(leaves, userns):
        cgroups.join([d for d, _version in leaves], mid)
        faults.point("joined")
        _send(sock, "joined")
        return
    fds: list[int] = []
    try:
        _open_cgroup_fds(leaves, fds)
        faults.point("joined")
        _send(sock, "joined", fds=fds)
    finally:
        for fd in fds:
            os.close(fd)


def _clone3_possible(leaves: list[tuple[str, int]], userns: bool) -> bool:
    """Whether a process can be born in the cgroups: clone3(CLONE_INTO_CGROUP) into the one cgroup2
    leaf, after a "0" into each v1 leaf's `tasks` (moving only the calling thread takes no global lock).
    Not from inside a user namespace, whose root may not write the host's cgroup files (clone3 checks
    that: EACCES), nor before Linux 5.7, nor with PYRT_CLONE_INTO_CGROUP=0."""
    from pyrt.linux import sys as S

    return (not userns and sum(1 for _d, version in leaves if version == 2) == 1 and S.can_clone_into_cgroup()
            and os.getenv("PYRT_CLONE_INTO_CGROUP") != "0")


def _open_cgroup_fds(leaves: list[tuple[str, int]], fds: list[int], floor: int = 0) -> None:
    """Append to fds the cgroup2 leaf's directory, then each v1 leaf's `tasks` opened for writing, all
    above floor; the caller closes them, also after a failure here."""
    v2 = next(d for d, version in leaves if version == 2)
    fds.append(_high_fd(os.open(v2, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), floor))
    for d, version in leaves:
        if version == 1:
            fds.append(_high_fd(os.open(os.path.join(d, "tasks"), os.O_WRONLY | os.O_CLOEXEC), floor))


def _detached_trees(plan: dict[str, Any], floor: int) -> list[int]:
    """Bind mounts made here, as detached trees (open_tree) that init attaches (move_mount), for those
    init could not make itself: an idmapped one (setting MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN where the
    source's file system was mounted), and every bind of a container with a user namespace of its own
    (its root, an unprivileged uid of the host, may not reach a source below a directory it cannot search;
    as runc and crun).  Each in the plan's mount as "tree_fd"; returns the fds, closed after the fork.
    A normal user's pyrt may not clone trees of the host's mounts (open_tree needs CAP_SYS_ADMIN there):
    init binds by path then, reaching no more than the user can."""
    from pyrt.linux import sys as S

    userns = bool(plan["clone_flags"] & CLONE_NEWUSER) and not plan["unprivileged"]
    fds: list[int] = []
    try:
        for m in plan["mounts"]:
            if not m["bind"] or not (m.get("idmap") or userns):
                continue
            where = f"mount {m['json_path']}"
            recursive = bool(m["flags"] & C.MS_REC)
            try:
                tree = _high_fd(S.open_tree_clone(m["source"], recursive=recursive), floor)
            except OSError as exc:
                raise SetupError(where, f"{m['source']}: {exc.strerror}") from None
            fds.append(tree)
            m["tree_fd"] = tree
            if m.get("idmap"):
                from pyrt.linux.idmap import userns_fd

                ns = userns_fd(m["idmap"]["uid_map"], m["idmap"]["gid_map"], where)
                try:
                    S.mount_setattr(tree, S.MOUNT_ATTR_IDMAP, 0, recursive=recursive, userns_fd=ns)
                except OSError as exc:
                    raise SetupError(where, f"{m['source']}: this filesystem cannot be idmapped "
                                     f"({exc.strerror})") from None
                finally:
                    os.close(ns)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


INIT_MESSAGES = ("ready", "error", "seccomp-fd", "seccomp-record", "hooks", "console")


def _pid_of_child(sock: Any, kinds: tuple[str, ...]) -> tuple[int, list[dict[str, Any]]]:
    """The intermediate's {"type": "pid"}, and what the child it forked (already running, on the same
    socket) said before that message got out, kept in order for the caller."""
    early: list[dict[str, Any]] = []
    while True:
        msg = sync.expect(sock, "pid", *kinds)
        if msg["type"] == "pid":
            return int(msg["pid"]), early
        if msg["type"] == "error":
            raise _init_error(msg)
        early.append(msg)


def _expect(sock: Any, kind: str) -> dict[str, Any]:
    """The next message, which must be `kind`; the child's error report is raised as an InitError."""
    msg = sync.expect(sock, kind, "error")
    if msg["type"] == "error":
        raise _init_error(msg)
    return msg


def kill_and_reap(*pids: int) -> None:
    """On any failure: every process this command started dies and is reaped before the error."""
    for pid in pids:
        if pid:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
    for pid in pids:
        if pid:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _send(sock: Any, kind: str, **fields: Any) -> None:
    """Send; when the child is already gone, raise the error it reported before it went."""
    try:
        sync.send(sock, kind, **fields)
    except (BrokenPipeError, ConnectionResetError):
        msg = sync.recv(sock)
        if msg is not None and msg["type"] == "error":
            raise _init_error(msg) from None
        raise ProtocolError(f"the container's init exited before receiving {kind!r}") from None


def _init_error(msg: dict[str, Any]) -> InitError:
    return InitError(str(msg.get("step", "init")), str(msg.get("msg", "")))


def _write_maps(pid: int, plan: dict[str, Any]) -> None:
    """A's id mappings.  Root writes them; a normal user may write only a mapping of its own uid and gid
    (after setgroups "deny", which the kernel asks for that), and any other goes through the setuid
    helpers newuidmap and newgidmap, which check it against /etc/subuid and /etc/subgid."""
    from pyrt.linux import idmap

    how = idmap.how_to_map(plan["uid_map"], plan["gid_map"])
    for name in ("uid_map", "gid_map"):
        field = "linux.uidMappings" if name == "uid_map" else "linux.gidMappings"
        if how == "helpers":
            idmap.run_helper(pid, name, plan[name], field)
            continue
        try:
            if how == "own" and name == "gid_map":
                with open(f"/proc/{pid}/setgroups", "w") as fh:
                    fh.write("deny")
            with open(f"/proc/{pid}/{name}", "w") as fh:
                fh.write(plan[name])
        except OSError as exc:
            raise SetupError(field, f"writing /proc/{pid}/{name}: {exc.strerror}") from None


def _hand_over_listener(plan: dict[str, Any], pid: int, child_fd: int, init_pid: int = 0) -> None:
    """Send the seccomp notify fd and the container process state to listenerPath (runtime-spec): pid is
    the process that loaded the filter (init, or an exec'd process of the running container init_pid)."""
    import json
    import socket

    from pyrt.executor.hooks import container_state
    from pyrt.linux import sys as S

    listener = plan["seccomp"]["listener"]
    try:
        fd = S.pidfd_getfd(pid, child_fd)
    except OSError as exc:
        raise SetupError("seccomp listener", f"taking the notify fd from init: {exc.strerror}") from None
    state = {
        "ociVersion": plan["oci_version"],
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": listener["metadata"],
        "state": container_state(plan, "running" if init_pid else "creating", init_pid or pid),
    }
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(listener["path"])
            socket.send_fds(conn, [json.dumps(state).encode()], [fd])
    except OSError as exc:
        raise SetupError("linux.seccomp.listenerPath", f"{listener['path']}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


NS_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")  # mount last: it moves our root


def spawn_exec(xplan: dict[str, Any], init_pid: int, cgroup_leaves: list[dict[str, Any]]) -> tuple[int, int | None]:
    """Start a process inside a running container, in its cgroups (the plan's "cgroup_leaves": no
    mountinfo read, 0.7 ms); returns (pid, pty master or None) once it has exec'd."""
    import _socket

    from pyrt.common.constants import NS_FLAGS, NS_PROC_NAMES
    from pyrt.executor import child

    if xplan["process"]["apparmor"]:  # the exec'd child asks for it after it has blocked imports
        from pyrt.linux import lsm  # noqa: F401
    leaves = _versions(cgroup_leaves)
    floor = 3 + xplan["preserve_fds"]
    ns_fds: list[tuple[str, int, int]] = []
    try:
        for ns_type in NS_ORDER:
            name = NS_PROC_NAMES[ns_type]
            target = f"/proc/{init_pid}/ns/{name}"
            try:
                if os.readlink(target) == os.readlink(f"/proc/self/ns/{name}"):
                    continue  # the container shares this one with the host
                fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                if ns_type == "time":
                    continue  # a kernel without time namespaces
                raise ProtocolError("the container's init is gone") from None
            ns_fds.append((ns_type, NS_FLAGS[ns_type], _high_fd(fd, floor)))
        xplan["ns"] = ns_fds
        parent_sock, child_sock = sync.pair()
        child_sock = _socket.socket(fileno=_high_fd(child_sock.detach(), floor))
        pid = mid = 0
        if _direct(ns_fds, leaves, xplan["in_userns"]):
            pid = _fork_direct(xplan, ns_fds, leaves, child_sock, floor)
            if pid == 0:
                parent_sock.close()
                child.exec_direct(xplan, child_sock)
        else:
            mid = os.fork()
            if mid == 0:
                parent_sock.close()
                child.exec_intermediate(xplan, child_sock)
    finally:
        for _t, _f, fd in ns_fds:
            os.close(fd)
    child_sock.close()
    early: list[dict[str, Any]] = []
    try:
        if mid:
            _put_in_cgroups(parent_sock, leaves, mid, xplan["in_userns"])
            pid, early = _pid_of_child(parent_sock, ("console", "error", "seccomp-fd"))
            os.waitpid(mid, 0)
            mid = 0
        master = None
        while True:
            msg2 = early.pop(0) if early else sync.recv(parent_sock)  # EOF: exec'd (the socket is close-on-exec)
            if msg2 is None:
                return pid, master
            if msg2["type"] == "console":
                master = _console(msg2, xplan["console_socket"])
                continue
            if msg2["type"] == "seccomp-fd" and xplan["listener_plan"] is not None:
                _hand_over_listener(xplan["listener_plan"], pid, int(msg2["fd"]), init_pid)
                sync.send(parent_sock, "seccomp-done")
                continue
            raise _init_error(msg2) if msg2["type"] == "error" else ProtocolError(f"unexpected {msg2['type']!r}")
    except BaseException:
        kill_and_reap(pid, mid)
        raise
    finally:
        parent_sock.close()


def _direct(ns_fds: list[tuple[str, int, int]], leaves: list[tuple[str, int]], userns: bool) -> bool:
    """Whether exec can fork its process itself: no user namespace (to be joined before the others)
    and no time namespace (joined by a process that then forks) in the way, and the process can be
    born in the cgroups.  Otherwise an intermediate joins them first (exec_intermediate)."""
    return not any(t in ("user", "time") for t, _f, _fd in ns_fds) and _clone3_possible(leaves, userns)


def _fork_direct(xplan: dict[str, Any], ns_fds: list[tuple[str, int, int]], leaves: list[tuple[str, int]],
                 child_sock: Any, floor: int) -> int:
    """Fork exec's process straight into the container's pid namespace (setns for this process's
    children, undone right after) and its cgroup2 leaf (clone3); the child then writes "0" into each v1
    leaf's `tasks` (xplan["tasks"]) and joins the other namespaces itself.  One fork instead of two:
    the intermediate cost ~1 ms of exec here.  Returns the pid here and 0 in the child."""
    from pyrt.common.constants import CLONE_NEWPID
    from pyrt.linux import sys as S

    fds: list[int] = []
    pid = -1
    try:
        _open_cgroup_fds(leaves, fds, floor)
        xplan["tasks"] = fds[1:]
        xplan["ns"] = [ns for ns in ns_fds if ns[0] != "pid"]
        pid_ns = [fd for t, _f, fd in ns_fds if t == "pid"]
        own = -1
        if pid_ns:
            own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            fds.append(own)
            S.setns(pid_ns[0], CLONE_NEWPID)
        try:
            pid = S.fork_into_cgroup(fds[0])
        finally:
            if pid != 0 and own >= 0:
                S.setns(own, CLONE_NEWPID)  # this process's next children are born beside it again
        return pid
    finally:
        if pid != 0:  # the child keeps them: it writes "0" into each `tasks`; the rest close on exec
            for fd in fds:
                os.close(fd)


def _console(msg: dict[str, Any], console_socket: str | None) -> int | None:
    """The pty master init sent: to the console socket (closed here), or kept for the caller."""
    fds = msg.get("fds") or []
    if len(fds) != 1:
        raise ProtocolError("the console message carries no pty master")
    if console_socket is None:
        return int(fds[0])
    from pyrt.executor.console import send_master

    try:
        send_master(console_socket, fds[0], str(msg.get("name", "")))
    finally:
        os.close(fds[0])
    return None
