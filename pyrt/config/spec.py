"""config.json as frozen attrs models.

``parse_spec`` turns a parsed config.json into a ``Spec``; every error
is a SpecError naming the JSON path (``linux.namespaces[2].type: unknown
namespace "foo"``).  Unknown fields are ignored, as the runtime spec asks; a known
field pyrt cannot honour yet is refused by the planner, naming the field.
No syscalls here.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import attrs

from pyrt.common.constants import HOOK_PHASES, RLIMITS
from pyrt.common.errors import SpecError
from pyrt.common.jsonread import Reader

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
U32 = 2**32 - 1
U64 = 2**64 - 1
I64 = 2**63 - 1


class _Value:
    """repr, == and hash of the frozen models, written once here instead of generated for each class:
    attrs compiles those three for every class at import, 5.3 ms of this module's 14 ms here, and a
    cold plan (no planner, no cached plan: every config an engine sends) pays the import."""

    __slots__ = ()

    def _names(self) -> list[str]:
        cls: Any = type(self)  # an attrs class: every subclass is one
        return [f.name for f in attrs.fields(cls)]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._names())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))


@attrs.frozen(repr=False, eq=False)  # _Value's
class IdMapping(_Value):
    container_id: int
    host_id: int
    size: int


@attrs.frozen(repr=False, eq=False)  # _Value's
class Mount(_Value):
    destination: str
    type: str | None
    source: str | None
    options: tuple[str, ...]
    path: str  # JSON path, for messages
    uid_mappings: tuple[IdMapping, ...] = ()
    gid_mappings: tuple[IdMapping, ...] = ()


@attrs.frozen(repr=False, eq=False)  # _Value's
class User(_Value):
    uid: int
    gid: int
    umask: int | None
    additional_gids: tuple[int, ...]


@attrs.frozen(repr=False, eq=False)  # _Value's
class Rlimit(_Value):
    type: str
    soft: int
    hard: int


@attrs.frozen(repr=False, eq=False)  # _Value's
class Capabilities(_Value):
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


@attrs.frozen(repr=False, eq=False)  # _Value's
class Process(_Value):
    terminal: bool
    user: User
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    capabilities: Capabilities | None
    rlimits: tuple[Rlimit, ...]
    no_new_privileges: bool
    oom_score_adj: int | None
    apparmor_profile: str
    selinux_label: str
    unsupported: tuple[str, ...]  # JSON paths of known fields pyrt does not apply yet
    console_size: tuple[int, int] | None = None  # (height, width)
    scheduler: dict[str, Any] | None = None
    io_priority: dict[str, Any] | None = None
    exec_cpu_affinity: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False)  # _Value's
class Namespace(_Value):
    type: str
    path: str | None


@attrs.frozen(repr=False, eq=False)  # _Value's
class Device(_Value):
    type: str
    path: str
    major: int
    minor: int
    file_mode: int | None
    uid: int | None
    gid: int | None


@attrs.frozen(repr=False, eq=False)  # _Value's
class DeviceRule(_Value):
    allow: bool
    type: str
    major: int | None
    minor: int | None
    access: str


@attrs.frozen(repr=False, eq=False)  # _Value's
class Resources(_Value):
    """Only what is set: engines send 0 for "leave unchanged", and runc leaves those alone."""

    devices: tuple[DeviceRule, ...]
    settings: dict[str, int | str | bool]  # "memory.limit", "cpu.cpus", ... -> value
    hugepages: tuple[tuple[str, int], ...]  # (pageSize, limit)
    unified: dict[str, str]
    unsupported: tuple[str, ...]
    # blockIO's per-device entries: (JSON path, "weight" | "leaf_weight" | "rbps" | "wbps" | "riops" |
    # "wiops", major, minor, value); rdma: (device, hcaHandles or None, hcaObjects or None)
    io_devices: tuple[tuple[str, str, int, int, int], ...] = ()
    rdma: tuple[tuple[str, int | None, int | None], ...] = ()


@attrs.frozen(repr=False, eq=False)  # _Value's
class Linux(_Value):
    namespaces: tuple[Namespace, ...]
    uid_mappings: tuple[IdMapping, ...]
    gid_mappings: tuple[IdMapping, ...]
    devices: tuple[Device, ...]
    cgroups_path: str | None
    resources: Resources
    sysctl: dict[str, str]
    seccomp: dict[str, Any] | None
    rootfs_propagation: str | None
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    mount_label: str
    unsupported: tuple[str, ...]
    personality: dict[str, Any] | None = None
    time_offsets: dict[str, Any] | None = None
    memory_policy: dict[str, Any] | None = None
    net_devices: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False)  # _Value's
class Hook(_Value):
    path: str
    args: tuple[str, ...]
    env: tuple[str, ...] | None
    timeout: int | None


@attrs.frozen(repr=False, eq=False)  # _Value's
class Spec(_Value):
    oci_version: str
    root_path: str
    root_readonly: bool
    process: Process | None
    hostname: str | None
    domainname: str | None
    mounts: tuple[Mount, ...]
    annotations: dict[str, str]
    linux: Linux
    unsupported: tuple[str, ...]
    hooks: dict[str, tuple[Hook, ...]] = attrs.field(factory=dict)


def parse_spec(data: Any) -> Spec:
    top = Reader(data, "")
    version = top.string("ociVersion", required=True) or ""
    if not _SEMVER.match(version):
        raise SpecError("ociVersion", f"{version!r} is not a SemVer version")
    if not version.startswith("1."):
        raise SpecError("ociVersion", f"unsupported major version in {version!r} (pyrt implements 1.x)")
    root = top.obj("root", required=True)
    assert root is not None
    root_path = root.string("path", required=True) or ""
    if not root_path:
        raise SpecError("root.path", "must not be empty")
    proc = top.obj("process")
    linux = top.obj("linux") or Reader({}, "linux")
    unsupported: list[str] = []
    hooks: dict[str, tuple[Hook, ...]] = {}
    hooks_r = top.obj("hooks")
    if hooks_r is not None:
        for phase in HOOK_PHASES:
            hooks[phase] = tuple(_hook(h) for h in hooks_r.objs(phase))
    return Spec(
        oci_version=version,
        root_path=root_path,
        root_readonly=root.boolean("readonly"),
        process=parse_process(proc) if proc is not None else None,
        hostname=top.string("hostname"),
        domainname=top.string("domainname"),
        mounts=tuple(_mount(m) for m in top.objs("mounts")),
        annotations=_annotations(top),
        linux=_linux(linux),
        unsupported=tuple(unsupported),
        hooks={k: v for k, v in hooks.items() if v},
    )




def _hook(r: Reader) -> Hook:
    path = r.string("path", required=True) or ""
    if not path.startswith("/"):
        raise SpecError(r.at("path"), f"must be an absolute path, got {path!r}")
    for i, item in enumerate(r.strs("env")):
        if "=" not in item:
            raise SpecError(f"{r.at('env')}[{i}]", f"expected KEY=VALUE, got {item!r}")
    # env absent (or null): the hook gets the runtime's own environment (as runc and crun); [] is empty
    env = r.strs("env") if r.has("env") else None
    return Hook(path, r.strs("args"), env, r.integer("timeout", lo=1, hi=2**31 - 1))


def _unique_name(r: Reader, known: Collection[str], seen: set[str], what: str) -> str:
    """The item's "type": one of ``known``, and not given twice in its list."""
    name = r.string("type", required=True) or ""
    if name not in known:
        raise SpecError(r.at("type"), f"unknown {what} {name!r}")
    if name in seen:
        raise SpecError(r.at("type"), f"{what} {name!r} given twice")
    seen.add(name)
    return name


