"""The container side: the intermediate process (A) and init (B), as ordered steps.

Both are forked from the pyrt parent with everything they need already
imported; before entering any namespace they block further imports, so no file
of the (untrusted) rootfs is ever read as Python.  Neither returns into CLI
code: A ends in os._exit, B in os.execve or os._exit.  Errors go back to the
parent as data over the sync socket, never as a traceback.
"""

from __future__ import annotations

import _signal  # the C module: `signal` would import enum (~5 ms)
import _socket
import errno
import fcntl
import stat
import sys

import _prctl  # python-prctl's C module; its Python wrapper builds capability objects at import (~1-2 ms)

from pyrt.common import constants as C
from pyrt.common import fastimport, faults
from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError, SetupError
from pyrt.executor import rootfs, sync
from pyrt.linux import sys as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

TIOCSCTTY, TIOCSWINSZ = 0x540E, 0x5414


class _NoImports:
    """A meta-path finder that refuses every import: installed before entering the container."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        raise ImportError(f"import of {name!r} refused: pyrt is inside the container")


def block_imports() -> None:
    """The refusing finder goes first, so no other finder is consulted.  The path finders' caches
    stay: freeing them in the forked child cost ~0.3 ms of copy-on-write faults, for nothing."""
    fastimport.uninstall()  # it reads pyrt's .pyc files itself: the refusing finder would never be asked
    sys.meta_path.insert(0, _NoImports())
    sys.path[:] = []
    sys.path_hooks[:] = []


def _report(sock: _socket.socket, step: str, exc: BaseException) -> NoReturn:
    if isinstance(exc, StepError):
        step, exc = exc.step, exc.exc
    if isinstance(exc, PyrtError):
        msg = str(exc)
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        msg = f"{step}{where}: {exc.strerror or exc}"
    else:
        msg = f"{step}: {type(exc).__name__}: {exc}"
    try:
        sync.write_raw(sock.fileno(), "error", step=step, msg=msg)
    except OSError:
        pass
    os._exit(1)


def intermediate(plan: dict[str, Any], sock: _socket.socket, fifo_fd: int) -> NoReturn:
    """A: join and create namespaces, fork init (pid 1 in a new pid namespace) inside the cgroups,
    report its pid."""
    step = "namespaces"
    try:
        # from here on it is inside the container's namespaces; a normal user's pyrt writes A's id maps
        # itself, which /proc allows only while A is dumpable: A stays so until they are written.
        if not plan["unprivileged"]:
            _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)
        block_imports()
        _join_paths(plan)
        flags = plan["clone_flags"]
        if flags & C.CLONE_NEWUSER:
            step = "user namespace"
            S.unshare(C.CLONE_NEWUSER)
            sync.send(sock, "userns")
            sync.expect(sock, "mapped")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        if plan["unprivileged"]:  # its maps are written
            _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)
        step = "namespaces"
        S.unshare(flags & ~(C.CLONE_NEWUSER | C.CLONE_NEWCGROUP))
        if plan["time_offsets"]:
            step = "linux.timeOffsets"  # before any process enters the new time namespace
            with open("/proc/self/timens_offsets", "w") as fh:
                fh.write(plan["time_offsets"])
        # A is in the new network and UTS namespaces already (only pid and time wait for a child), and
        # init inherits its session keyring: done here, this waits for the parent's cgroups, not init.
        _inside(plan)
        step = "cgroups"
        cgroup_fd = _enter_cgroups(sync.expect(sock, "joined"))  # init must be born inside them
        step = "fork init into its cgroup"
        pid = _fork(cgroup_fd)
        if pid == 0:
            init(plan, sock, fifo_fd)
        faults.delay("late-pid")
        sync.send(sock, "pid", pid=pid)
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        _report(sock, step, exc)


def _join_paths(plan: dict[str, Any]) -> None:
    """setns into each namespace the config names by path, in the plan's order."""
    for ns_type, flag, path in plan["join_ns"]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                S.setns(fd, flag)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StepError(f"join {ns_type} namespace {path}", exc) from None


