"""create / start / run / kill / delete / state / list: orchestration and cleanup.

Owns the rule that a failed command leaves the host as it was: any failure after
the id is claimed kills what was started, removes the cgroups pyrt made and the
state directory, then re-raises.  Heavy modules (attrs, pyseccomp, the child's
steps) are imported only by `create`/`run`.
"""

from __future__ import annotations

import errno
import time

from pyrt.commands import state as st
from pyrt.common import constants as C
from pyrt.common import faults, privilege
from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError, SpecError, StateError
from pyrt.common.log import log
from pyrt.common.signals import NOT_FORWARDED, NUMBERS, SIGKILL, SIGRTMAX, SIGRTMIN
from pyrt.linux.processes import proc_stat, reap_until

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _subreaper() -> None:
    from pyrt.linux import sys as S

    S.prctl(C.PR_SET_CHILD_SUBREAPER, 1)


def _preload() -> None:
    """create's imports for what follows the plan, made while the warm planner plans (plan_bundle)."""
    from pyrt.executor import parent
    from pyrt.linux import cgroupdirs, cgroups  # noqa: F401

    parent.preload()


def _write_pid_file(path: str, pid: int) -> None:
    from pyrt.linux.files import write_atomic

    write_atomic(path, str(pid).encode(), "--pid-file")