def _annotations(top: Reader) -> dict[str, str]:
    annotations = top.strmap("annotations")
    if "" in annotations:
        raise SpecError("annotations", "keys must not be empty")
    return annotations


def _mount(r: Reader) -> Mount:
    dest = r.string("destination", required=True) or ""
    if not dest:
        raise SpecError(r.at("destination"), "must not be empty")
    uid, gid = tuple(_idmaps(r, "uidMappings")), tuple(_idmaps(r, "gidMappings"))
    if bool(uid) != bool(gid):
        raise SpecError(r.at("uidMappings" if not uid else "gidMappings"), "an idmapped mount needs both mappings")
    return Mount(dest, r.string("type"), r.string("source"), r.strs("options"), r.path, uid, gid)


def parse_process(r: Reader) -> Process:
    args = r.strs("args")
    if not args:
        raise SpecError(r.at("args"), "must name the program to run (got an empty list)")
    cwd = r.string("cwd", required=True) or ""
    if not cwd.startswith("/"):
        raise SpecError(r.at("cwd"), f"must be an absolute path, got {cwd!r}")
    user_r = r.obj("user", required=True)
    assert user_r is not None
    user = User(
        uid=user_r.integer("uid", required=True, lo=0, hi=U32) or 0,
        gid=user_r.integer("gid", required=True, lo=0, hi=U32) or 0,
        umask=user_r.integer("umask", lo=0, hi=0o7777),
        additional_gids=user_r.ints("additionalGids"),
    )
    caps_r = r.obj("capabilities")
    caps = None
    if caps_r is not None:
        caps = Capabilities(*(caps_r.strs(k) for k in ("bounding", "effective", "inheritable", "permitted", "ambient")))
    rlimits = []
    seen: set[str] = set()
    for rl in r.objs("rlimits"):
        name = _unique_name(rl, RLIMITS, seen, "rlimit")
        soft = rl.integer("soft", required=True, lo=0, hi=U64) or 0
        hard = rl.integer("hard", required=True, lo=0, hi=U64) or 0
        if soft > hard:
            raise SpecError(rl.path, f"soft limit {soft} is above the hard limit {hard}")
        rlimits.append(Rlimit(name, soft, hard))
    for i, env in enumerate(r.strs("env")):
        if "=" not in env:
            raise SpecError(f"{r.at('env')}[{i}]", f"expected KEY=VALUE, got {env!r}")
    console = r.obj("consoleSize")
    console_size = None
    if console is not None:
        console_size = (console.integer("height", lo=0, hi=65535) or 0, console.integer("width", lo=0, hi=65535) or 0)
    unsupported: list[str] = []
    return Process(
        terminal=r.boolean("terminal"),
        user=user,
        args=args,
        env=r.strs("env"),
        cwd=cwd,
        capabilities=caps,
        rlimits=tuple(rlimits),
        no_new_privileges=r.boolean("noNewPrivileges"),
        oom_score_adj=r.integer("oomScoreAdj", lo=-1000, hi=1000),
        apparmor_profile=r.string("apparmorProfile", default="") or "",
        selinux_label=r.string("selinuxLabel", default="") or "",
        unsupported=tuple(unsupported),
        console_size=console_size,
        scheduler=_raw_obj(r, "scheduler"),
        io_priority=_raw_obj(r, "ioPriority"),
        exec_cpu_affinity=_raw_obj(r, "execCPUAffinity"),
    )