def _inside(plan: dict[str, Any]) -> None:
    """What the container's new namespaces get before init builds its rootfs: lo up, the hostname and
    domain name, a session keyring of its own."""
    step = "loopback"
    try:
        if "network" in plan["new_ns"]:
            S.loopback_up()
        step = "hostname"
        if plan["hostname"] is not None and plan["uts_ns"]:
            S.sethostname(plan["hostname"])
        if plan["domainname"] is not None and plan["uts_ns"]:
            S.setdomainname(plan["domainname"])
        if plan["keyring"]:
            step = "session keyring"
            try:
                S.join_session_keyring(f"_ses.{plan['id']}")
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EACCES):
                    raise
    except OSError as exc:
        raise StepError(step, exc) from None


def born(plan: dict[str, Any], sock: _socket.socket, fifo_fd: int) -> NoReturn:
    """init forked by the parent itself, born in its new namespaces and the cgroup2 leaf
    (parent._fork_init): into the namespaces the config joins, then what intermediate() does before it
    forks init, then init, which enters the v1 leaves once the parent has made them (_cgroup_entry)."""
    step = "namespaces"
    try:
        _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)  # nothing in the container may open this process through /proc
        block_imports()
        _join_paths(plan)
        _inside(plan)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        _report(sock, step, exc)
    init(plan, sock, fifo_fd, v1_pending=True)


def _cgroup_entry(plan: dict[str, Any], sock: _socket.socket, v1_pending: bool) -> Callable[[], None]:
    """What init does once, before it binds its cgroups into /sys/fs/cgroup or after its other mounts:
    wait for "cgroups" (the parent makes the v1 leaves and writes the limits while a directly forked
    init starts, parent.cgroups_made) and enter the v1 leaves; then unshare its cgroup namespace, rooted
    where it now is in every hierarchy."""
    done = False

    def enter() -> None:
        nonlocal done
        if done:
            return
        done = True
        step = "cgroups"
        try:
            if v1_pending:
                sync.expect(sock, "cgroups")
                for leaf in plan["cgroup_leaves"]:
                    if leaf["version"] == 1:
                        _move_self([os.open(os.path.join(leaf["dir"], "tasks"), os.O_WRONLY | os.O_CLOEXEC)])
            if "cgroup" in plan["new_ns"]:
                step = "cgroup namespace"
                S.unshare(C.CLONE_NEWCGROUP)
        except OSError as exc:
            raise StepError(step, exc) from None

    return enter


def _enter_cgroups(joined: dict[str, Any]) -> int | None:
    """What "joined" carries (parent._put_in_cgroups): the cgroup2 leaf's fd, returned for clone3, and
    each v1 leaf's `tasks`, where "0" moves this (single-threaded) process.  Without fds the parent has
    already moved it."""
    fds = joined.get("fds") or []
    _move_self(fds[1:])
    return fds[0] if fds else None


def _move_self(task_fds: list[int]) -> None:
    """"0" into each v1 leaf's `tasks` moves the calling thread, this whole single-threaded process,
    without the kernel's global lock that a write of another pid takes; the fds are closed."""
    for fd in task_fds:
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def _fork(cgroup_fd: int | None) -> int:
    """os.fork(), or straight into the cgroup2 leaf cgroup_fd (closed in both processes after)."""
    if cgroup_fd is None:
        return os.fork()
    try:
        return S.fork_into_cgroup(cgroup_fd)
    finally:
        os.close(cgroup_fd)


def _undumpable(sec: dict[str, Any] | None, unprivileged: bool) -> None:
    """Nothing in the container may open this process through /proc, nor (being the same user) ptrace it.
    Except where a normal user's pyrt must take its seccomp listener (pidfd_getfd, which a non-dumpable
    process refuses to an unprivileged caller): _load_seccomp makes it so once the listener is taken,
    and a recording filter's process (--seccomp-record, the user's own foreground run) stays dumpable,
    as every process is again after its execve."""
    handing_over = unprivileged and sec is not None and (sec.get("record") or sec.get("notify"))
    _prctl.prctl(_prctl.PR_SET_DUMPABLE, 1 if handing_over else 0)  # 1: A, its parent, was not