def create(store: st.Store, cid: str, bundle: str, *, pid_file: str | None = None, no_pivot: bool = False,
           no_new_keyring: bool = False, preserve_fds: int = 0, console_socket: str | None = None,
           security_opt: str | None = None, foreground: bool = False,
           recorder: Any = None, network: str | None = None, starting: bool = False,
           on_spawn: Callable[[int], None] | None = None, systemd_cgroup: bool = False,
           rootless: bool = False) -> tuple[int, int | None, dict[str, Any]]:
    """Create the container; returns (init pid, the pty master when a foreground run keeps it, the state
    record as written, which `run` hands to start and delete instead of reading it back: 0.2-0.3 ms each).

    With a recorder (run --seccomp-record) the container's filter is the recorder's.  starting (run: the
    caller starts the container at once): the "created" record is written as soon as init's pid is known,
    while init builds its rootfs, unless hooks (which must see "creating") or a network attachment come
    first.  on_spawn is called with init's pid then too.  systemd_cgroup: the cgroup is a transient
    systemd scope (linux/systemd.py), started with the intermediate process in it.  rootless (runc's
    --rootless): cgroups nobody lets this user write are left out when the config sets no limits."""
    from pyrt.common import cache
    from pyrt.planning.bundle import plan_bundle

    st.validate_id(cid)
    if preserve_fds < 0:
        raise PyrtError(f"--preserve-fds: {preserve_fds} is negative")
    bundle = os.path.abspath(bundle)
    plan, warnings, debug, source = plan_bundle(bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                                                preserve_fds=preserve_fds, security_opt=security_opt,
                                                meanwhile=_preload, put_later=True)
    from pyrt.executor import parent
    from pyrt.linux import cgroupdirs, cgroups

    terminal = plan["process"]["terminal"]
    if terminal and not console_socket and not foreground:
        raise PyrtError("process.terminal is true: give --console-socket (or run in the foreground)")
    if console_socket and not terminal:
        raise PyrtError("--console-socket needs process.terminal: true")
    plan["id"] = cid
    plan["unprivileged"] = privilege.unprivileged()
    plan["caller_in_userns"] = privilege.in_user_namespace()  # rootless Podman's pyrt: uid 0 of its userns
    if not privilege.host_root():
        _refuse_without_host_root(plan, network)
    if recorder is not None:
        from pyrt.seccomp.recorder import filter_plan

        if plan["seccomp"] is not None:
            warnings.append("--seccomp-record: the bundle's seccomp filter is replaced by the recorder for this run")
        plan["seccomp"] = filter_plan()
    conflist = None
    if network == "host":
        _host_network(plan, warnings)
    elif network not in (None, "none"):
        from pyrt.network import cni

        conflist = cni.load(network)
        if not C.in_ns(plan, "network"):
            raise PyrtError(f"--network {network}: the config has no network namespace to attach "
                            "(linux.namespaces needs {\"type\": \"network\"})")
    scope = None  # (slice, unit) under the systemd driver
    default_cgroup = plan["cgroup"]["path"] is None and not systemd_cgroup
    if systemd_cgroup:
        *scope, plan["cgroup"]["path"] = _systemd_cgroup(plan["cgroup"]["path"], cid, rootless)
        plan["cgroup"]["systemd"] = True  # init comes through an intermediate: the scope starts with it
    elif default_cgroup:
        plan["cgroup"]["path"] = f"/pyrt/{cid}"
    log.debug(f"plan for {bundle}: {'built' if source == 'built' else f'from the {source}'}")
    for msg in debug:
        log.debug(msg)
    for msg in warnings:
        log.warning(msg)
    _subreaper()
    dir_fd = store.create(cid)
    faults.point("claimed")
    created: list[str] = []
    pid = 0
    attachment = None
    if conflist is not None:
        from pyrt.network import cni

        attachment = cni.Attachment(conflist, cid, os.path.join(store.dir(cid), "netns"))
    record: dict[str, Any] = {
        "ociVersion": plan["oci_version"], "id": cid, "pid": 0, "status": "creating",
        "bundle": bundle, "rootfs": plan["rootfs"], "created": st.now_rfc3339(),
        "annotations": plan["annotations"], "creator_pid": os.getpid(),
        "creator_start_time": (proc_stat(os.getpid()) or ("", 0))[1],
        "pid_ns": C.in_ns(plan, "pid"),
        "cgroup_leaves": [], "cgroup_created": [], "cgroup_default": default_cgroup,
        "hooks": sorted(plan["hooks"]),
    }
    if scope:
        record["systemd_unit"] = scope[1]  # before the unit is started: a delete after a crash stops it
        record["systemd_user"] = rootless  # the user's own systemd
    launch = None
    started_unit = False
    written: list[str] = []  # the --pid-file, once written
    try:
        plan["cgroup_leaves"] = cgroups.leaf_dirs(plan["cgroup"]["path"])  # init binds them into its /sys
        if rootless:
            _rootless_cgroups(plan, scoped=bool(scope))
        record["cgroup_leaves"] = [h["dir"] for h in plan["cgroup_leaves"]]
        # What create() will make, for a `delete` after this process died; made, it is what create() made.
        record["cgroup_created"] = [] if scope else cgroups.missing(plan["cgroup_leaves"])  # systemd's own
        _own_cgroup([d for d in record["cgroup_leaves"] if d not in record["cgroup_created"]], default_cgroup)
        store.write(cid, record)
        faults.point("state")
        os.mkfifo(store.fifo(cid), 0o600)  # only its owner starts the container (init holds an fd of it)
        faults.point("fifo")
        launch = parent.begin(plan, store.fifo(cid))  # its namespaces, while the cgroups are made here
        log.debug("init is forked by " + ("this process, into its namespaces and cgroup2 leaf" if launch.direct
                                          else "an intermediate process, once in the cgroups"))
        if launch.direct is None:
            if scope:
                _start_scope(scope[1], scope[0], launch.mid, plan["cgroup"], cid, rootless)
                started_unit = True
            else:
                created = cgroups.create(plan["cgroup_leaves"])
            cgroups.apply(record["cgroup_leaves"], plan["cgroup"])
            faults.point("cgroups")
            parent.release(launch, plan)  # A forks init into the cgroups: the record is written meanwhile
        else:  # init is born in its cgroup2 leaf; the rest is made while it starts, as runc limits late
            created = cgroups.create([h for h in plan["cgroup_leaves"] if h["version"] == 2])
            parent.release(launch, plan)
            created += cgroups.create([h for h in plan["cgroup_leaves"] if h["version"] == 1])
            cgroups.apply(record["cgroup_leaves"], plan["cgroup"])
            faults.point("cgroups")
            parent.cgroups_made(launch)
        # off the critical path now: init is being forked.  /pyrt, the parent of the default cgroups, is
        # not the container's: it stays once made, as /docker does (a failed create still removes it).
        shared = cgroupdirs.shared_default_parents(record["cgroup_leaves"]) if default_cgroup else []
        record["cgroup_created"] = [d for d in created if d not in shared]
        store.write(cid, record)
        store.write_plan(cid, plan)  # for exec (same filter, cgroups); finish() does not change the plan
        early = starting and not plan["hooks"] and attachment is None

        def spawned(init_pid: int, start_time: int) -> None:
            if early:
                record.update(status="created", pid=init_pid, init_start_time=start_time)
                store.write(cid, record)
            cache.flush()  # a new plan, into the cache while init builds its rootfs
            if pid_file and not os.path.lexists(pid_file):
                # while init builds its rootfs, not after it (0.4 ms); nobody reads it before create
                # returns, and a failure removes it.  One that exists is replaced at the end, as before.
                _write_pid_file(pid_file, init_pid)
                written.append(pid_file)
            if on_spawn is not None:
                on_spawn(init_pid)

        pid, start_time, master = parent.finish(launch, plan, console_socket, recorder, attachment, spawned)
        launch = None
        faults.point("spawned")
        if not early:
            record.update(status="created", pid=pid, init_start_time=start_time)
            if attachment is not None:
                from pyrt.network.cni import summary

                record["network"] = {**attachment.record(), "summary": summary(attachment.result)}
            store.write(cid, record)
        faults.point("recorded")
        if pid_file and not written:
            _write_pid_file(pid_file, pid)
    except BaseException as exc:
        for path in written:
            try:
                os.unlink(path)
            except OSError:
                pass
        if launch is not None:  # failed between fork and finish (finish cleans up after itself)
            launch.abort()
        if pid:
            parent.kill_and_reap(pid)
        own = [leaf for leaf in record["cgroup_leaves"] if leaf in created]  # never a cgroup pyrt did not make
        if own:  # and whatever got into them before its pid was known (an init whose intermediate failed)
            parent.kill_and_reap(*cgroupdirs.pids(own))
        if attachment is not None:
            for line in attachment.release():
                log.warning(line)
        cgroupdirs.remove(created)
        if started_unit:  # never a unit of that name that was there before
            parent.kill_and_reap(*cgroupdirs.pids(record["cgroup_leaves"]))
            _stop_scope(record["systemd_unit"], rootless)
        from pyrt.executor.hooks import HookError

        if isinstance(exc, HookError) or getattr(exc, "step", "") == "hooks":
            # the spec: a failed create-time hook (createContainer fails inside init) ends with poststop
            _poststop(plan)
        store.remove(cid)
        raise
    finally:
        os.close(dir_fd)
        cache.flush()  # when init never got that far
    return pid, master, record


