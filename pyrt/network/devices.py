"""linux.netDevices: move host interfaces into the container's network namespace (pyroute2).

Everything is checked before anything moves (each device exists on the host, no
name is taken in the container's namespace); then each device moves and is
renamed in one RTM_NEWLINK (a name with %d lets the kernel pick the number), its
permanent global addresses of every family, which the kernel drops on the way,
are added again inside, and it is set up.  If a later
device fails, the ones already moved go back under their old names, with their
addresses: nothing stays half-moved.  Devices are never moved back at delete:
in a namespace pyrt made they go with it (virtual ones are destroyed, physical
ones return to the host by the kernel); in a namespace given by path they stay.

pyroute2 costs ~150 ms to import here: only a config with netDevices pays it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from pyrt.common.constants import CLONE_NEWNET
from pyrt.common.errors import SetupError

FIELD = "linux.netDevices"
IFA_F_PERMANENT, IFF_UP = 0x80, 0x1


def _netlink_in(ns_fd: int) -> socket.socket:
    """A NETLINK_ROUTE socket that lives in the namespace ns_fd (sockets keep their creator's netns)."""
    from pyrt.linux import sys as S

    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        S.setns(ns_fd, CLONE_NEWNET)
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, 0)
        finally:
            S.setns(own, CLONE_NEWNET)
    finally:
        os.close(own)


def _snapshot(ipr: Any, index: int) -> tuple[str, bool, list[tuple[str, int]]]:
    """(MAC address, up?, permanent global addresses of every family) of a device."""
    link = ipr.get_links(index)[0]
    addrs = [(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)
             if a["scope"] == 0 and (a.get_attr("IFA_FLAGS") or a["flags"]) & IFA_F_PERMANENT]
    return link.get_attr("IFLA_ADDRESS"), bool(link["flags"] & IFF_UP), addrs


def _move(src: Any, dst: Any, dst_fd: int, index: int, name: str, mac: str, addrs: list[tuple[str, int]],
          up: bool = True) -> str:
    """Move and rename (a name with %d is the kernel's to pick), add the addresses again, set it up."""
    src.link("set", index=index, net_ns_fd=dst_fd, ifname=name)
    found = [link for link in dst.get_links() if link.get_attr("IFLA_ADDRESS") == mac
             and ("%" in name or link.get_attr("IFLA_IFNAME") == name)]
    if not found:
        raise OSError(f"{name} did not appear in the target namespace")
    dst_index = found[0]["index"]
    for address, prefixlen in addrs:
        dst.addr("add", index=dst_index, address=address, prefixlen=prefixlen)
    if up:
        dst.link("set", index=dst_index, state="up")
    return str(found[0].get_attr("IFLA_IFNAME"))


def move(devices: list[list[str]], pid: int) -> None:
    """Move [host name, container name] pairs into the network namespace of pid."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    moved: list[tuple[str, str, str, bool, list[tuple[str, int]]]] = []
    try:
        with IPRoute() as host, IPRoute(use_socket=_netlink_in(ns_fd)) as inside:
            plan = []
            for host_name, name in devices:
                found = host.link_lookup(ifname=host_name)
                if not found:
                    raise SetupError(f"{FIELD}.{host_name}", f"no network device {host_name!r} on the host")
                if inside.link_lookup(ifname=name):
                    raise SetupError(f"{FIELD}.{host_name}", f"the container's network namespace already has "
                                     f"a device named {name!r}")
                plan.append((host_name, name, found[0], *_snapshot(host, found[0])))
            try:
                for host_name, name, index, mac, was_up, addrs in plan:
                    got = _move(host, inside, ns_fd, index, name, mac, addrs)
                    moved.append((host_name, got, mac, was_up, addrs))
            except (NetlinkError, OSError) as exc:
                for host_name, name, mac, was_up, addrs in reversed(moved):  # undo: nothing half-moved
                    back = inside.link_lookup(ifname=name)
                    if back:
                        _move(inside, host, host_fd, back[0], host_name, mac, addrs, was_up)
                failed = plan[len(moved)][0]
                raise SetupError(f"{FIELD}.{failed}", f"moving {failed!r} into the container: {exc}") from None
    finally:
        os.close(ns_fd)
        os.close(host_fd)
