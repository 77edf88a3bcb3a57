"""cgroups on v1, v2 and hybrid hosts: create, apply limits, join, destroy.

Discovery reads /proc/self/mountinfo: every mounted v1 hierarchy (by its super
options: controllers, or ``name=...``) and the cgroup2 mount.  A directory that
is not a cgroup mount is never written to.  Used by the parent only.
"""

from __future__ import annotations

import errno
import os
import time

from pyrt.errors import SetupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def hierarchies() -> list[dict[str, Any]]:
    """[{"mount": path, "version": 1|2, "controllers": [...], "key": ...}]"""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            sep = fields.index("-")
            fstype, super_opts = fields[sep + 1], fields[sep + 3]
            mount = fields[4].replace("\\040", " ")
            if fstype == "cgroup":
                ctrls = [o for o in super_opts.split(",") if o not in ("rw", "ro") and "=" not in o
                         or o.startswith("name=")]
                out.append({"mount": mount, "version": 1, "controllers": ctrls, "key": ",".join(ctrls)})
            elif fstype == "cgroup2":
                try:
                    with open(os.path.join(mount, "cgroup.controllers")) as c:
                        ctrls = c.read().split()
                except OSError:
                    ctrls = []
                out.append({"mount": mount, "version": 2, "controllers": ctrls, "key": ""})
    return out


def _own_paths() -> dict[str, str]:
    """This process's cgroup per hierarchy key (v2 under "")."""
    out = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            out[ctrls] = path
    return out


def leaf_dirs(cgroups_path: str) -> list[dict[str, Any]]:
    """Where the container's cgroup lives in each hierarchy."""
    own = _own_paths() if not cgroups_path.startswith("/") else {}
    out = []
    for h in hierarchies():
        base = own.get(h["key"], "/") if own else "/"
        rel = os.path.normpath(os.path.join(base, cgroups_path)).lstrip("/")
        if rel.startswith(".."):
            raise SetupError("cgroup", f"cgroupsPath {cgroups_path!r} leaves the cgroup hierarchy")
        out.append({**h, "dir": os.path.join(h["mount"], rel)})
    return out


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError as exc:
        raise SetupError("cgroup", f"write {value!r} to {path}: {exc.strerror}") from None


def _copy_cpuset(parent: str, child: str) -> None:
    for name in ("cpuset.cpus", "cpuset.mems"):
        src, dst = os.path.join(parent, name), os.path.join(child, name)
        if not os.path.exists(dst):
            continue
        with open(dst) as fh:
            if fh.read().strip():
                continue
        with open(src) as fh:
            value = fh.read().strip()
        _write(dst, value)


