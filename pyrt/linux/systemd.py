"""The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is a transient scope unit that
systemd makes, through its D-Bus API, as runc's systemd driver does.

cgroupsPath is "slice:prefix:name" (runc's rules): the slice defaults to system.slice, a dash in a
slice name nests it (a-b.slice is a.slice/a-b.slice), the unit is "prefix-name.scope" (a name ending
in ".slice" is a slice unit instead).  The scope is started with the container's first process in it
(PIDs), Delegate=yes, accounting on, and the unit properties runc sets for the limits; the limits are
also written to the cgroup files (cgroups.apply), so that either alone holds them.  delete stops it.

The D-Bus client is jeepney (pure Python; ~12 ms to import here, so only this module imports it, and
only the commands that talk to systemd import this module).  parse_path and the property mapping are
pure and tested without systemd.
"""

from __future__ import annotations

import time

from pyrt.common import posixos as os
from pyrt.common.errors import SetupError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SYSTEMD = ("/org/freedesktop/systemd1", "org.freedesktop.systemd1", "org.freedesktop.systemd1.Manager")
JOB_TIMEOUT = 30.0  # seconds for systemd to start or stop the unit, as runc waits


def running() -> bool:
    """systemd is this host's init (sd_booted's test)."""
    return os.path.isdir("/run/systemd/system")


def parse_path(cgroups_path: str | None, cid: str, default_prefix: str = "pyrt",
               default_slice: str = "system.slice") -> tuple[str, str, str]:
    """(slice, unit name, the unit's cgroup relative to its manager's cgroup: the cgroup2 mount for the
    system's) for linux.cgroupsPath under the systemd driver; an empty cgroupsPath is system.slice:pyrt:<id>
    (user.slice for a user's systemd)."""
    if not cgroups_path:
        slice_name, prefix, name = "", default_prefix, cid
    else:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise SpecError("linux.cgroupsPath", f"expected \"slice:prefix:name\" with --systemd-cgroup, got "
                                                 f"{cgroups_path!r}")
        slice_name, prefix, name = parts
    if not name:
        raise SpecError("linux.cgroupsPath", f"{cgroups_path!r}: the name part is empty")
    if "/" in name or "/" in prefix:
        raise SpecError("linux.cgroupsPath", f"{cgroups_path!r}: a unit name has no '/'")
    if name.endswith(".slice"):
        unit = name
    else:
        unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
    slice_name = slice_name or default_slice
    return slice_name, unit, f"{expand_slice(slice_name)}/{unit}".lstrip("/")


def expand_slice(name: str) -> str:
    """The cgroup path of a slice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> ""."""
    if not name.endswith(".slice") or "/" in name:
        raise SpecError("linux.cgroupsPath", f"{name!r} is not a slice name (NAME.slice, no '/')")
    if name == "-.slice":
        return ""
    stem = name[:-len(".slice")]
    if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
        raise SpecError("linux.cgroupsPath", f"{name!r} is not a valid slice name")
    path, prefix = "", ""
    for part in stem.split("-"):
        prefix = f"{prefix}-{part}" if prefix else part
        path += f"/{prefix}.slice"
    return path