def _refuse_without_host_root(plan: dict[str, Any], network: str | None) -> None:
    """What only root of the host may give a container, refused by name before anything is made, for a
    normal user and for root of a user namespace (a rootless engine's pyrt) alike."""
    if plan["unprivileged"] and not C.in_ns(plan, "user") and not any(j[0] == "user" for j in plan["join_ns"]):
        raise SpecError("linux.namespaces", "a normal user's container needs a user namespace, in which it "
                        "may be root (`pyrt spec --rootless` writes such a config)")
    if network not in (None, "none", "host"):
        raise PyrtError(f"--network {network}: CNI networks need root (a rootless container gets its own "
                        "network namespace, which rootless engines connect with slirp4netns)")
    if plan["net_devices"]:
        raise SpecError("linux.netDevices", "moving a host network device needs root")
    for m in plan["mounts"]:
        if m.get("idmap"):
            raise SpecError(f"{m['json_path']}.uidMappings", "idmapped mounts need root (CAP_SYS_ADMIN where "
                            "the source's file system was mounted)")


def _rootless_cgroups(plan: dict[str, Any], scoped: bool) -> None:
    """runc's rootless rule: the cgroups this user may not write are left out, the container staying in the
    caller's (its /sys/fs/cgroup, as runc: the caller's v1 cgroups bound read-only, or an empty tmpfs on a
    cgroup2-only host), unless the config asks for a limit: then the first limit is named.  Device rules
    are dropped: without root, nothing can be created that they would guard, and only root may load them
    (v1 devices files, cgroup2's BPF program).  scoped: under the systemd driver, where the user's
    systemd makes the cgroup."""
    from pyrt.linux import cgroups

    if plan["cgroup"]["devices"]:
        log.debug("rootless: linux.resources.devices is not applied (device nodes are bound from the host)")
        plan["cgroup"]["devices"] = []
    if scoped:  # the user's systemd makes the scope, in the subtree it was delegated
        return
    leaves = plan["cgroup_leaves"]
    usable = [h for h in leaves if cgroups.can_enter(h)]
    if len(usable) == len(leaves):
        return
    field = cgroups.first_limit(plan["cgroup"])
    if field is not None and not usable:
        raise SpecError(field, f"cannot be applied: rootless, and this user may not write the container's "
                        f"cgroup ({leaves[0]['dir']}); leave limits out, or give a delegated cgroup "
                        "(--systemd-cgroup with a user systemd, or a cgroupsPath in a delegated subtree)")
    log.debug("rootless: the container stays in this process's cgroups, which " +
              ("it may not write: " if not usable else "it may partly write: ") +
              ", ".join(h["dir"] for h in leaves if h not in usable))
    plan["cgroup_leaves"] = usable
    if not usable:  # as runc: v1 hierarchies show the caller's cgroups; cgroup2 alone, an empty tmpfs
        view = cgroups.leaf_dirs("")
        plan["cgroup_view"] = view if any(h["version"] == 1 for h in view) else []


