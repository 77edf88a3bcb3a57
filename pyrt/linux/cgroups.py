"""cgroups on v1, v2 and hybrid hosts: create, apply limits, join, freeze, stats (removing them and
finding their processes: cgroupdirs.py).

Discovery reads /proc/self/mountinfo: every mounted v1 hierarchy (by its super
options: controllers, or ``name=...``) and the cgroup2 mount.  A directory that
is not a cgroup mount is never written to.  Used by the parent only.
"""

from __future__ import annotations

import errno
import time

from pyrt.common import posixos as os
from pyrt.common.errors import SetupError
from pyrt.linux.cgroupdirs import read as _read
from pyrt.linux.cgroupdirs import remove
from pyrt.linux.freezer import freezer_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Where discovery reads; tests point these at a fake cgroupfs tree (this host is hybrid).
MOUNTINFO = "/proc/self/mountinfo"
SELF_CGROUP = "/proc/self/cgroup"


_seen: dict[str, list[dict[str, Any]]] = {}


def hierarchies() -> list[dict[str, Any]]:
    """[{"mount": path, "version": 1|2, "controllers": [...], "key": ...}]

    Read once per process (per MOUNTINFO path): a pyrt command sees one cgroup layout, and create
    and delete ask for it up to a dozen times (0.15-0.4 ms a read)."""
    if MOUNTINFO not in _seen:
        _seen[MOUNTINFO] = _discover()
    return _seen[MOUNTINFO]


def _discover() -> list[dict[str, Any]]:
    out = []
    with open(MOUNTINFO) as fh:
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
    with open(SELF_CGROUP) as fh:
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


def can_enter(h: dict[str, Any]) -> bool:
    """Whether this process may make the leaf (of leaf_dirs) and move a process into it: write access to
    its nearest existing directory and that directory's process list; on cgroup2 also to the cgroup.procs
    of the closest cgroup above both this process's own and the leaf (a rootless caller outside its
    delegated subtree has none, as the kernel checks it)."""
    d = h["dir"]
    while not os.path.isdir(d) and d != h["mount"]:
        d = os.path.dirname(d)
    procs = "cgroup.procs" if h["version"] == 2 else "tasks"
    if not (os.access(d, os.W_OK) and os.access(os.path.join(d, procs), os.W_OK)):
        return False
    if h["version"] == 1:
        return True
    common = h["mount"]
    for own, leaf in zip(_own_paths().get("", "/").strip("/").split("/"),
                         os.path.relpath(h["dir"], h["mount"]).split("/"), strict=False):
        if own != leaf:
            break
        common = os.path.join(common, own)
    return os.access(os.path.join(common, procs), os.W_OK)


def first_limit(res: dict[str, Any]) -> str | None:
    """The JSON path of the first limit a plan's cgroup section sets, device rules aside; None if none."""
    if res.get("settings"):
        return f"linux.resources.{min(res['settings'])}"
    for key, where in (("hugepages", "hugepageLimits"), ("io_devices", "blockIO"), ("rdma", "rdma")):
        if res.get(key):
            return f"linux.resources.{where}"
    if res.get("unified"):
        return f"linux.resources.unified.{min(res['unified'])}"
    return None


def _write(path: str, value: str, field: str = "cgroup") -> None:
    """One write(2) of value (a cgroup file takes each write whole); os-level, as _read: Python's
    buffered open() adds fstat, ioctl and lseek to each of the ~25 files a run touches (13 vs 5 us).
    A refusal names field: the config's JSON path where a limit is written."""
    try:
        _write_raw(path, value)
    except OSError as exc:
        raise SetupError(field, f"write {value!r} to {path}: {exc.strerror}") from None