def _load_seccomp(sec: dict[str, Any], sock: _socket.socket) -> None:
    if sec.get("record"):
        # --seccomp-record: every syscall after the load waits for the parent, which has no listener
        # yet, so say first which number the listener gets (the lowest free fd) and let it take it.
        number = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, 0)
        os.close(number)
        sync.write_raw(sock.fileno(), "seccomp-record", fd=number)
        if S.seccomp_load_bpf(sec["bpf"], sec["flags"]) != number:
            raise PyrtError("internal: the seccomp listener did not get the announced fd")
        return
    try:
        fd = S.seccomp_load_bpf(sec["bpf"], sec["flags"])
    except OSError as exc:
        if exc.errno != errno.EINVAL or not sec["flags"] or sec["notify"]:
            raise
        fd = S.seccomp_load_bpf(sec["bpf"], 0)  # an older kernel without the flag: as crun does
    if sec["notify"]:
        # Under the new filter: as few syscalls as possible, write and read only (runc refuses
        # NOTIFY on write).  The parent takes the fd with pidfd_getfd.
        sync.write_raw(sock.fileno(), "seccomp-fd", fd=fd)
        sync.read_raw(sock.fileno(), "seccomp-done")
        os.close(fd)
        _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)


def _terminal(proc: dict[str, Any], sock: _socket.socket) -> str:
    """A pty from the container's own devpts: the master goes to pyrt, the slave becomes this
    process's controlling terminal and stdio.  Returns the slave's name."""
    master, slave = os.openpty()
    try:
        if proc["console_size"]:
            height, width = proc["console_size"]
            fcntl.ioctl(slave, TIOCSWINSZ, height.to_bytes(2, "little") + width.to_bytes(2, "little") + bytes(4))
        name = os.ttyname(slave)
        os.fchown(slave, proc["uid"], -1)  # the process's user owns its terminal, as with runc
        sync.send(sock, "console", fds=[master], name=name)
    finally:
        os.close(master)
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    return name


def _set_user_and_caps(proc: dict[str, Any], in_userns: bool) -> None:
    caps = proc["caps"]
    _prctl.prctl(_prctl.PR_SET_KEEPCAPS, 1)
    for cap in range(proc["last_cap"] + 1):
        if not caps["bounding"] >> cap & 1:
            _prctl.prctl(_prctl.PR_CAPBSET_DROP, cap)
    if not in_userns or _setgroups_allowed():
        os.setgroups(proc["additional_gids"])
    elif proc["additional_gids"]:  # a normal user mapped its own gid alone: the kernel denies setgroups
        raise SetupError("process.user.additionalGids", "this user namespace denies setgroups (a rootless "
                         "container mapping only your own gid has no supplementary groups)")
    os.setresgid(proc["gid"], proc["gid"], proc["gid"])
    os.setresuid(proc["uid"], proc["uid"], proc["uid"])
    S.capset(caps["effective"], caps["permitted"], caps["inheritable"])
    _prctl.prctl(_prctl.PR_SET_KEEPCAPS, 0)
    S.prctl(C.PR_CAP_AMBIENT, C.PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(proc["last_cap"] + 1):
        if caps["ambient"] >> cap & 1:
            S.prctl(C.PR_CAP_AMBIENT, C.PR_CAP_AMBIENT_RAISE, cap)


def _passwd_home(uid: int) -> str:
    """HOME for a process whose environment has none: the user's entry in the container's /etc/passwd,
    else "/" (as runc and crun)."""
    try:
        with open("/etc/passwd", errors="replace") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid) and fields[5]:
                    return fields[5]
    except OSError:
        pass
    return "/"