def _raw_obj(r: Reader, key: str) -> dict[str, Any] | None:
    """A sub-object kept as JSON data; the planner validates it, naming its paths."""
    sub = r.obj(key)
    return None if sub is None else sub.data


def _linux(r: Reader) -> Linux:
    namespaces = []
    seen: set[str] = set()
    for ns in r.objs("namespaces"):
        kind = _unique_name(ns, NAMESPACE_TYPES, seen, "namespace")
        path = ns.string("path")
        if path is not None and not path.startswith("/"):
            raise SpecError(ns.at("path"), f"must be an absolute path, got {path!r}")
        namespaces.append(Namespace(kind, path or None))
    devices = []
    for d in r.objs("devices"):
        kind = d.string("type", required=True) or ""
        if kind not in ("c", "b", "u", "p"):
            raise SpecError(d.at("type"), f"unknown device type {kind!r} (expected c, b, u or p)")
        path = d.string("path", required=True) or ""
        if not path.startswith("/") or path.rstrip("/") == "":
            raise SpecError(d.at("path"), f"must be an absolute path, got {path!r}")
        needs_numbers = kind != "p"
        devices.append(Device(
            type=kind,
            path=path,
            major=d.integer("major", required=needs_numbers, lo=0, hi=U32) or 0,
            minor=d.integer("minor", required=needs_numbers, lo=0, hi=U32) or 0,
            file_mode=d.integer("fileMode", lo=0, hi=0o7777),
            uid=d.integer("uid", lo=0, hi=U32),
            gid=d.integer("gid", lo=0, hi=U32),
        ))
    seccomp = r.obj("seccomp")
    propagation = r.string("rootfsPropagation")
    if propagation not in (None, "", "private", "rprivate", "slave", "rslave", "shared", "rshared",
                           "unbindable", "runbindable"):
        raise SpecError(r.at("rootfsPropagation"), f"unknown propagation {propagation!r}")
    sysctl = r.strmap("sysctl")
    unsupported = [r.at(k) for k in ("intelRdt",) if r.has(k)]
    return Linux(
        namespaces=tuple(namespaces),
        uid_mappings=tuple(_idmaps(r, "uidMappings")),
        gid_mappings=tuple(_idmaps(r, "gidMappings")),
        devices=tuple(devices),
        cgroups_path=r.string("cgroupsPath") or None,
        resources=_resources(r.obj("resources") or Reader({}, r.at("resources"))),
        sysctl=sysctl,
        seccomp=seccomp.data if seccomp is not None else None,
        rootfs_propagation=propagation or None,
        masked_paths=_absolute(r, "maskedPaths"),
        readonly_paths=_absolute(r, "readonlyPaths"),
        mount_label=r.string("mountLabel", default="") or "",
        unsupported=tuple(unsupported),
        personality=_raw_obj(r, "personality"),
        time_offsets=_raw_obj(r, "timeOffsets"),
        memory_policy=_raw_obj(r, "memoryPolicy"),
        net_devices=_raw_obj(r, "netDevices"),
    )