def _write_raw(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _copy_cpuset(parent: str, child: str) -> None:
    for name in ("cpuset.cpus", "cpuset.mems"):
        src, dst = os.path.join(parent, name), os.path.join(child, name)
        try:
            if _read(dst).strip():
                continue
        except FileNotFoundError:
            continue
        _write(dst, _read(src).strip())


def create(leaves: list[dict[str, Any]]) -> list[str]:
    """mkdir -p the container's cgroup in every hierarchy (leaf_dirs); returns the dirs pyrt created."""
    created: list[str] = []
    try:
        for h in leaves:
            for _attempt in range(5):  # a shared parent may be removed by another delete meanwhile
                try:
                    created += _mkdir_chain(h)
                    break
                except FileNotFoundError:
                    continue
            else:
                raise SetupError("cgroup", f"mkdir {h['dir']}: its parent keeps disappearing")
    except OSError as exc:
        remove(created)
        raise SetupError("cgroup", f"mkdir {exc.filename}: {exc.strerror}") from None
    except SetupError:
        remove(created)
        raise
    return created


def missing(leaves: list[dict[str, Any]]) -> list[str]:
    """The dirs create(leaves) would make now, deepest last: recorded before it, so that a `delete` after
    this process died in between removes them (those never made are skipped then)."""
    return [d for h in leaves for d in _missing_chain(h)]


def _missing_chain(h: dict[str, Any]) -> list[str]:
    missing = []
    d = h["dir"]
    while not os.path.isdir(d) and d != h["mount"]:
        missing.append(d)
        d = os.path.dirname(d)
    return missing[::-1]


def _mkdir_chain(h: dict[str, Any]) -> list[str]:
    created = []
    for d in _missing_chain(h):
        try:
            os.mkdir(d, 0o755)
        except FileExistsError:
            continue
        created.append(d)
    if "cpuset" in h["controllers"] and h["version"] == 1:
        # cgroup2's empty cpuset.cpus means the parent's (and its root has none to copy); on v1, every
        # level from the top, not only the ones made here: another pyrt may have just made a
        # shared parent and not yet filled it, and a cpuset without cpus or mems takes no task (ENOSPC).
        rel = os.path.relpath(h["dir"], h["mount"]).split(os.sep)
        for i in range(1, len(rel) + 1):
            d = os.path.join(h["mount"], *rel[:i])
            _copy_cpuset(os.path.dirname(d), d)
    return created


def _find(leaves: list[str], controller: str, v1_file: str, v2_file: str) -> tuple[str, int] | None:
    """The file to write for a controller: the v1 hierarchy that has it, else cgroup2."""
    if controller == "blkio" and not _has_v1("blkio"):
        controller = "io"  # cgroup2 calls it io
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
    """The controller in the subtree_control of every ancestor of leaf.  One a rootless caller may not
    write (above its delegated subtree) is fine when the controller is on there already."""
    rel = os.path.relpath(leaf, mount)
    ancestors = [mount]
    for part in rel.split("/")[:-1] if rel != "." else []:
        ancestors.append(os.path.join(ancestors[-1], part))
    for d in ancestors:
        path = os.path.join(d, "cgroup.subtree_control")
        try:
            _write_raw(path, f"+{controller}")
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM) or controller not in _read(path).split():
                raise SetupError("cgroup", f"write '+{controller}' to {path}: {exc.strerror}") from None


def _limit(v: Any, version: int) -> str:
    return ("max" if version == 2 else "-1") if int(v) < 0 else str(v)


