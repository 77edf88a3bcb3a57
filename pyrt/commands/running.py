"""pause / resume / update / ps / events: what engines call on a live container."""

from __future__ import annotations

import sys
import time

from pyrt.commands import state as st
from pyrt.common import posixos as os
from pyrt.common.errors import PyrtError, SpecError, StateError
from pyrt.common.fastjson import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _live(store: st.Store, cid: str, allowed: tuple[str, ...], verb: str) -> dict[str, Any]:
    record = store.read(cid)
    status = st.status(store, record)
    if status not in allowed:
        raise StateError(f"cannot {verb} a container that is {status}" if status != "stopped"
                         else "container not running")
    _need_cgroup(record, verb)
    return record


def _need_cgroup(record: dict[str, Any], verb: str) -> None:
    """A rootless container where the user may write no cgroup has none of its own (as with runc)."""
    if not record.get("cgroup_leaves") and not record.get("systemd_unit"):
        raise StateError(f"cannot {verb} container {record['id']}: it has no cgroup of its own (it was created "
                         "rootless where this user may write no cgroup)")


def pause(store: st.Store, cid: str) -> None:
    from pyrt.linux import cgroups

    fd = store.lock(cid)
    try:
        record = _live(store, cid, ("running", "created"), "pause")
        cgroups.freeze(record["cgroup_leaves"], True)
    finally:
        os.close(fd)


def resume(store: st.Store, cid: str) -> None:
    from pyrt.linux import cgroups

    fd = store.lock(cid)
    try:
        record = store.read(cid)
        if st.status(store, record) != "paused":
            raise StateError("container not paused")
        _need_cgroup(record, "resume")
        cgroups.freeze(record["cgroup_leaves"], False)
    finally:
        os.close(fd)


_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _bytes(text: str, flag: str) -> int:
    t = text.strip().lower().rstrip("b")
    try:
        if t == "-1":
            return -1
        if t and t[-1] in _UNITS:
            return int(float(t[:-1]) * _UNITS[t[-1]])
        return int(t)
    except ValueError:
        raise SpecError(flag, f"expected a size such as 64m or 1073741824, got {text!r}") from None


def update(store: st.Store, cid: str, resources: str | None, flags: dict[str, tuple[str, str, str, str]]) -> None:
    """runc update: --resources FILE|- (LinuxResources JSON; 0 leaves a value unchanged) and/or flags
    (the flags given: flag -> (group, field, kind, value), from cli.UPDATE_FLAGS)."""
    from pyrt.common.jsonread import parse_json_bytes
    from pyrt.config.spec import parse_resources
    from pyrt.linux import cgroups

    data: dict[str, Any] = {}
    if resources is not None:
        raw = sys.stdin.buffer.read() if resources == "-" else _read(resources)
        loaded = parse_json_bytes(raw, "--resources" if resources == "-" else resources)
        if not isinstance(loaded, dict):
            raise SpecError("--resources", "expected a JSON object (LinuxResources)")
        data = loaded
    for flag, (group, key, kind, value) in flags.items():
        if kind == "bytes":
            parsed: Any = _bytes(value, f"--{flag}")
        elif kind == "int":
            try:
                parsed = int(value)
            except ValueError:
                raise SpecError(f"--{flag}", f"expected an integer, got {value!r}") from None
        else:
            parsed = value
        data.setdefault(group, {})[key] = parsed
    res = parse_resources(data, "")
    if res.unsupported:
        raise SpecError(res.unsupported[0], "not supported by this version of pyrt")
    if res.devices:
        raise SpecError("devices", "device rules cannot be updated (as runc)")
    fd = store.lock(cid)
    try:
        record = _live(store, cid, ("created", "running", "paused"), "update")
        if record.get("systemd_unit"):  # the unit too, or a systemd reload would put the old limits back
            from pyrt.linux import systemd

            with systemd.Systemd(record.get("systemd_user", False)) as bus:
                bus.set_properties(record["systemd_unit"], res.settings)
        cgroups.apply(record["cgroup_leaves"], {"settings": res.settings, "hugepages": list(res.hugepages),
                                                "unified": res.unified, "io_devices": list(res.io_devices),
                                                "rdma": list(res.rdma)})
    finally:
        os.close(fd)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise SpecError("--resources", f"{path}: {exc.strerror}") from None


def ps(store: st.Store, cid: str, fmt: str, ps_args: list[str]) -> str:
    from pyrt.linux import cgroupdirs

    record = store.read(cid)
    if record.get("cgroup_leaves"):
        pids = sorted(set(cgroupdirs.pids(record["cgroup_leaves"])))
    elif not st.init_alive(record):
        pids = []
    elif record.get("pid_ns"):  # rootless without a cgroup: what shares init's pid namespace
        from pyrt.linux.processes import same_pid_namespace

        pids = same_pid_namespace(record["pid"])
    else:
        pids = [record["pid"]]
    if fmt == "json":
        return dumps(pids) + "\n"
    import subprocess

    try:
        out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PyrtError(f"ps: {exc}") from None
    lines = out.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise PyrtError("ps: its output has no PID column")
    col = header.index("PID")
    keep = [line for line in lines[1:] if len(line.split()) > col and line.split()[col].isdigit()
            and int(line.split()[col]) in pids]
    return "\n".join([lines[0], *keep]) + "\n"


def events(store: st.Store, cid: str, stats_once: bool, interval: float) -> None:
    """JSON lines as runc writes them: {"type": "stats", "id": ..., "data": {...}}."""
    from pyrt.linux import cgroups

    while True:
        record = store.read(cid)
        if st.status(store, record) == "stopped":
            if stats_once:
                raise StateError("container not running")
            return
        _need_cgroup(record, "read the statistics of")
        data = cgroups.read_stats(record["cgroup_leaves"])
        sys.stdout.write(dumps({"type": "stats", "id": cid, "data": data}) + "\n")
        sys.stdout.flush()
        if stats_once:
            return
        time.sleep(interval)