def _systemd_cgroup(cgroups_path: str | None, cid: str, user: bool) -> tuple[str, str, str]:
    """(slice, unit, cgroupsPath as a path from the cgroup2 root) under the systemd driver; user (rootless):
    the user's own systemd, whose units live under its cgroup (user@UID.service), in user.slice by default."""
    from pyrt.linux import cgroups, systemd

    if not systemd.running():
        raise PyrtError("--systemd-cgroup: systemd is not running on this host")
    if any(h["version"] == 1 and not h["key"].startswith("name=") for h in cgroups.hierarchies()):
        raise PyrtError("--systemd-cgroup: this host's cgroups are not unified (cgroup v1 controllers are "
                        "mounted); pyrt's systemd driver needs cgroup v2")
    if not user:
        slice_name, unit, rel = systemd.parse_path(cgroups_path, cid)
        return slice_name, unit, "/" + rel
    with systemd.Systemd(user=True) as bus:
        base = bus.control_group()
    if not base:
        raise PyrtError("--systemd-cgroup: the user's systemd names no cgroup of its own (ControlGroup)")
    slice_name, unit, rel = systemd.parse_path(cgroups_path, cid, default_slice="user.slice")
    return slice_name, unit, f"{base.rstrip('/')}/{rel}"


def _start_scope(unit: str, slice_name: str, pid: int, cgroup: dict[str, Any], cid: str, user: bool) -> None:
    from pyrt.linux import systemd

    with systemd.Systemd(user) as bus:
        bus.start_scope(unit, slice_name, pid, cgroup.get("settings") or {}, f"pyrt container {cid}")


def _stop_scope(unit: str, user: bool) -> None:
    from pyrt.linux import systemd

    with systemd.Systemd(user) as bus:
        bus.stop(unit)


def _own_cgroup(existing: list[str], default_cgroup: bool) -> None:
    """The container's cgroup directories that exist already must be fit for it alone (LNX-20)."""
    from pyrt.linux import cgroupdirs

    why = cgroupdirs.unfit(existing) if existing else None
    if why is None:
        return
    if default_cgroup:  # /pyrt/<id>: a container of the same id under another --root
        raise StateError(f"cgroup {why}: a container with this id runs under another --root")
    raise SpecError("linux.cgroupsPath", why)


def _host_network(plan: dict[str, Any], warnings: list[str]) -> None:
    """--network host: the container shares the host's network namespace."""
    if C.in_ns(plan, "network"):
        warnings.append("--network host: the config's network namespace is dropped; the container uses the host's")
    if plan["net_devices"]:
        raise SpecError("linux.netDevices", "--network host: there is no network namespace to move devices into")
    for key, _path, _value in plan["sysctl"]:
        if key.startswith("net."):
            raise SpecError(f"linux.sysctl.{key}", "--network host: this would change the host's network settings")
    plan["new_ns"] = [n for n in plan["new_ns"] if n != "network"]
    plan["join_ns"] = [j for j in plan["join_ns"] if j[0] != "network"]
    plan["clone_flags"] &= ~C.CLONE_NEWNET


def _poststop(plan: dict[str, Any]) -> None:
    """poststop hooks: a failure is only a warning, and the next hooks still run."""
    from pyrt.executor import hooks

    state = hooks.hook_state(plan, "stopped", 0)
    for i, hook in enumerate(plan["hooks"].get("poststop") or []):
        try:
            hooks.run_one(hook, f"hooks.poststop[{i}]", state)
        except hooks.HookError as exc:
            log.warning(str(exc))