def _bitmask(spec: str, field: str) -> bytes:
    """cpuset syntax ("0-2,4") -> the little-endian byte mask systemd's AllowedCPUs takes."""
    bits = 0
    try:
        for part in spec.split(","):
            lo, _, hi = part.strip().partition("-")
            for i in range(int(lo), int(hi or lo) + 1):
                bits |= 1 << i
    except ValueError:
        raise SpecError(field, f"{spec!r} is not a CPU or node list") from None
    return bits.to_bytes(max(1, (bits.bit_length() + 7) // 8), "little")


def unit_properties(settings: dict[str, Any]) -> list[tuple[str, tuple[str, Any]]]:
    """The unit properties runc sets for linux.resources (cgroup2 names), as (name, (signature, value))."""
    props: list[tuple[str, tuple[str, Any]]] = []
    limit = settings.get("memory.limit")
    if limit:
        props.append(("MemoryMax", ("t", 2**64 - 1 if limit < 0 else limit)))
    if settings.get("memory.reservation") is not None:
        low = settings["memory.reservation"]
        props.append(("MemoryLow", ("t", 2**64 - 1 if low < 0 else low)))
    swap = settings.get("memory.swap")
    if swap is not None:
        if swap < 0:
            props.append(("MemorySwapMax", ("t", 2**64 - 1)))
        elif limit is not None and limit >= 0 and swap >= limit:
            props.append(("MemorySwapMax", ("t", swap - limit)))  # OCI swap is memory+swap
    if settings.get("cpu.shares"):
        shares = settings["cpu.shares"]
        props.append(("CPUWeight", ("t", 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142)))
    quota, period = settings.get("cpu.quota"), settings.get("cpu.period")
    if period:
        props.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota:
        per_sec = 2**64 - 1 if quota < 0 else (quota * 1_000_000 // (period or 100_000) + 9999) // 10000 * 10000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    if settings.get("cpu.cpus"):
        props.append(("AllowedCPUs", ("ay", _bitmask(settings["cpu.cpus"], "linux.resources.cpu.cpus"))))
    if settings.get("cpu.mems"):
        props.append(("AllowedMemoryNodes", ("ay", _bitmask(settings["cpu.mems"], "linux.resources.cpu.mems"))))
    pids = settings.get("pids.limit")
    if pids:
        props.append(("TasksMax", ("t", 2**64 - 1 if pids < 0 else pids)))
    if settings.get("blockIO.weight"):
        props.append(("IOWeight", ("t", 1 + (max(10, settings["blockIO.weight"]) - 10) * 9999 // 990)))
    return props


def user_bus_address() -> str:
    """The user's bus, as a rootless runc finds it: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus."""
    address = os.getenv("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    xdg = os.getenv("XDG_RUNTIME_DIR")
    if not xdg:
        raise SetupError("--systemd-cgroup", "rootless: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is "
                         "set, so the user's systemd cannot be found")
    return f"unix:path={xdg}/bus"


def _connect_user_bus(address: str) -> Any:
    """A connection to the user's bus, authenticated as the host's uid (jeepney would say the uid of this
    user namespace, which the bus rejects: it checks the socket peer's, which the kernel translates)."""
    import socket
    from binascii import hexlify

    from jeepney.bus import get_bus
    from jeepney.io.blocking import DBusConnection

    from pyrt.common.privilege import host_uid

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(2.0)
        sock.connect(get_bus(address))
        sock.sendall(b"\0AUTH EXTERNAL " + hexlify(str(host_uid()).encode()) + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(512)
            if not chunk:
                break
            reply += chunk
        if not reply.startswith(b"OK "):
            raise OSError(f"the bus refused this user ({reply.decode(errors='replace').strip() or 'no reply'})")
        sock.sendall(b"BEGIN\r\n")
        sock.settimeout(None)
        return DBusConnection(sock)
    except BaseException:
        sock.close()
        raise


class Systemd:
    """One connection to systemd's manager: the system's, or (user=True, rootless) the user's own, on the
    user's bus."""

    def __init__(self, user: bool = False) -> None:
        try:
            from jeepney import DBusAddress
            from jeepney.io.blocking import open_dbus_connection
        except ImportError as exc:  # pragma: no cover - a broken install
            raise SetupError("--systemd-cgroup", f"the D-Bus client is missing ({exc})") from None
        try:
            if user:
                address = user_bus_address()
                self.conn = _connect_user_bus(address)
            else:
                self.conn = open_dbus_connection(bus="SYSTEM")
        except (OSError, ValueError) as exc:
            where = f"the user's bus ({address})" if user else "the system bus"
            raise SetupError("--systemd-cgroup", f"cannot reach systemd on {where}: {exc}") from None
        self.manager = DBusAddress(_SYSTEMD[0], bus_name=_SYSTEMD[1], interface=_SYSTEMD[2])

    def control_group(self) -> str:
        """The manager's own cgroup: "" for the system's, /user.slice/user-UID.slice/user@UID.service for a
        user's, under which its slices and scopes live."""
        return str(self._property(_SYSTEMD[0], _SYSTEMD[2], "ControlGroup") or "")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        from jeepney import DBusErrorResponse, new_method_call
        from jeepney.wrappers import unwrap_msg

        try:  # the blocking connection hands back an error reply as a message: unwrap_msg raises it
            return unwrap_msg(self.conn.send_and_get_reply(new_method_call(self.manager, method, signature, body),
                                                           timeout=JOB_TIMEOUT))
        except DBusErrorResponse as exc:
            raise _BusError(exc.name, " ".join(str(a) for a in exc.data)) from None

    def _property(self, path: str, interface: str, name: str) -> Any:
        """A property of one of systemd's objects; None when the object is gone (or has no such property)."""
        from jeepney import DBusAddress, new_method_call

        props = DBusAddress(path, bus_name=_SYSTEMD[1], interface="org.freedesktop.DBus.Properties")
        reply = self.conn.send_and_get_reply(new_method_call(props, "Get", "ss", (interface, name)),
                                             timeout=JOB_TIMEOUT)
        return None if reply.header.message_type.name == "error" else reply.body[0][1]

    def _job(self, method: str, signature: str, body: tuple[Any, ...], unit: str) -> None:
        """Call a method that queues a job, and wait until the job's object is gone from the bus.  Polled:
        systemd's JobRemoved signals go to subscribed clients only, and one was missed for the stop job of
        a unit that had just gone inactive."""
        job = self._call(method, signature, body)[0]
        deadline = time.monotonic() + JOB_TIMEOUT
        while self._property(job, "org.freedesktop.systemd1.Job", "State") is not None:
            if time.monotonic() > deadline:
                raise SetupError("--systemd-cgroup", f"systemd did not finish {method} of {unit} within "
                                                     f"{JOB_TIMEOUT:.0f} s")
            time.sleep(0.005)

    def active_state(self, unit: str) -> str:
        """The unit's ActiveState ("active", "failed", ...), or "" when systemd has no such unit loaded."""
        try:
            path = self._call("GetUnit", "s", (unit,))[0]
        except _BusError:
            return ""
        return str(self._property(path, "org.freedesktop.systemd1.Unit", "ActiveState") or "")

    def start_scope(self, unit: str, slice_name: str, pid: int, settings: dict[str, Any], description: str) -> None:
        """Start the transient scope (or slice) unit with pid in it; a failed leftover of the same name is
        reset and the start tried once more, as runc does."""
        props: list[tuple[str, tuple[str, Any]]] = [("Description", ("s", description))]
        if unit.endswith(".slice"):  # a slice is placed by its name; its parent is wanted, as runc does
            props.append(("Wants", ("as", [slice_name])))
        else:
            props += [("Slice", ("s", slice_name)), ("Delegate", ("b", True))]
        props += [("PIDs", ("au", [pid])), ("MemoryAccounting", ("b", True)), ("CPUAccounting", ("b", True)),
                  ("IOAccounting", ("b", True)), ("TasksAccounting", ("b", True)),
                  ("DefaultDependencies", ("b", False)), *unit_properties(settings)]
        for attempt in (1, 2):
            try:
                self._job("StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "replace", props, []), unit)
            except _BusError as exc:
                if exc.name.endswith(".UnitExists") and attempt == 1:
                    self.reset_failed(unit)
                    continue
                raise SetupError("linux.cgroupsPath", f"systemd refused to start {unit}: {exc}") from None
            state = self.active_state(unit)
            if state != "active":
                self.reset_failed(unit)
                raise SetupError("linux.cgroupsPath", f"systemd could not start {unit} (it is {state or 'gone'})")
            return

    def set_properties(self, unit: str, settings: dict[str, Any]) -> None:
        props = unit_properties(settings)
        if props:
            try:
                self._call("SetUnitProperties", "sba(sv)", (unit, True, props))
            except _BusError as exc:
                raise SetupError("linux.resources", f"systemd refused the limits of {unit}: {exc}") from None

    def stop(self, unit: str) -> None:
        """Stop the unit (its processes are killed first by the caller); one that is gone already is fine."""
        try:
            self._job("StopUnit", "ss", (unit, "replace"), unit)
        except _BusError as exc:
            if not exc.name.endswith(".NoSuchUnit"):
                raise SetupError("delete", f"systemd could not stop {unit}: {exc}") from None
        self.reset_failed(unit)

    def reset_failed(self, unit: str) -> None:
        try:
            self._call("ResetFailedUnit", "s", (unit,))
        except _BusError:
            pass  # not failed, or gone


class _BusError(Exception):
    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{text} ({name})")
        self.name = name