def _own_stdio(uid: int) -> None:
    """Hand stdio to the container's user before the switch (as runc): its uid, the group kept; not
    /dev/null, and not where the kernel refuses (an unmapped owner, a read-only file system)."""
    try:
        null = os.stat("/dev/null").st_rdev
    except OSError:
        null = -1
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if st.st_uid == uid or (stat.S_ISCHR(st.st_mode) and st.st_rdev == null):
                continue
            os.fchown(fd, uid, st.st_gid)
        except OSError as err:
            if err.errno not in (errno.EBADF, errno.EINVAL, errno.EPERM, errno.EROFS):
                raise


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as fh:
            return fh.read().strip() == "allow"
    except OSError:
        return True


def _close_fds(keep: list[int], first: int) -> None:
    """Close every fd >= first except those in keep (which are close-on-exec)."""
    start = first
    for fd in sorted(k for k in keep if k >= first):
        if fd > start:
            S.close_range(start, fd - 1)
        start = fd + 1
    S.close_range(start, 0x7FFFFFFF)


def _find_program(proc: dict[str, Any]) -> str:
    arg0: str = proc["args"][0]
    if "/" in arg0:
        candidates = [arg0]
    else:  # the process's own PATH only, as runc and crun: none, or an empty one, finds nothing
        candidates = [os.path.join(d or ".", arg0) for d in proc["path"].split(":")] if proc["path"] else []
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK):
            return path
        if "/" in arg0:
            raise PyrtError(f"exec: {arg0!r}: permission denied or not a regular file")
    if "/" in arg0:
        raise PyrtError(f"exec: {arg0!r}: no such file or directory")
    raise PyrtError(f"exec: {arg0!r}: executable file not found in $PATH")


def init(plan: dict[str, Any], sock: _socket.socket, fifo_fd: int, v1_pending: bool = False) -> NoReturn:
    """B: build the container, report ready, wait for start, exec.  v1_pending: born before its v1
    cgroups were made (born())."""
    step = "init"
    proc = plan["process"]
    in_userns = C.in_ns(plan, "user") or plan["caller_in_userns"]  # mknod is refused, setgroups may be
    try:
        _undumpable(plan["seccomp"], plan["unprivileged"])
        os.setsid()
        if proc["oom_score_adj"] is not None:
            step = "oomScoreAdj"
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write(str(proc["oom_score_adj"]))
        os.umask(0)
        step = "rootfs"
        root_fd = rootfs.prepare(plan)
        enter_cgroups = _cgroup_entry(plan, sock, v1_pending)
        rootfs.mount_all(root_fd, plan, enter_cgroups)
        enter_cgroups()
        step = "devices"
        rootfs.make_devices(root_fd, plan, in_userns)
        rootfs.dev_symlinks(root_fd, plan)
        os.close(root_fd)
        states: dict[str, Any] = {}
        if plan["hooks"]:
            # prestart and createRuntime run in the runtime's namespaces (the parent runs them);
            # createContainer here, in the container's, before pivot_root.
            step = "hooks"
            from pyrt.executor import hooks as oci_hooks  # imported by parent.begin: a config with hooks only

            sync.send(sock, "hooks")
            states = sync.expect(sock, "hooks-done")
            oci_hooks.run_phase(plan["hooks"], "createContainer", states["creating"])
        step = "pivot_root"
        rootfs.pivot(plan)
        step = "process.cwd"  # made if missing, as root and before the root turns read-only (as runc)
        rootfs.make_cwd(proc["cwd"])
        if proc["terminal"]:
            step = "console"
            name = _terminal(proc, sock)
            rootfs.bind_console(plan, name)
        step = "sysctl"
        rootfs.sysctl(plan)
        step = "masked and read-only paths"
        rootfs.readonly_and_masked(plan)
        rootfs.readonly_root(plan)
        if plan["personality"] is not None:
            step = "linux.personality"
            S.personality(plan["personality"])
        if plan["memory_policy"] is not None:
            step = "linux.memoryPolicy"
            S.set_mempolicy(plan["memory_policy"]["mode"], plan["memory_policy"]["nodes"])
        fcntl.fcntl(fifo_fd, fcntl.F_SETFL, 0)  # blocking read of the exec fifo
        program, env = _become(proc, plan["seccomp"], sock, [fifo_fd], plan["preserve_fds"], in_userns)
        # After the filter is loaded (with no_new_privs: from here on) init makes only write, read,
        # close and execve calls, as runc: a profile must allow those and nothing more.
        sync.write_raw(sock.fileno(), "ready")
        step = "start"
        if not os.read(fifo_fd, 1):
            os._exit(1)
        os.close(fifo_fd)
        sock.close()
        if plan["hooks"].get("startContainer"):
            from pyrt.executor import hooks as oci_hooks

            oci_hooks.run_phase(plan["hooks"], "startContainer", states["created"])
        os.execve(program, proc["args"], env)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        if step == "start":  # after `start`: nobody waits for a report; the container's stderr gets it
            os.write(2, f"pyrt: {exc}\n".encode(errors="replace"))
            os._exit(127)
        _report(sock, step, exc)