def start(store: st.Store, cid: str, record: dict[str, Any] | None = None) -> None:
    """record: the state as this process wrote it (run), else read under the lock."""
    fd = store.lock(cid)
    try:
        record = store.read(cid) if record is None else record
        status = st.status(store, record)
        if status != "created":
            raise StateError({"stopped": "cannot start a container that has stopped",
                              "running": "cannot start an already running container"}.get(
                                  status, f"cannot start a container in status {status}"))
        try:
            w = os.open(store.fifo(cid), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.ENOENT):
                raise StateError("cannot start a container that has stopped") from None
            raise
        try:
            os.write(w, b"0")
        finally:
            os.close(w)
        os.unlink(store.fifo(cid))
        if "poststart" in record.get("hooks", ()):
            _poststart(store, record)
    finally:
        os.close(fd)


def _poststart(store: st.Store, record: dict[str, Any]) -> None:
    """poststart hooks; since runtime-spec 1.3 a failure stops and destroys the container."""
    from pyrt.executor import hooks

    plan = store.read_plan(record["id"])
    try:
        hooks.run_phase(plan["hooks"], "poststart", hooks.hook_state(plan, "running", record["pid"]))
    except hooks.HookError:
        try:
            os.kill(record["pid"], SIGKILL)
        except ProcessLookupError:
            pass
        _wait_gone(record)
        destroy(store, record)
        raise


def state(store: st.Store, cid: str) -> dict[str, Any]:
    return st.oci_view(store, store.read(cid))


