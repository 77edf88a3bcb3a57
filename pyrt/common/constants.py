"""Kernel constants (x86_64), as plain data: safe to import from pure modules (and in_ns, which reads a
plan's namespaces with them)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# x86_64 syscall numbers (the only architecture this project runs on today).
SYS_PIVOT_ROOT = 155
SYS_CAPSET = 126
SYS_KEYCTL = 250
SYS_SECCOMP = 317
SYS_OPENAT2 = 437
SYS_MOUNT_SETATTR = 442

# clone(2) / unshare(2) namespace flags.
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# mount(2) flags.
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_DETACH = 2
# The flags a bind remount sets per mount point (the rest belong to the file system or the call).
MS_PER_MOUNT = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW | MS_NOATIME | MS_NODIRATIME \
    | MS_RELATIME | MS_STRICTATIME

# mount_setattr(2).
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

# openat2(2) resolve flags.
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# renameat2(2).
AT_FDCWD = -100
RENAME_EXCHANGE = 2

# prctl(2).
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_TID_ADDRESS = 40
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# keyctl(2).
KEYCTL_JOIN_SESSION_KEYRING = 1

# seccomp(2).
SECCOMP_SET_MODE_FILTER = 1

# statfs f_type magics, used to check that a mount landed as intended.
FS_MAGIC = {
    "proc": 0x9FA0,
    "sysfs": 0x62656572,
    "tmpfs": 0x01021994,
    "devpts": 0x1CD1,
    "mqueue": 0x19800202,
    "cgroup": 0x27E0EB,
    "cgroup2": 0x63677270,
}

# setrlimit(2) resources by their OCI names.
# The hook phases of config.json, in the order the runtime spec runs them.
HOOK_PHASES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


# Namespace types of config.json: their clone flags and their names under /proc/<pid>/ns.
NS_FLAGS = {
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "mount": CLONE_NEWNS,
    "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each namespace type.
NS_PROC_NAMES = {"user": "user", "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc",
                 "uts": "uts", "cgroup": "cgroup", "time": "time"}


def in_ns(plan: dict[str, Any], ns_type: str) -> bool:
    """Whether the container has a namespace of this type of its own, new or joined by path."""
    return ns_type in plan["new_ns"] or any(j[0] == ns_type for j in plan["join_ns"])