def _become(proc: dict[str, Any], seccomp: dict[str, Any] | None, sock: _socket.socket, keep: list[int],
            preserve_fds: int, in_userns: bool, for_exec: bool = False) -> tuple[str, dict[str, str]]:
    """The last steps before execve, shared by init and exec: rlimits, no_new_privs, seccomp, user and
    capabilities, file descriptors, umask, cwd; returns the program to exec and its environment.
    Raises StepError."""
    step = "rlimits"
    try:
        if for_exec and proc["exec_affinity"] and proc["exec_affinity"]["initial"]:  # never for init (spec)
            step = "process.execCPUAffinity.initial"
            os.sched_setaffinity(0, proc["exec_affinity"]["initial"])
        for res, soft, hard, name in proc["rlimits"]:
            step = f"rlimit {name}"
            inf = S.RLIM_INFINITY
            S.setrlimit(res, inf if soft >= 2**63 else soft, inf if hard >= 2**63 else hard)
        if proc["no_new_privs"]:
            _prctl.prctl(_prctl.PR_SET_NO_NEW_PRIVS, 1)
        if proc["scheduler"]:  # before the capability drop: real-time policies need CAP_SYS_NICE
            step = "process.scheduler"
            sc = proc["scheduler"]
            S.sched_setattr(sc["policy"], sc["flags"], sc["nice"], sc["priority"], sc["runtime"], sc["deadline"],
                            sc["period"])
        if proc["ioprio"] is not None:
            step = "process.ioPriority"
            S.ioprio_set(proc["ioprio"])
        if proc["apparmor"]:  # takes effect at execve; written while privileged, as runc does
            step = "process.apparmorProfile"
            from pyrt.linux import lsm  # imported by parent.begin and spawn_exec: a profile only

            lsm.apparmor_exec(proc["apparmor"])
        if seccomp is not None and (not proc["no_new_privs"] or seccomp.get("record")):
            # without no_new_privs, loading needs CAP_SYS_ADMIN: before the drop; a recording starts
            # here too, so that it sees the runtime's longest path after a load
            step = "seccomp"
            _load_seccomp(seccomp, sock)
        step = "process.cwd"  # entered while privileged; again as the user if only the user may (as runc)
        try:
            os.chdir(proc["cwd"])
            cwd_entered = True
        except PermissionError:
            cwd_entered = False
        env = dict(e.split("=", 1) for e in proc["env"])
        if not env.get("HOME"):
            env["HOME"] = _passwd_home(proc["uid"])
        step = "capabilities and user"
        _own_stdio(proc["uid"])
        _set_user_and_caps(proc, in_userns)
        step = "file descriptors"
        first = 3 + preserve_fds
        if any(fd < first for fd in [sock.fileno(), *keep]):
            raise PyrtError("internal: sync fds overlap the preserved fds")
        _close_fds([sock.fileno(), *keep], first)
        for fd in range(3, first):
            try:
                os.set_inheritable(fd, True)
            except OSError:
                pass
        os.umask(proc["umask"])
        step = "process.cwd"
        if not cwd_entered:
            os.chdir(proc["cwd"])
        if not os.getcwd().startswith("/"):
            raise PyrtError(f"process.cwd {proc['cwd']!r} is outside the container")
        program = _find_program(proc)
        if for_exec and proc["exec_affinity"] and proc["exec_affinity"]["final"]:
            step = "process.execCPUAffinity.final"
            os.sched_setaffinity(0, proc["exec_affinity"]["final"])
        for sig in range(1, 32):  # Python ignores SIGPIPE and SIGXFSZ: exec would keep that.  Handled ones
            # too, for init (pid 1) ignores signals without a handler until it execs; Python's table knows
            # every disposition it inherited or set: the ~27 others are default already (0.1 ms of calls)
            if sig not in (9, 19) and _signal.getsignal(sig) != _signal.SIG_DFL:
                _signal.signal(sig, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        if seccomp is not None and proc["no_new_privs"] and not seccomp.get("record"):
            step = "seccomp"  # as late as the kernel allows: right before execve
            _load_seccomp(seccomp, sock)
        return program, env
    except PyrtError:
        raise
    except BaseException as exc:  # noqa: BLE001 - named with its step
        raise StepError(step, exc) from None


class StepError(Exception):
    """A failure with the step it happened in, for the report to the parent."""

    def __init__(self, step: str, exc: BaseException) -> None:
        super().__init__(step)
        self.step, self.exc = step, exc


def exec_intermediate(xplan: dict[str, Any], sock: _socket.socket) -> NoReturn:
    """exec's A: join the container's namespaces (fds opened by the parent: user first, mount last),
    enter its cgroups when the parent says so, fork the process (in the pid ns) inside them."""
    step = "join namespaces"
    try:
        _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)  # nothing in the container may open this process through /proc
        block_imports()
        _join(xplan["ns"])
        step = "cgroups"
        cgroup_fd = _enter_cgroups(sync.expect(sock, "joined"))
        step = "fork the process into its cgroup"
        pid = _fork(cgroup_fd)
        if pid == 0:
            exec_process(xplan, sock)
        faults.delay("late-pid")
        sync.send(sock, "pid", pid=pid)
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        _report(sock, step, exc)


