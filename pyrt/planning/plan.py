"""Pure planning: Spec -> plan, a dict of plain data (ints, strings, lists, bytes).

The plan is everything the executor needs to build the container; it holds no
objects, so it can be cached or computed ahead.  Nothing here makes a syscall
that changes anything: it only reads (the bundle, namespace paths, the host's
cap_last_cap) and refuses, naming the JSON path, what pyrt cannot honour.
"""

from __future__ import annotations

import os
import posixpath

from pyrt.common import caps as capnames
from pyrt.common import constants as C
from pyrt.common import lsm_state
from pyrt.common.constants import RLIMITS
from pyrt.common.errors import SpecError
from pyrt.common.pathnames import unreachable
from pyrt.config import mountopts
from pyrt.planning import process_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyrt.config.spec import Process, Spec

from pyrt.common.constants import NS_FLAGS, NS_PROC_NAMES  # noqa: E402,F401  (re-exported for callers)

# runc's default devices, created in /dev unless the config binds a /dev of its own.
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
# Device cgroup rules runc always appends, so that the default devices and ptys work.
DEFAULT_DEVICE_RULES = (
    ("c", -1, -1, "m"), ("b", -1, -1, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 136, -1, "rwm"),
)


def build(spec: Spec, *, bundle: str, no_pivot: bool = False,
          no_new_keyring: bool = False, preserve_fds: int = 0, debug: list[str] | None = None,
          seccomp_source: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Returns (plan, warnings).  Raises SpecError for anything pyrt cannot honour."""
    warnings: list[str] = []
    _refuse_unsupported(spec)
    rootfs = spec.root_path if spec.root_path.startswith("/") else os.path.join(bundle, spec.root_path)
    rootfs = os.path.normpath(rootfs)
    if not os.path.isdir(rootfs):
        raise SpecError("root.path", f"{rootfs}: no such directory")
    if spec.process is None:
        raise SpecError("process", "required: pyrt has nothing to run without it")
    plan: dict[str, Any] = {
        "id": None,  # set per container: the plan of a config is the same for every id
        "bundle": bundle,
        "rootfs": rootfs,
        "oci_version": spec.oci_version,
        "annotations": dict(spec.annotations),
        "no_pivot": no_pivot,
        "keyring": not no_new_keyring,
        "preserve_fds": preserve_fds,
    }
    plan.update(_namespaces(spec))
    plan["hostname"] = spec.hostname
    plan["domainname"] = spec.domainname
    plan["uts_ns"] = any(ns.type == "uts" for ns in spec.linux.namespaces)
    if spec.hostname and not plan["uts_ns"]:
        raise SpecError("hostname", "setting a hostname needs a uts namespace (new or joined)")
    if spec.domainname and not plan["uts_ns"]:
        raise SpecError("domainname", "setting a domainname needs a uts namespace (new or joined)")
    plan["mounts"] = [_mount(m, bundle, warnings) for m in spec.mounts]
    plan["rootfs_propagation"] = mountopts.PROPAGATION[spec.linux.rootfs_propagation or "rprivate"]
    # after pivot_root, only an explicit rootfsPropagation applies to "/" (it would reset the mounts' own)
    plan["root_propagation"] = (mountopts.PROPAGATION[spec.linux.rootfs_propagation]
                                if spec.linux.rootfs_propagation else None)
    plan["readonly_root"] = spec.root_readonly
    # The runtime supplies /dev's default devices and links unless the config binds a /dev in (as runc).
    plan["setup_dev"] = not any(m["dest"] == "/dev" and m["bind"] for m in plan["mounts"])
    plan["devices"] = _devices(spec, plan["setup_dev"])
    # A read-only /dev is mounted writable and turned read-only once its submounts, devices and links
    # are in (as runc): mounts under a read-only /dev could not make their mount points.
    plan["dev_readonly_flags"] = 0  # else the flags of the remount that makes /dev read-only
    for m in plan["mounts"]:
        if m["dest"] == "/dev" and not m["bind"] and m["flags"] & C.MS_RDONLY:
            m["flags"] &= ~C.MS_RDONLY
            plan["dev_readonly_flags"] = m["flags"] & C.MS_PER_MOUNT | C.MS_RDONLY
    plan["masked_paths"] = list(spec.linux.masked_paths)
    plan["readonly_paths"] = list(spec.linux.readonly_paths)
    plan["sysctl"] = _sysctl(spec, [ns.type for ns in spec.linux.namespaces])
    plan["process"] = _process(spec, warnings)
    plan["cgroup"] = _cgroup(spec)
    plan["personality"] = process_fields.personality(spec.linux.personality, "linux.personality")
    plan["time_offsets"] = process_fields.time_offsets(spec.linux.time_offsets, "linux.timeOffsets", plan["new_ns"])
    plan["memory_policy"] = process_fields.memory_policy(spec.linux.memory_policy, "linux.memoryPolicy")
    plan["net_devices"] = process_fields.net_devices(spec.linux.net_devices, "linux.netDevices",
                                                 any(ns.type == "network" for ns in spec.linux.namespaces))
    plan["hooks"] = {phase: [{"path": h.path, "args": list(h.args), "env": None if h.env is None else list(h.env),
                              "timeout": h.timeout}
                             for h in hooks] for phase, hooks in spec.hooks.items()}
    _selinux(spec.process.selinux_label, "process.selinuxLabel", warnings)
    _selinux(spec.linux.mount_label, "linux.mountLabel", warnings)
    plan["seccomp"] = None
    section, where = spec.linux.seccomp, "linux.seccomp"
    if seccomp_source is not None:  # --security-opt seccomp=...: rendered for this container's bounding set
        from pyrt.seccomp import profiles

        section, where = None, f"--security-opt seccomp={seccomp_source}"
        if seccomp_source != "unconfined":
            bounding = spec.process.capabilities.bounding if spec.process.capabilities else ()
            try:
                section = profiles.render(profiles.load(seccomp_source), bounding, path="")
            except SpecError as exc:
                raise SpecError(where, str(exc)) from None
    if section is not None:
        from pyrt.seccomp.compiler import compile_section

        try:
            plan["seccomp"] = compile_section(section, "linux.seccomp" if seccomp_source is None else "", debug)
        except SpecError as exc:
            if seccomp_source is None:
                raise
            raise SpecError(where, str(exc)) from None
    return plan, warnings


def _refuse_unsupported(spec: Spec) -> None:
    for path in (*spec.unsupported, *spec.linux.unsupported, *spec.linux.resources.unsupported,
                 *(spec.process.unsupported if spec.process else ())):
        raise SpecError(path, "not supported by this version of pyrt")


def _namespaces(spec: Spec) -> dict[str, Any]:
    new: list[str] = []
    join: list[list[Any]] = []
    for i, ns in enumerate(spec.linux.namespaces):
        if ns.path is None:
            new.append(ns.type)
            continue
        if not os.path.exists(ns.path):
            raise SpecError(f"linux.namespaces[{i}].path", f"{ns.path}: no such file")
        join.append([ns.type, NS_FLAGS[ns.type], ns.path])
    if "mount" not in new and not any(j[0] == "mount" for j in join):
        # the rootfs would be built in the host's own mount namespace and its mounts left there
        raise SpecError("linux.namespaces", "pyrt needs a mount namespace (new, or joined by path): without one "
                        "the container's mounts would be made on the host")
    join.sort(key=lambda j: j[0] != "user")  # the user namespace first, as runc does
    flags = 0
    for name in new:
        flags |= NS_FLAGS[name]
    user_new = "user" in new
    if spec.linux.uid_mappings or spec.linux.gid_mappings:
        if not user_new:
            raise SpecError("linux.uidMappings", "id mappings need a new user namespace")
    elif user_new:
        raise SpecError("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings")
    if user_new and not (spec.linux.uid_mappings and spec.linux.gid_mappings):
        raise SpecError("linux.gidMappings", "a new user namespace needs uidMappings and gidMappings")
    return {
        "new_ns": new,
        "clone_flags": flags,
        "join_ns": join,
        "uid_map": "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in spec.linux.uid_mappings),
        "gid_map": "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in spec.linux.gid_mappings),
    }


def _mount(m: Any, bundle: str, warnings: list[str]) -> dict[str, Any]:
    dest = m.destination
    if not dest.startswith("/"):
        warnings.append(f"{m.path}.destination: {dest!r} is not absolute; using /{dest}")
        dest = "/" + dest
    dest = posixpath.normpath(dest)
    opts = mountopts.parse(m.options)
    fstype = m.type or ""
    is_bind = fstype == "bind" or bool(int(opts["flags"]) & C.MS_BIND)  # type: ignore[call-overload]
    source = m.source or ""
    if is_bind:
        if not source:
            raise SpecError(f"{m.path}.source", "a bind mount needs a source")
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
        why = unreachable(source)
        if why is not None:
            raise SpecError(f"{m.path}.source", f"{source}: {why}")
        opts["flags"] = int(opts["flags"]) | C.MS_BIND  # type: ignore[call-overload]
    elif not fstype:
        raise SpecError(f"{m.path}.type", "required for a mount that is not a bind mount")
    idmap = None
    if {"idmap", "ridmap"} & set(opts["extensions"]) and not m.uid_mappings:  # type: ignore[call-overload]
        raise SpecError(f"{m.path}.options", "idmap needs the mount's uidMappings and gidMappings")
    if m.uid_mappings:
        if not is_bind:
            raise SpecError(f"{m.path}.uidMappings", "only bind mounts can be idmapped")
        idmap = {"uid_map": "".join(f"{x.container_id} {x.host_id} {x.size}\n" for x in m.uid_mappings),
                 "gid_map": "".join(f"{x.container_id} {x.host_id} {x.size}\n" for x in m.gid_mappings)}
    return {
        "idmap": idmap,
        "json_path": m.path,
        "dest": dest,
        "source": source,
        "type": "bind" if is_bind else fstype,
        "bind": is_bind,
        "source_is_dir": os.path.isdir(source) if is_bind else True,
        **opts,
    }


def _devices(spec: Spec, setup_dev: bool) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if setup_dev:
        for path, kind, major, minor in DEFAULT_DEVICES:
            out[path] = {"path": path, "type": kind, "major": major, "minor": minor,
                         "mode": 0o666, "uid": 0, "gid": 0}
    for d in spec.linux.devices:
        out[d.path] = {"path": d.path, "type": d.type, "major": d.major, "minor": d.minor,
                       "mode": 0o666 if d.file_mode is None else d.file_mode,
                       "uid": d.uid or 0, "gid": d.gid or 0}
    return list(out.values())


def _sysctl(spec: Spec, new_ns: list[str]) -> list[list[str]]:
    """Namespaced sysctls only, and only with their namespace in the config (new or joined)."""
    out = []
    for key, value in spec.linux.sysctl.items():
        if not key or ".." in key.split(".") or "/" in key or key.startswith("."):
            raise SpecError(f"linux.sysctl.{key}", "invalid sysctl name")
        path = "/proc/sys/" + key.replace(".", "/")
        # Only namespaced sysctls may be set, in the namespace that owns them (as runc checks).
        if key.startswith("net.") and "network" not in new_ns:
            raise SpecError(f"linux.sysctl.{key}", "needs a new network namespace")
        if key.startswith(("kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.")) and "ipc" not in new_ns:
            raise SpecError(f"linux.sysctl.{key}", "needs a new ipc namespace")
        if key in ("kernel.hostname", "kernel.domainname") and "uts" not in new_ns:
            raise SpecError(f"linux.sysctl.{key}", "needs a new uts namespace")
        if key == "kernel.hostname":  # refused even without a hostname field, as runc and crun
            raise SpecError(f"linux.sysctl.{key}", "conflicts with the config's hostname field: set that")
        if key == "kernel.domainname" and spec.domainname:
            raise SpecError(f"linux.sysctl.{key}", "conflicts with the config's domainname field")
        if not (key.startswith(("net.", "kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue."))
                or key in ("kernel.hostname", "kernel.domainname")):
            raise SpecError(f"linux.sysctl.{key}", "not a namespaced sysctl: it would change the host")
        if not os.path.exists(path) and not key.startswith("net."):
            raise SpecError(f"linux.sysctl.{key}", "no such sysctl on this kernel")
        out.append([key, path, value])
    return out


def _selinux(label: str, where: str, warnings: list[str]) -> None:
    """pyrt applies no SELinux labels: refused where SELinux enforces, ignored with a warning elsewhere."""
    if not label:
        return
    if lsm_state.selinux_enforcing():
        raise SpecError(where, "SELinux is enforcing on this host and pyrt does not apply SELinux labels")
    warnings.append(f"{where}: SELinux is not enforcing on this host; ignored (as runc does)")


def _apparmor(profile: str, where: str, warnings: list[str]) -> str:
    """The profile to ask for at execve; none, with a warning, where AppArmor is off (as runc does)."""
    if profile and not lsm_state.apparmor_enabled():
        warnings.append(f"{where}.apparmorProfile: AppArmor is not enabled on this host; ignored (as runc does)")
        return ""
    return profile


def _process(spec: Spec, warnings: list[str]) -> dict[str, Any]:
    assert spec.process is not None
    return process_plan(spec.process, warnings)


def process_plan(p: Process, warnings: list[str], where: str = "process") -> dict[str, Any]:
    """The plan of one process (the container's, or one started by `exec`)."""
    top = capnames.last_cap()
    caps = p.capabilities
    sets = {}
    for name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        names = getattr(caps, name) if caps else ()
        sets[name] = capnames.mask(names, f"{where}.capabilities.{name}", warnings, top)
    _check_cap_sets(sets, where)
    # The kernel raises an ambient capability only if it is both permitted and inheritable; runc asks for
    # each and goes on without the ones it refuses, so `runc spec`'s own config (ambient, no inheritable)
    # runs with an empty ambient set.  pyrt plans that result instead of asking.
    sets["ambient"] &= sets["permitted"] & sets["inheritable"]
    env = list(p.env)
    path_value = next((e[5:] for e in env if e.startswith("PATH=")), None)
    return {
        "args": list(p.args),
        "env": env,
        "path": path_value,
        "cwd": p.cwd,
        "uid": p.user.uid,
        "gid": p.user.gid,
        "umask": 0o022 if p.user.umask is None else p.user.umask,
        "additional_gids": list(p.user.additional_gids),
        "rlimits": [[RLIMITS[r.type], r.soft, r.hard, r.type] for r in p.rlimits],
        "caps": sets,
        "last_cap": top,
        "no_new_privs": p.no_new_privileges,
        "oom_score_adj": p.oom_score_adj,
        "terminal": p.terminal,
        "console_size": list(p.console_size) if p.console_size else None,
        "apparmor": _apparmor(p.apparmor_profile, where, warnings),
        **process_fields.planned(p),
    }


def _check_cap_sets(sets: dict[str, int], where: str) -> None:
    """The kernel's rules for capset(2), checked before anything runs."""
    for name, within, rule in (("effective", sets["permitted"], "permitted"),
                               ("inheritable", sets["bounding"], "bounding")):
        extra = sets[name] & ~within
        if extra:
            raise SpecError(f"{where}.capabilities.{name}",
                            f"{', '.join(capnames.names(extra))} must also be in {rule}")


def _cgroup(spec: Spec) -> dict[str, Any]:
    res = spec.linux.resources
    rules: list[list[Any]] = []
    for r in res.devices:
        major = -1 if r.major is None else r.major
        minor = -1 if r.minor is None else r.minor
        rules.append([r.allow, r.type, major, minor, r.access])
    if rules:
        # The defaults last, as runc: the config's own rules never take them back.  A device the config
        # lists is not allowed for it: only its rules allow it (an explicit deny stays a deny).
        for kind, major, minor, access in DEFAULT_DEVICE_RULES:
            rules.append([True, kind, major, minor, access])
    return {
        "path": spec.linux.cgroups_path,  # None: /pyrt/<id>
        "settings": dict(res.settings),
        "hugepages": [list(h) for h in res.hugepages],
        "unified": dict(res.unified),
        "devices": _without_repeats(rules),
        "io_devices": [list(d) for d in res.io_devices],
        "rdma": [list(d) for d in res.rdma],
    }


def _without_repeats(rules: list[list[Any]]) -> list[list[Any]]:
    """Drop an allow rule already given when no deny since could have taken it back: allowing the
    same devices twice changes nothing, and each rule is a write (v1) or an instruction (cgroup2)."""
    out: list[list[Any]] = []
    standing: list[list[Any]] = []
    for rule in rules:
        if not rule[0]:
            standing = [r for r in standing if not _overlap(r, rule)]
        elif rule in standing:
            continue
        else:
            standing.append(rule)
        out.append(rule)
    return out


def _overlap(a: list[Any], b: list[Any]) -> bool:
    """Two device rules [allow, type, major, minor, access] can name the same device and access."""
    return ((a[1] == b[1] or "a" in (a[1], b[1]))
            and (a[2] == b[2] or -1 in (a[2], b[2])) and (a[3] == b[3] or -1 in (a[3], b[3]))
            and bool(set(a[4]) & set(b[4])))
