"""Planning of the runtime-spec 1.2 process and linux fields: scheduler, ioPriority,
execCPUAffinity, personality, timeOffsets and memoryPolicy.  Pure: JSON -> plain data,
every error naming its JSON path."""

from __future__ import annotations

from typing import Any

from pyrt.common.errors import SpecError
from pyrt.common.jsonread import Reader

SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4,
                  "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
               "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
              "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15}


def _choice(r: Reader, key: str, table: dict[str, int], required: bool = True) -> int:
    name = r.string(key, required=required)
    if name is None:
        return 0
    if name not in table:
        raise SpecError(r.at(key), f"unknown value {name!r} (one of {', '.join(table)})")
    return table[name]


def _flags(r: Reader, key: str, table: dict[str, int]) -> int:
    out = 0
    for name, path in r.array(key):
        if name not in table:
            raise SpecError(path, f"unknown flag {name!r}")
        out |= table[name]
    return out


def cpu_list(text: str, path: str) -> list[int]:
    """ "0-3,7" -> [0, 1, 2, 3, 7] """
    out: list[int] = []
    try:
        for part in filter(None, text.replace(" ", "").split(",")):
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise SpecError(path, f"expected a list such as 0-3,7, got {text!r}") from None
    if not out:
        raise SpecError(path, "must name at least one cpu or node")
    return out


def scheduler(data: dict[str, Any] | None, path: str) -> dict[str, int] | None:
    if data is None:
        return None
    r = Reader(data, path)
    policy = _choice(r, "policy", SCHED_POLICIES)
    plan = {"policy": policy, "flags": _flags(r, "flags", SCHED_FLAGS),
            "nice": r.integer("nice", default=0, lo=-20, hi=19) or 0,
            "priority": r.integer("priority", default=0, lo=0, hi=99) or 0,
            "runtime": r.integer("runtime", default=0, lo=0, hi=2**63 - 1) or 0,
            "deadline": r.integer("deadline", default=0, lo=0, hi=2**63 - 1) or 0,
            "period": r.integer("period", default=0, lo=0, hi=2**63 - 1) or 0}
    if policy in (1, 2) and not plan["priority"]:
        raise SpecError(r.at("priority"), "SCHED_FIFO and SCHED_RR need a priority of 1-99")
    if policy not in (1, 2) and plan["priority"]:
        raise SpecError(r.at("priority"), "only SCHED_FIFO and SCHED_RR take a priority")
    return plan


def io_priority(data: dict[str, Any] | None, path: str) -> int | None:
    if data is None:
        return None
    r = Reader(data, path)
    klass = _choice(r, "class", IOPRIO_CLASSES)
    prio = r.integer("priority", default=0, lo=0, hi=7) or 0
    return klass << 13 | prio


def exec_affinity(data: dict[str, Any] | None, path: str) -> dict[str, list[int] | None] | None:
    if data is None:
        return None
    r = Reader(data, path)
    initial, final = r.string("initial"), r.string("final")
    return {"initial": cpu_list(initial, r.at("initial")) if initial else None,
            "final": cpu_list(final, r.at("final")) if final else None}


def personality(data: dict[str, Any] | None, path: str) -> int | None:
    if data is None:
        return None
    r = Reader(data, path)
    domain = _choice(r, "domain", PERSONALITY_DOMAINS)
    if r.array("flags"):
        raise SpecError(r.at("flags"), "no personality flags are defined by the runtime spec")
    return domain


def time_offsets(data: dict[str, Any] | None, path: str, new_ns: list[str]) -> str | None:
    if data is None:
        return None
    if "time" not in new_ns:
        raise SpecError(path, "needs a new time namespace (linux.namespaces: {\"type\": \"time\"})")
    r = Reader(data, path)
    lines = []
    for clock in r.data:
        if clock not in ("monotonic", "boottime"):
            raise SpecError(r.at(clock), "only monotonic and boottime clocks have offsets")
        c = r.obj(clock)
        assert c is not None
        lines.append(f"{clock} {c.integer('secs', default=0, lo=-(2**62), hi=2**62)} "
                     f"{c.integer('nanosecs', default=0, lo=0, hi=999_999_999)}\n")
    return "".join(lines)


def memory_policy(data: dict[str, Any] | None, path: str) -> dict[str, Any] | None:
    if data is None:
        return None
    r = Reader(data, path)
    mode = _choice(r, "mode", MPOL_MODES)
    nodes_text = r.string("nodes")
    nodes = cpu_list(nodes_text, r.at("nodes")) if nodes_text else []
    if mode in (2, 3, 5, 6) and not nodes:
        raise SpecError(r.at("nodes"), "this mode needs nodes")
    if mode in (0, 4) and nodes:
        raise SpecError(r.at("nodes"), "MPOL_DEFAULT and MPOL_LOCAL take no nodes")
    return {"mode": mode | _flags(r, "flags", MPOL_FLAGS), "nodes": nodes}


def planned(p: Any) -> dict[str, Any]:
    """The process-level fields of a parsed Process, planned."""
    return {"scheduler": scheduler(p.scheduler, "process.scheduler"),
            "ioprio": io_priority(p.io_priority, "process.ioPriority"),
            "exec_affinity": exec_affinity(p.exec_cpu_affinity, "process.execCPUAffinity")}


def valid_ifname(name: str) -> bool:
    """The kernel's dev_valid_name: 1-15 bytes, not . or .., no /, : or whitespace."""
    return (0 < len(name.encode()) < 16 and name not in (".", "..")
            and not any(c in "/:" or c.isspace() for c in name))


def net_devices(data: dict[str, Any] | None, path: str, has_netns: bool) -> list[list[str]]:
    """linux.netDevices -> [[host name, name in the container], ...] (runtime-spec 1.2)."""
    if not data:
        return []
    if not has_netns:
        raise SpecError(path, "needs a network namespace (new, or joined by path) to move devices into")
    r = Reader(data, path)
    out: list[list[str]] = []
    targets: dict[str, str] = {}
    for host_name in r.data:
        if not valid_ifname(host_name):
            raise SpecError(r.at(host_name), f"{host_name!r} is not a valid interface name")
        entry = r.obj(host_name)
        if entry is None:
            raise SpecError(r.at(host_name), "expected an object")
        name = entry.string("name") or host_name
        if not valid_ifname(name):
            raise SpecError(entry.at("name"), f"{name!r} is not a valid interface name")
        if name in targets:
            raise SpecError(entry.at("name"), f"{name!r} is also the name given to {targets[name]!r}")
        targets[name] = host_name
        out.append([host_name, name])
    return out