def exec_direct(xplan: dict[str, Any], sock: _socket.socket) -> NoReturn:
    """exec's process forked by the parent itself, already in the container's pid namespace and cgroup2
    leaf (parent._fork_direct): into the v1 leaves, then the other namespaces (mount last), then B."""
    step = "cgroups"
    try:
        _prctl.prctl(_prctl.PR_SET_DUMPABLE, 0)  # nothing in the container may open this process through /proc
        block_imports()
        _move_self(xplan["tasks"])
        _join(xplan["ns"])
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        _report(sock, step, exc)
    exec_process(xplan, sock)


def _join(ns: list[tuple[str, int, int]]) -> None:
    """setns into each (type, flag, fd) the parent opened, in its order (user first, mount last)."""
    for ns_type, flag, fd in ns:
        try:
            S.setns(fd, flag)
        except OSError as exc:
            raise StepError(f"join the container's {ns_type} namespace", exc) from None
        os.close(fd)


def exec_process(xplan: dict[str, Any], sock: _socket.socket) -> NoReturn:
    """exec's B: become the process and execve; the close-on-exec socket reaching EOF tells the
    parent it worked, an error message that it did not."""
    proc = xplan["process"]
    step = "exec"
    try:
        _undumpable(xplan["seccomp"], xplan["unprivileged"])
        os.setsid()  # its own session and process group, terminal or not (as runc)
        if proc["terminal"]:
            step = "console"
            _terminal(proc, sock)
        program, env = _become(proc, xplan["seccomp"], sock, [], xplan["preserve_fds"], xplan["in_userns"],
                               for_exec=True)
        step = f"exec {program}"
        os.execve(program, proc["args"], env)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as data
        _report(sock, step, exc)