def _absolute(r: Reader, key: str) -> tuple[str, ...]:
    paths = r.strs(key)
    for i, path in enumerate(paths):
        if not path.startswith("/"):
            raise SpecError(f"{r.at(key)}[{i}]", f"must be an absolute path, got {path!r}")
    return paths


def _idmaps(r: Reader, key: str) -> list[IdMapping]:
    return [
        IdMapping(
            m.integer("containerID", required=True, lo=0, hi=U32) or 0,
            m.integer("hostID", required=True, lo=0, hi=U32) or 0,
            m.integer("size", required=True, lo=1, hi=U32) or 0,
        )
        for m in r.objs(key)
    ]


def _is_set(value: Any) -> bool:
    """Engines send zeros and empty objects for "leave unchanged"."""
    if isinstance(value, dict):
        return any(_is_set(v) for v in value.values())
    if isinstance(value, list):
        return bool(value)
    return value not in (None, 0, "", False)


# linux.resources fields pyrt applies: group -> field -> (kind, min, max).
RESOURCE_FIELDS: dict[str, dict[str, tuple[str, int, int]]] = {
    "memory": {"limit": ("int", -1, I64), "reservation": ("int", -1, I64), "swap": ("int", -1, I64),
               "swappiness": ("int", 0, 100), "disableOOMKiller": ("bool", 0, 1)},
    "cpu": {"shares": ("int", 0, U64), "quota": ("int", -1, I64), "period": ("int", 0, U64),
            "realtimeRuntime": ("int", -1, I64), "realtimePeriod": ("int", 0, U64), "cpus": ("str", 0, 0),
            "mems": ("str", 0, 0)},
    "pids": {"limit": ("int", -1, I64)},
    "blockIO": {"weight": ("int", 0, 1000), "leafWeight": ("int", 0, 1000)},
}


# Fields of runtime-spec's LinuxResources that pyrt knows but does not apply: an error when set.
KNOWN_UNSUPPORTED: dict[str, tuple[str, ...]] = {
    "memory": ("kernel", "kernelTCP", "useHierarchy", "checkBeforeUpdate"),
    "cpu": ("burst", "idle"),
}
# blockIO's per-device lists -> what each entry sets.
IO_DEVICE_LISTS = {"throttleReadBpsDevice": "rbps", "throttleWriteBpsDevice": "wbps",
                   "throttleReadIOPSDevice": "riops", "throttleWriteIOPSDevice": "wiops"}