def list_all(store: st.Store) -> list[dict[str, Any]]:
    """The containers under the store, each with its owner: the user whose its state directory is (runc)."""
    import pwd

    out = []
    names: dict[int, str] = {}
    for cid in store.ids():
        try:
            view = st.oci_view(store, store.read(cid))
            uid = os.stat(store.dir(cid)).st_uid
        except (StateError, OSError):
            continue
        if uid not in names:
            try:
                names[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                names[uid] = f"#{uid}"
        view["owner"] = names[uid]
        out.append(view)
    return out


def kill(store: st.Store, cid: str, sig: int, all_processes: bool = False) -> None:
    record = store.read(cid)
    status = st.status(store, record)
    if status not in ("created", "running", "paused"):
        raise StateError("container not running")
    if all_processes:
        from pyrt.linux import cgroupdirs

        cgroupdirs.kill_all(record["cgroup_leaves"], sig)
    try:
        os.kill(record["pid"], sig)
    except ProcessLookupError:
        if not all_processes:
            raise StateError("container not running") from None


def _wait_gone(record: dict[str, Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while st.init_alive(record):
        if time.monotonic() > deadline:
            raise StateError(f"container init (pid {record['pid']}) did not die after SIGKILL")
        try:
            os.waitpid(record["pid"], os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.002)


def delete(store: st.Store, cid: str, force: bool = False, record: dict[str, Any] | None = None) -> None:
    """record: the state as this process wrote it (run), else read under the lock."""
    st.validate_id(cid)
    fd = store.try_lock(cid)
    if fd is None:
        if force:
            return
        raise StateError(f"container {cid} does not exist")
    try:
        try:
            record = store.read(cid) if record is None else record
        except StateError:
            if not force:
                raise
            store.remove(cid)  # a directory without state: a create that died early
            return
        status = st.status(store, record)
        if status == "creating" and _creator_alive(record) and not force:
            raise StateError(f"cannot delete container {cid} that is being created")
        if status in ("created", "running", "paused"):
            if not force:
                raise StateError(f"cannot delete container {cid} that is not stopped: {status}")
            try:
                os.kill(record["pid"], SIGKILL)
            except ProcessLookupError:
                pass
            if status == "paused":  # frozen tasks cannot die until thawed
                from pyrt.linux import cgroups

                cgroups.freeze(record["cgroup_leaves"], False)
            _wait_gone(record)
        destroy(store, record)
    finally:
        os.close(fd)


def _creator_alive(record: dict[str, Any]) -> bool:
    info = proc_stat(record.get("creator_pid", 0) or 0)
    return info is not None and info[0] != "Z" and info[1] == record.get("creator_start_time")


def destroy(store: st.Store, record: dict[str, Any]) -> None:
    """Undo what create did: processes left in the cgroup, the cgroups, the state dir."""
    from pyrt.linux import cgroupdirs

    leaves = record.get("cgroup_leaves", [])
    plan = store.read_plan(record["id"]) if "poststop" in record.get("hooks", ()) else None
    if not record.get("pid_ns") or record.get("status") == "creating" or record.get("systemd_unit"):
        cgroupdirs.kill_all(leaves, SIGKILL)  # with a scope, also what outlived init: stopping it would TERM it
    created = record.get("cgroup_created", [])
    cgroupdirs.remove(created)
    if record.get("systemd_unit"):
        _stop_scope(record["systemd_unit"], record.get("systemd_user", False))
    if record.get("cgroup_default"):  # /pyrt/<id>: /pyrt is pyrt's own, shared by its containers
        shared = [d for d in cgroupdirs.shared_default_parents(leaves) if d not in created]
        if record.get("status") == "creating" or cgroupdirs.hold_rt_time(shared):
            cgroupdirs.remove(shared, timeout=0)  # when empty: as before a failed create; real-time time back
    if record.get("network"):
        from pyrt.network.cni import Attachment

        for line in Attachment.from_record(record["network"], record["id"]).release():
            log.warning(line)
    if plan is not None:
        _poststop(plan)
    store.remove(record["id"])


def run(store: st.Store, cid: str, bundle: str, *, detach: bool = False, keep: bool = False,
        pid_file: str | None = None, no_pivot: bool = False, no_new_keyring: bool = False,
        preserve_fds: int = 0, console_socket: str | None = None, security_opt: str | None = None,
        seccomp_record: str | None = None, seccomp_record_merge: bool = False, network: str | None = None,
        systemd_cgroup: bool = False, rootless: bool = False) -> int:
    """create + start; in the foreground, wait and return the container's exit code."""
    recorder = previous = None
    if seccomp_record_merge and not seccomp_record:
        raise PyrtError("--seccomp-record-merge needs --seccomp-record FILE")
    if seccomp_record:
        if detach:
            raise PyrtError("--seccomp-record needs a foreground run: after pyrt exits nobody would answer "
                            "the container's syscalls")
        if security_opt:
            raise PyrtError("--seccomp-record replaces the seccomp filter: it cannot be combined with --security-opt")
        from pyrt.seccomp import record as rec
        from pyrt.seccomp.recorder import Recorder

        rec.check_target(seccomp_record)
        previous = rec.load_previous(seccomp_record) if seccomp_record_merge else None
        recorder = Recorder()
    try:
        pid, master, record = create(store, cid, bundle, pid_file=pid_file, no_pivot=no_pivot,
                             no_new_keyring=no_new_keyring, preserve_fds=preserve_fds, console_socket=console_socket,
                             security_opt=security_opt, foreground=not detach, recorder=recorder,
                             network=network, starting=True, on_spawn=None if detach else forward_signals,
                             systemd_cgroup=systemd_cgroup, rootless=rootless)
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    if recorder is not None and seccomp_record:
        try:
            code = _run_foreground(store, cid, pid, master, keep, record)
        finally:
            obs = recorder.finish()
        if previous is not None:
            previous.merge(obs)
            obs = previous
        rec.write(seccomp_record, rec.profile(obs))
        ruled = len(obs.workload & set(rec.ARG_RULED))
        log.info(f"seccomp-record: {obs.calls} calls; the workload made {len(obs.workload)} distinct syscalls ("
                 f"{len(obs.workload) - ruled} allowed by name, {ruled} under argument rules)"
                 f"{' (merged)' if previous is not None else ''} -> {seccomp_record}")
        return code
    if detach:
        try:
            start(store, cid, record)
        except BaseException:
            delete(store, cid, force=True, record=record)
            raise
        return 0
    return _run_foreground(store, cid, pid, master, keep, record)


def _run_foreground(store: st.Store, cid: str, pid: int, master: int | None, keep: bool,
                    record: dict[str, Any]) -> int:
    """create() has made pyrt forward signals to pid already (on_spawn)."""
    try:
        start(store, cid, record)
        if master is not None:
            from pyrt.executor.console import proxy

            code = proxy(master, pid)
        else:
            code = _wait_for(pid)
    except BaseException:
        delete(store, cid, force=True, record=record)
        raise
    if not keep:
        delete(store, cid, force=True, record=record)
    return code


def forward_signals(pid: int) -> None:
    """Send every signal pyrt receives (but those that cannot or must not be) on to pid."""
    import _signal  # the C module: `signal` would import enum

    def forward(signum: int, _frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in set(NUMBERS.values()) | set(range(SIGRTMIN, SIGRTMAX + 1)):
        if sig in NOT_FORWARDED:
            continue
        try:
            _signal.signal(sig, forward)
        except (OSError, ValueError):
            pass


def _wait_for(pid: int) -> int:
    """Reap children (pyrt is a subreaper) until pid exits; its status as an exit code."""
    code = reap_until(pid, block=True)
    assert code is not None
    return code
