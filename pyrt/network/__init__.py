"""Networking for containers: linux.netDevices (netlink via pyroute2) and CNI networks (--network)."""