def parse_resources(data: Any, path: str = "") -> Resources:
    """linux.resources, or what `pyrt update --resources` reads."""
    return _resources(Reader(data, path))


def _resources(r: Reader) -> Resources:
    rules = []
    for d in r.objs("devices"):
        kind = d.string("type", default="a") or "a"
        if kind not in ("a", "c", "b"):
            raise SpecError(d.at("type"), f"unknown device type {kind!r} (expected a, c or b)")
        access = d.string("access", default="rwm") or "rwm"
        if not access or set(access) - set("rwm"):
            raise SpecError(d.at("access"), f"expected letters from 'rwm', got {access!r}")
        if "allow" not in d.data:
            raise SpecError(d.at("allow"), "required")
        rules.append(DeviceRule(d.boolean("allow"), kind, d.integer("major", lo=-1, hi=I64),
                                d.integer("minor", lo=-1, hi=I64), access))
    settings: dict[str, int | str | bool] = {}
    for group, fields in RESOURCE_FIELDS.items():
        sub = r.obj(group)
        if sub is None:
            continue
        for key, value in sub.data.items():
            where = sub.at(key)
            if key not in fields:
                if key in KNOWN_UNSUPPORTED.get(group, ()) and _is_set(value):
                    raise SpecError(where, "not supported by this version of pyrt")
                continue  # unknown properties are ignored, as the spec asks
            kind, lo, hi = fields[key]
            if kind == "int":
                got: int | str | bool | None = sub.integer(key, lo=lo, hi=hi)
            elif kind == "str":
                got = sub.string(key)
            else:
                got = sub.boolean(key)
            if _is_set(got):
                settings[f"{group}.{key}"] = got  # type: ignore[assignment]
    hugepages = []
    for hp in r.objs("hugepageLimits"):
        size = hp.string("pageSize", required=True) or ""
        if not size[:-2].isdigit() or size[-2:] not in ("KB", "MB", "GB"):
            raise SpecError(hp.at("pageSize"), f"expected a size like 2MB, got {size!r}")
        hugepages.append((size, hp.integer("limit", required=True, lo=0, hi=U64) or 0))
    unified = r.strmap("unified")
    for key in unified:
        if "/" in key or key.startswith(".") or "." not in key:
            raise SpecError(f"{r.at('unified')}.{key}", "not a cgroup2 interface file name")
    unsupported = [r.at(key) for key, value in r.data.items() if key == "network" and _is_set(value)]
    return Resources(tuple(rules), settings, tuple(hugepages), unified, tuple(unsupported), _io_devices(r),
                     _rdma(r))


def _io_devices(r: Reader) -> tuple[tuple[str, str, int, int, int], ...]:
    blkio = r.obj("blockIO")
    if blkio is None:
        return ()
    out = []
    for d in blkio.objs("weightDevice"):
        major, minor = d.integer("major", required=True, lo=0, hi=I64) or 0, d.integer("minor", required=True, lo=0,
                                                                                             hi=I64) or 0
        for key, kind in (("weight", "weight"), ("leafWeight", "leaf_weight")):
            value = d.integer(key, lo=10, hi=1000)
            if value is not None:
                out.append((d.at(key), kind, major, minor, value))
    for name, kind in IO_DEVICE_LISTS.items():
        for d in blkio.objs(name):
            out.append((d.at("rate"), kind, d.integer("major", required=True, lo=0, hi=I64) or 0,
                        d.integer("minor", required=True, lo=0, hi=I64) or 0,
                        d.integer("rate", required=True, lo=0, hi=U64) or 0))
    return tuple(out)


def _rdma(r: Reader) -> tuple[tuple[str, int | None, int | None], ...]:
    rdma = r.obj("rdma")
    if rdma is None:
        return ()
    out = []
    for device in rdma.data:
        limits = rdma.obj(device)
        if limits is None:
            continue
        out.append((device, limits.integer("hcaHandles", lo=0, hi=2**32 - 1),
                    limits.integer("hcaObjects", lo=0, hi=2**32 - 1)))
    return tuple(out)