def create(cgroups_path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """mkdir -p the container's cgroup everywhere; returns (hierarchies with "dir", dirs pyrt created)."""
    leaves: list[dict[str, Any]] = []
    created: list[str] = []
    try:
        for h in leaf_dirs(cgroups_path):
            for _attempt in range(5):  # a shared parent may be removed by another delete meanwhile
                try:
                    created += _mkdir_chain(h)
                    break
                except FileNotFoundError:
                    continue
            else:
                raise SetupError("cgroup", f"mkdir {h['dir']}: its parent keeps disappearing")
            leaves.append(h)
    except OSError as exc:
        remove(created)
        raise SetupError("cgroup", f"mkdir {exc.filename}: {exc.strerror}") from None
    except SetupError:
        remove(created)
        raise
    return leaves, created


def _mkdir_chain(h: dict[str, Any]) -> list[str]:
    missing = []
    d = h["dir"]
    while not os.path.isdir(d) and d != h["mount"]:
        missing.append(d)
        d = os.path.dirname(d)
    created = []
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
        except FileExistsError:
            continue
        created.append(d)
        if "cpuset" in h["controllers"]:
            _copy_cpuset(os.path.dirname(d), d)
    return created


def shared_default_parents(leaves: list[str], default_parent: str = "pyrt") -> list[str]:
    """pyrt's own default parent (/pyrt) in each hierarchy: removed on delete when nothing uses it."""
    return [os.path.dirname(leaf) for leaf in leaves if os.path.basename(os.path.dirname(leaf)) == default_parent
            and os.path.dirname(os.path.dirname(leaf)) in {h["mount"] for h in hierarchies()}]


def _find(leaves: list[str], controller: str, v1_file: str, v2_file: str) -> tuple[str, int] | None:
    """The file to write for a controller: the v1 hierarchy that has it, else cgroup2."""
    for h in hierarchies():
        if h["version"] == 1 and controller in h["controllers"]:
            for leaf in leaves:
                if leaf.startswith(h["mount"] + "/") or leaf == h["mount"]:
                    return os.path.join(leaf, v1_file), 1
    for h in hierarchies():
        if h["version"] == 2 and controller in h["controllers"]:
            for leaf in leaves:
                if leaf.startswith(h["mount"] + "/"):
                    _enable_v2(h["mount"], leaf, controller)
                    return os.path.join(leaf, v2_file), 2
    return None


def _enable_v2(mount: str, leaf: str, controller: str) -> None:
    parts = os.path.relpath(leaf, mount).split("/")
    d = mount
    for part in parts[:-1] if parts != ["."] else []:
        _write(os.path.join(d, "cgroup.subtree_control"), f"+{controller}")
        d = os.path.join(d, part)
    _write(os.path.join(d, "cgroup.subtree_control"), f"+{controller}")


def apply(leaves: list[str], res: dict[str, Any]) -> None:
    """Write the resource limits of the plan's cgroup section."""
    if res.get("memory_limit") is not None:
        where = _need(leaves, "memory", "memory.limit_in_bytes", "memory.max", "linux.resources.memory.limit")
        limit = res["memory_limit"]
        _write(where[0], ("max" if where[1] == 2 else "-1") if limit < 0 else str(limit))
    if res.get("pids_limit") is not None:
        where = _need(leaves, "pids", "pids.max", "pids.max", "linux.resources.pids.limit")
        _write(where[0], "max" if res["pids_limit"] < 0 else str(res["pids_limit"]))
    if res.get("cpu_shares") is not None:
        where = _need(leaves, "cpu", "cpu.shares", "cpu.weight", "linux.resources.cpu.shares")
        shares = res["cpu_shares"]
        value = shares if where[1] == 1 else 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142
        _write(where[0], str(value))
    if res.get("devices"):
        found = _find(leaves, "devices", "devices.allow", "")
        if found is None or found[1] != 1:
            raise SetupError("linux.resources.devices", "no v1 devices cgroup on this host "
                             "(eBPF device programs are not supported yet)")
        base = os.path.dirname(found[0])
        for allow, kind, major, minor, access in res["devices"]:
            rule = "a" if kind == "a" else (
                f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access}")
            _write(os.path.join(base, "devices.allow" if allow else "devices.deny"), rule)


def _need(leaves: list[str], controller: str, v1: str, v2: str, json_path: str) -> tuple[str, int]:
    found = _find(leaves, controller, v1, v2)
    if found is None:
        raise SetupError(json_path, f"no {controller} cgroup controller on this host")
    return found


def join(leaves: list[str], pid: int) -> None:
    for leaf in leaves:
        _write(os.path.join(leaf, "cgroup.procs"), str(pid))


def pids(leaves: list[str]) -> list[int]:
    """Every process in the container's cgroup (read from the first hierarchy that has it)."""
    for leaf in leaves:
        try:
            with open(os.path.join(leaf, "cgroup.procs")) as fh:
                return [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return []


def kill_all(leaves: list[str], sig: int) -> None:
    for pid in pids(leaves):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def remove(dirs: list[str], timeout: float = 2.0) -> None:
    """rmdir what pyrt created, deepest first; a dir still in use by others is left alone."""
    for d in sorted(dirs, key=len, reverse=True):
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno == errno.EBUSY and time.monotonic() < deadline and _only_dying(d):
                    time.sleep(0.005)
                    continue
                break


def _only_dying(d: str) -> bool:
    """True while tasks are still listed in the cgroup (exiting ones keep rmdir at EBUSY)."""
    try:
        with open(os.path.join(d, "cgroup.procs")) as fh:
            return bool(fh.read().split())
    except OSError:
        return False
