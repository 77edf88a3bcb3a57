"""Networking for containers, self-contained: linux.netDevices (netlink via pyroute2) and CNI networks
(--network).

May import: linux, common (never seccomp).
"""
