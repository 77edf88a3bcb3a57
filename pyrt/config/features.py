"""`pyrt features`: what this pyrt supports, as the runtime spec's features document."""

from __future__ import annotations

from typing import Any

from pyrt.common import caps
from pyrt.common.constants import HOOK_PHASES, NS_FLAGS
from pyrt.common.version import SPEC_VERSION, VERSION, commit
from pyrt.config import mountopts


def features() -> dict[str, Any]:
    from pyrt.seccomp.compiler import ACTIONS, ARCHES, OPS

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOK_PHASES),
        "mountOptions": mountopts.all_options(),
        "linux": {
            "namespaces": sorted(NS_FLAGS),
            "capabilities": list(caps.CAPS),
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False, "rdma": False},
            "seccomp": {
                "enabled": True,
                "actions": sorted(ACTIONS),
                "operators": sorted(OPS),
                "archs": sorted(ARCHES),
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                               "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                   "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            },
            "apparmor": {"enabled": True},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
            "netDevices": {"enabled": True},
        },
        "annotations": {
            **({"io.github.seccomp.libseccomp.version": v} if (v := libseccomp_version()) else {}),
            "org.opencontainers.pyrt.version": VERSION,
            "org.opencontainers.pyrt.commit": commit(),
        },
    }


def libseccomp_version() -> str | None:
    """seccomp_version() of the libseccomp that pyseccomp loaded (pyseccomp has no binding for it)."""
    import ctypes

    class _Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    from pyrt.seccomp.binding import load

    try:
        fn = load()._libseccomp.seccomp_version
    except (ImportError, AttributeError):
        return None
    fn.restype = ctypes.POINTER(_Version)
    v = fn().contents
    return f"{v.major}.{v.minor}.{v.micro}"
