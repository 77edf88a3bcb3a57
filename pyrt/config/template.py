"""`pyrt spec`: the config.json that `runc spec` writes (runc 1.1.5), but for the ociVersion: the version
of the runtime spec pyrt implements (the one `pyrt --version` prints), not runc's 1.0.2-dev."""

from __future__ import annotations

import json
import os
from typing import Any

from pyrt.common.errors import PyrtError
from pyrt.common.version import SPEC_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_spec() -> dict[str, Any]:
    """runc spec's; as runc, a cgroup namespace on a cgroup v2 (unified) host."""
    spec = _base_spec()
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        spec["linux"]["namespaces"].append({"type": "cgroup"})
    return spec


def _base_spec() -> dict[str, Any]:
    return {
        "ociVersion": SPEC_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": list(MASKED),
            "readonlyPaths": list(READONLY),
        },
    }


def rootless_spec(spec: dict[str, Any], uid: int, gid: int) -> dict[str, Any]:
    """What `runc spec --rootless` changes: no network namespace (a user may not create the host-facing
    side of one) and a user namespace mapping root inside to the caller's ids; /sys bound from the host
    (only a network namespace's owner may mount sysfs); no uid=/gid= mount options (ids the single mapping
    lacks); no resources (a user may have no cgroup to write)."""
    linux = spec["linux"]
    namespaces = [ns for ns in linux["namespaces"] if ns["type"] != "network"] + [{"type": "user"}]
    spec["linux"] = {"uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
                     "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
                     **{k: v for k, v in linux.items() if k != "resources"}, "namespaces": namespaces}
    for m in spec["mounts"]:
        if m["destination"] == "/sys":
            m.update(type="none", source="/sys", options=["rbind", *m["options"]])
        elif "options" in m:
            m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
    return spec


def write_spec(bundle: str, seccomp: bool = True, rootless: bool = False) -> None:
    """runc spec's config.json; with ``seccomp`` also Docker's default profile rendered for its capabilities;
    rootless: what `runc spec --rootless` writes, for the calling user."""
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise PyrtError(f"{path} exists: remove it first")
    spec = default_spec()
    if rootless:
        spec = rootless_spec(spec, os.geteuid(), os.getegid())
    if seccomp:
        from pyrt.seccomp import profiles

        caps = tuple(spec["process"]["capabilities"]["bounding"])
        spec["linux"]["seccomp"] = profiles.render(profiles.docker_default(), caps)
    try:
        with open(path, "x") as fh:
            json.dump(spec, fh, indent="\t")
    except OSError as exc:
        raise PyrtError(f"{path}: {exc.strerror}") from None