# linux.resources field -> (controller, v1 file, v2 file or None, formatter(value, version)).
SETTINGS: dict[str, tuple[str, str, str | None, Any]] = {
    "memory.limit": ("memory", "memory.limit_in_bytes", "memory.max", _limit),
    "memory.reservation": ("memory", "memory.soft_limit_in_bytes", "memory.low", _limit),
    "memory.swap": ("memory", "memory.memsw.limit_in_bytes", None, _limit),
    "memory.swappiness": ("memory", "memory.swappiness", None, lambda v, _: str(v)),
    "memory.disableOOMKiller": ("memory", "memory.oom_control", None, lambda v, _: "1" if v else "0"),
    "cpu.shares": ("cpu", "cpu.shares", "cpu.weight",
                   lambda v, ver: str(v) if ver == 1 else str(1 + ((max(2, min(v, 262144)) - 2) * 9999) // 262142)),
    "cpu.period": ("cpu", "cpu.cfs_period_us", None, lambda v, _: str(v)),
    "cpu.quota": ("cpu", "cpu.cfs_quota_us", None, lambda v, _: str(v)),
    "cpu.realtimePeriod": ("cpu", "cpu.rt_period_us", None, lambda v, _: str(v)),
    "cpu.realtimeRuntime": ("cpu", "cpu.rt_runtime_us", None, lambda v, _: str(v)),
    "cpu.cpus": ("cpuset", "cpuset.cpus", "cpuset.cpus", lambda v, _: str(v)),
    "cpu.mems": ("cpuset", "cpuset.mems", "cpuset.mems", lambda v, _: str(v)),
    "pids.limit": ("pids", "pids.max", "pids.max", lambda v, _: "max" if int(v) < 0 else str(v)),  # v1 too
    "blockIO.weight": ("blkio", "blkio.weight", "io.weight",
                       lambda v, ver: str(v) if ver == 1 else f"default {1 + (max(10, v) - 10) * 9999 // 990}"),
    "blockIO.leafWeight": ("blkio", "blkio.leaf_weight", None, lambda v, _: str(v)),
}
# Order matters: periods before quotas and runtimes; memory+swap is ordered at write time.
ORDER = ("cpu.period", "cpu.quota", "cpu.realtimePeriod", "cpu.realtimeRuntime")


def apply(leaves: list[str], res: dict[str, Any]) -> None:
    """Write the resource limits of the plan's cgroup section (or of `pyrt update`)."""
    settings = dict(res.get("settings") or {})
    if "memory.swappiness" in settings and _v2_only(leaves, "memory"):
        from pyrt.common.log import log

        del settings["memory.swappiness"]  # cgroup2 has no such file: runc leaves it out
        log.warning("linux.resources.memory.swappiness: cgroup2 has no swappiness; ignored (as runc does)")
    if _v2_only(leaves, "cpu") and ("cpu.quota" in settings or "cpu.period" in settings):
        _cpu_max(leaves, settings.pop("cpu.quota", None), settings.pop("cpu.period", None))
    if _v2_only(leaves, "memory") and "memory.swap" in settings:
        _swap_max(leaves, settings.get("memory.limit"), settings.pop("memory.swap"))
    if "cpu.realtimeRuntime" in settings:
        _rt_parents(leaves, settings)
    if "cpu.period" in settings and "cpu.quota" in settings:
        _period_and_quota(leaves, settings.pop("cpu.period"), settings.pop("cpu.quota"))
    if settings.get("memory.limit", 0) < 0 and "memory.swap" not in settings and _has_memsw(leaves):
        settings["memory.swap"] = -1  # no memory limit means no memory+swap limit either (as runc)
    if "memory.limit" in settings and "memory.swap" in settings:
        _memory_and_swap(leaves, settings.pop("memory.limit"), settings.pop("memory.swap"))
    for key in sorted(settings, key=lambda k: ORDER.index(k) if k in ORDER else -1):
        controller, v1_file, v2_file, fmt = SETTINGS[key]
        if v2_file is None and _v2_only(leaves, controller):
            raise SetupError(f"linux.resources.{key}", "has no cgroup2 equivalent (the host's cgroups are v2)")
        path, version = _need(leaves, controller, v1_file, v2_file or "", f"linux.resources.{key}")
        if version == 2 and not v2_file:
            raise SetupError(f"linux.resources.{key}", "has no cgroup2 equivalent on this host")
        if not os.path.exists(path):
            raise SetupError(f"linux.resources.{key}", f"{path}: not offered by this kernel")
        _write(path, fmt(settings[key], version), f"linux.resources.{key}")
    for size, limit in res.get("hugepages") or []:
        path, version = _need(leaves, "hugetlb", f"hugetlb.{size}.limit_in_bytes", f"hugetlb.{size}.max",
                              "linux.resources.hugepageLimits")
        if not os.path.exists(path):
            raise SetupError("linux.resources.hugepageLimits", f"no {size} huge pages on this host ({path})")
        _write(path, str(limit), "linux.resources.hugepageLimits")
    for field, kind, major, minor, value in res.get("io_devices") or []:
        _io_device(leaves, field, kind, major, minor, value)
    for device, handles, objects in res.get("rdma") or []:
        path, _ = _need(leaves, "rdma", "rdma.max", "rdma.max", f"linux.resources.rdma.{device}")
        limits = " ".join(f"{name}={'max' if n is None else n}"
                          for name, n in (("hca_handle", handles), ("hca_object", objects)))
        _write(path, f"{device} {limits}", f"linux.resources.rdma.{device}")
    for key, value in (res.get("unified") or {}).items():
        v2 = [leaf for leaf, version in with_versions(leaves) if version == 2]
        if not v2:
            raise SetupError(f"linux.resources.unified.{key}", "no cgroup2 hierarchy on this host")
        path = os.path.join(v2[0], key)
        if not os.path.exists(path):
            raise SetupError(f"linux.resources.unified.{key}", f"{path}: no such cgroup2 file")
        _write(path, value, f"linux.resources.unified.{key}")
    if res.get("devices"):
        found = _find(leaves, "devices", "devices.allow", "") if _has_v1("devices") else None
        if found is None:  # cgroup2: the allow-list becomes an eBPF program on the container's cgroup
            v2 = [leaf for leaf, version in with_versions(leaves) if version == 2]
            if not v2:
                raise SetupError("linux.resources.devices", "no devices cgroup and no cgroup2 on this host")
            from pyrt.linux import devicefilter

            devicefilter.attach(v2[0], res["devices"])
            return
        base = os.path.dirname(found[0])
        for allow, kind, major, minor, access in res["devices"]:
            rule = "a" if kind == "a" else (
                f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access}")
            _write(os.path.join(base, "devices.allow" if allow else "devices.deny"), rule, "linux.resources.devices")


# blockIO's per-device entries: kind -> (v1 file, v2 file)
IO_FILES = {"weight": ("blkio.weight_device", "io.weight"), "leaf_weight": ("blkio.leaf_weight_device", ""),
            "rbps": ("blkio.throttle.read_bps_device", "io.max"),
            "wbps": ("blkio.throttle.write_bps_device", "io.max"),
            "riops": ("blkio.throttle.read_iops_device", "io.max"),
            "wiops": ("blkio.throttle.write_iops_device", "io.max")}


def _io_device(leaves: list[str], field: str, kind: str, major: int, minor: int, value: int) -> None:
    """One device's weight or throttle: v1's "MAJ:MIN VALUE" files, cgroup2's io.weight ("MAJ:MIN W",
    converted from 10-1000 as blockIO.weight is) and io.max ("MAJ:MIN rbps=N", 0 meaning no limit)."""
    v1_file, v2_file = IO_FILES[kind]
    path, version = _need(leaves, "blkio", v1_file, v2_file, field)
    if version == 2 and not v2_file:
        raise SetupError(field, "has no cgroup2 equivalent (the host's cgroups are v2)")
    if not os.path.exists(path):
        raise SetupError(field, f"{path}: not offered by this kernel")
    if version == 1:
        line = f"{major}:{minor} {value}"
    elif kind == "weight":
        line = f"{major}:{minor} {1 + (max(10, value) - 10) * 9999 // 990}"
    else:
        line = f"{major}:{minor} {kind}={value or 'max'}"
    _write(path, line, field)


def _v2_only(leaves: list[str], controller: str) -> bool:
    """The controller lives in cgroup2 here (a pure-v2 host, or a hybrid one without it in v1)."""
    found = _find(leaves, controller, "\0", "\0")
    return found is not None and found[1] == 2


def _cpu_max(leaves: list[str], quota: int | None, period: int | None) -> None:
    """quota and period are one file on cgroup2: cpu.max "QUOTA PERIOD" (max: no quota)."""
    path, _ = _need(leaves, "cpu", "", "cpu.max", "linux.resources.cpu.quota")
    current = "max 100000"
    try:
        with open(path) as fh:
            current = fh.read().strip() or current
    except OSError:
        pass
    cur_quota, cur_period = current.split()
    q = cur_quota if quota is None else ("max" if quota <= 0 else str(quota))
    _write(path, f"{q} {cur_period if period is None else period}", "linux.resources.cpu.quota")


def _swap_max(leaves: list[str], limit: int | None, swap: int) -> None:
    """OCI swap is memory+swap (as v1's memsw); cgroup2's memory.swap.max is the swap alone."""
    path, _ = _need(leaves, "memory", "", "memory.swap.max", "linux.resources.memory.swap")
    if swap < 0:
        _write(path, "max", "linux.resources.memory.swap")
        return
    if limit is None or limit < 0 or swap < limit:
        raise SetupError("linux.resources.memory.swap", "on cgroup2 swap needs a memory limit not above it "
                         "(memory.swap.max is swap - limit)")
    _write(path, str(swap - limit), "linux.resources.memory.swap")


def with_versions(leaves: list[str]) -> list[tuple[str, int]]:
    """(dir, 1 or 2; 0 outside any cgroup mount) for each leaf."""
    mounts = [(h["mount"] + "/", int(h["version"])) for h in hierarchies()]
    return [(leaf, next((v for m, v in mounts if leaf.startswith(m)), 0)) for leaf in leaves]


def _has_memsw(leaves: list[str]) -> bool:
    found = None if _v2_only(leaves, "memory") else _find(leaves, "memory", "memory.memsw.limit_in_bytes", "\0")
    return found is not None and os.path.exists(found[0])


def _memory_and_swap(leaves: list[str], limit: int, swap: int) -> None:
    """v1 wants memsw >= limit at every moment: raise memsw first when the limit goes up."""
    lim_path, _ = _need(leaves, "memory", "memory.limit_in_bytes", "memory.max", "linux.resources.memory.limit")
    sw_path = os.path.join(os.path.dirname(lim_path), "memory.memsw.limit_in_bytes")
    if not os.path.exists(sw_path):
        raise SetupError("linux.resources.memory.swap", "swap accounting is off on this host (no memsw files)")
    with open(sw_path) as fh:
        current_swap = int(fh.read())
    memsw, mem = (sw_path, swap, "linux.resources.memory.swap"), (lim_path, limit, "linux.resources.memory.limit")
    for path, value, field in [memsw, mem] if limit < 0 or limit > current_swap else [mem, memsw]:
        _write(path, _limit(value, 1), field)


def _period_and_quota(leaves: list[str], period: int, quota: int) -> None:
    """v1 checks quota/period against the parent's limit at every write: the period first (as runc);
    where the kernel refuses it (the old quota over the new period is more than the parent allows), the
    quota first and the period after it."""
    q_path, _ = _need(leaves, "cpu", "cpu.cfs_quota_us", "", "linux.resources.cpu.quota")
    p_path = os.path.join(os.path.dirname(q_path), "cpu.cfs_period_us")
    try:
        _write_raw(p_path, str(period))
        period_done = True
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise SetupError("linux.resources.cpu.period", f"write {period} to {p_path}: {exc.strerror}") from None
        period_done = False
    _write(q_path, str(quota), "linux.resources.cpu.quota")
    if not period_done:
        _write(p_path, str(period), "linux.resources.cpu.period")


def _rt_parents(leaves: list[str], settings: dict[str, Any]) -> None:
    """A new v1 cpu group has no real-time runtime: give it to every level, parents first."""
    if _v2_only(leaves, "cpu"):
        raise SetupError("linux.resources.cpu.realtimeRuntime", "no real-time cpu cgroup on cgroup2")
    leaf, version = _need(leaves, "cpu", "cpu.rt_runtime_us", "", "linux.resources.cpu.realtimeRuntime")
    if version != 1 or not os.path.exists(leaf):
        raise SetupError("linux.resources.cpu.realtimeRuntime", "no real-time cpu cgroup on this host")
    mount = next(h["mount"] for h in hierarchies() if leaf.startswith(h["mount"] + "/"))
    d = os.path.dirname(leaf)
    chain = []
    while d != mount:
        chain.append(d)
        d = os.path.dirname(d)
    runtime, period = settings["cpu.realtimeRuntime"], settings.get("cpu.realtimePeriod")
    for level in reversed(chain[1:]):  # the ancestors (the leaf itself is written by apply)
        if period:
            _write(os.path.join(level, "cpu.rt_period_us"), str(period), "linux.resources.cpu.realtimePeriod")
        with open(os.path.join(level, "cpu.rt_runtime_us")) as fh:
            if int(fh.read()) >= runtime:
                continue
        _write(os.path.join(level, "cpu.rt_runtime_us"), str(runtime), "linux.resources.cpu.realtimeRuntime")


def _need(leaves: list[str], controller: str, v1: str, v2: str, json_path: str) -> tuple[str, int]:
    """The file for a controller's setting, or a SetupError naming the field."""
    found = _find(leaves, controller, v1, v2) if v2 or _has_v1(controller) else None
    if found is None:
        raise SetupError(json_path, f"no {controller} cgroup controller on this host")
    return found


def _has_v1(controller: str) -> bool:
    return any(h["version"] == 1 and controller in h["controllers"] for h in hierarchies())


def join(leaves: list[str], pid: int) -> None:
    for leaf in leaves:
        _write(os.path.join(leaf, "cgroup.procs"), str(pid))


def freeze(leaves: list[str], on: bool, timeout: float = 5.0) -> None:
    """Freeze (or thaw) every process of the container, and wait until the kernel says so."""
    found = freezer_file(leaves)
    if found is None:
        raise SetupError("pause", "no freezer cgroup on this host")
    path, version = found
    want = ("FROZEN" if on else "THAWED") if version == 1 else ("1" if on else "0")
    _write(path, want)
    deadline = time.monotonic() + timeout
    while True:
        with open(path if version == 1 else os.path.join(os.path.dirname(path), "cgroup.events")) as fh:
            text = fh.read()
        done = text.strip() == want if version == 1 else f"frozen {want}" in text
        if done:
            return
        if time.monotonic() > deadline:
            raise SetupError("pause" if on else "resume", f"{path} is still not {want}")
        time.sleep(0.001)
        if version == 1 and on:
            _write(path, want)  # FREEZING can stall on a task in the middle of a fork: ask again


def read_stats(leaves: list[str]) -> dict[str, Any]:
    """runc-style stats from the cgroup files this host has."""
    def read(controller_file: str) -> str | None:
        for leaf in leaves:
            path = os.path.join(leaf, controller_file)
            if os.path.exists(path):
                try:
                    with open(path) as fh:
                        return fh.read()
                except OSError:
                    return None
        return None

    out: dict[str, Any] = {}
    usage, percpu = read("cpuacct.usage"), read("cpuacct.usage_percpu")
    cpu_stat = _fields(read("cpu.stat"))
    if usage is not None:
        out["cpu"] = {"usage": {"total": int(usage), "percpu": [int(x) for x in (percpu or "").split()]}}
    elif "usage_usec" in cpu_stat:  # cgroup2: microseconds, no per-cpu figures
        out["cpu"] = {"usage": {"total": cpu_stat["usage_usec"] * 1000, "user": cpu_stat.get("user_usec", 0) * 1000,
                                "kernel": cpu_stat.get("system_usec", 0) * 1000}}
    if "cpu" in out and ("nr_periods" in cpu_stat):
        out["cpu"]["throttling"] = {"periods": cpu_stat.get("nr_periods", 0),
                                    "throttledPeriods": cpu_stat.get("nr_throttled", 0),
                                    "throttledTime": cpu_stat.get("throttled_time", cpu_stat.get("throttled_usec", 0)
                                                                  * 1000)}
    mem_usage, mem_max, mem_limit = read("memory.usage_in_bytes"), read("memory.max_usage_in_bytes"), \
        read("memory.limit_in_bytes")
    if mem_usage is None and read("memory.current") is not None:  # cgroup2
        mem_usage, mem_max, mem_limit = read("memory.current"), read("memory.peak"), read("memory.max")
    if mem_usage is not None:
        out["memory"] = {"usage": {"usage": int(mem_usage), "max": _number(mem_max), "limit": _number(mem_limit)}}
        raw = read("memory.stat")
        if raw:
            out["memory"]["raw"] = _fields(raw)
        events = _fields(read("memory.events"))
        if events:
            out["memory"]["usage"]["failcnt"] = events.get("max", 0)
            out["memory"]["oomKills"] = events.get("oom_kill", 0)
    current, maximum = read("pids.current"), read("pids.max")
    if current is not None:
        out["pids"] = {"current": int(current), "limit": _number(maximum)}
    return out


def _fields(text: str | None) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines) as numbers."""
    out = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value)
        except ValueError:
            continue
    return out


def _number(text: str | None) -> int:
    """A cgroup number; "max" (no limit) and a missing file are 0, as runc reports them."""
    value = (text or "").strip()
    return int(value) if value.isdigit() else 0
