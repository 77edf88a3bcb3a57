"""runc's table of mount options, as data: option -> (clear, set) flags and friends.

Pure: the planner turns a mount's option list into flags, propagation changes,
recursive mount_setattr(2) attributes and the filesystem data string.
"""

from __future__ import annotations

from pyrt.common import constants as S

# option: (clear?, flag).  "clear" options remove the flag their positive form sets.
FLAGS: dict[str, tuple[bool, int]] = {
    "acl": (False, 1 << 16),  # MS_POSIXACL
    "async": (True, S.MS_SYNCHRONOUS),
    "atime": (True, S.MS_NOATIME),
    "bind": (False, S.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, S.MS_NODEV),
    "diratime": (True, S.MS_NODIRATIME),
    "dirsync": (False, S.MS_DIRSYNC),
    "exec": (True, S.MS_NOEXEC),
    "iversion": (False, S.MS_I_VERSION),
    "lazytime": (False, S.MS_LAZYTIME),
    "loud": (True, S.MS_SILENT),
    "mand": (False, S.MS_MANDLOCK),
    "noacl": (True, 1 << 16),
    "noatime": (False, S.MS_NOATIME),
    "nodev": (False, S.MS_NODEV),
    "nodiratime": (False, S.MS_NODIRATIME),
    "noexec": (False, S.MS_NOEXEC),
    "noiversion": (True, S.MS_I_VERSION),
    "nolazytime": (True, S.MS_LAZYTIME),
    "nomand": (True, S.MS_MANDLOCK),
    "norelatime": (True, S.MS_RELATIME),
    "nostrictatime": (True, S.MS_STRICTATIME),
    "nosuid": (False, S.MS_NOSUID),
    "nosymfollow": (False, S.MS_NOSYMFOLLOW),
    "rbind": (False, S.MS_BIND | S.MS_REC),
    "relatime": (False, S.MS_RELATIME),
    "remount": (False, S.MS_REMOUNT),
    "ro": (False, S.MS_RDONLY),
    "rw": (True, S.MS_RDONLY),
    "silent": (False, S.MS_SILENT),
    "strictatime": (False, S.MS_STRICTATIME),
    "suid": (True, S.MS_NOSUID),
    "symfollow": (True, S.MS_NOSYMFOLLOW),
    "sync": (False, S.MS_SYNCHRONOUS),
}

PROPAGATION: dict[str, int] = {
    "private": S.MS_PRIVATE,
    "rprivate": S.MS_PRIVATE | S.MS_REC,
    "shared": S.MS_SHARED,
    "rshared": S.MS_SHARED | S.MS_REC,
    "slave": S.MS_SLAVE,
    "rslave": S.MS_SLAVE | S.MS_REC,
    "unbindable": S.MS_UNBINDABLE,
    "runbindable": S.MS_UNBINDABLE | S.MS_REC,
}

# Recursive attributes, applied with mount_setattr(AT_RECURSIVE): option -> (clear?, attr).
RECURSIVE: dict[str, tuple[bool, int]] = {
    "rro": (False, S.MOUNT_ATTR_RDONLY),
    "rrw": (True, S.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, S.MOUNT_ATTR_NOSUID),
    "rsuid": (True, S.MOUNT_ATTR_NOSUID),
    "rnodev": (False, S.MOUNT_ATTR_NODEV),
    "rdev": (True, S.MOUNT_ATTR_NODEV),
    "rnoexec": (False, S.MOUNT_ATTR_NOEXEC),
    "rexec": (True, S.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, S.MOUNT_ATTR_NODIRATIME),
    "rdiratime": (True, S.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, S.MOUNT_ATTR_RELATIME),
    "rnorelatime": (True, S.MOUNT_ATTR__ATIME),
    "rnoatime": (False, S.MOUNT_ATTR_NOATIME),
    "ratime": (True, S.MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, S.MOUNT_ATTR_STRICTATIME),
    "rnostrictatime": (True, S.MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, S.MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, S.MOUNT_ATTR_NOSYMFOLLOW),
}

# Options pyrt handles itself rather than passing to the kernel.
EXTENSIONS = ("tmpcopyup", "idmap", "ridmap")


def all_options() -> list[str]:
    return sorted([*FLAGS, *PROPAGATION, *RECURSIVE, *EXTENSIONS])


def parse(options: tuple[str, ...]) -> dict[str, object]:
    """Split a mount's options into flags, propagation, recursive attrs and data."""
    flags = 0
    propagation: list[int] = []
    attr_set = 0
    attr_clr = 0
    data: list[str] = []
    extensions: list[str] = []
    for opt in options:
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        elif opt in RECURSIVE:
            clear, attr = RECURSIVE[opt]
            if clear:
                attr_clr |= attr
                attr_set &= ~attr
            else:
                attr_set |= attr
                attr_clr &= ~attr
            if attr in (S.MOUNT_ATTR_NOATIME, S.MOUNT_ATTR_STRICTATIME, S.MOUNT_ATTR_RELATIME) or opt == "rnorelatime":
                attr_clr |= S.MOUNT_ATTR__ATIME  # the atime modes are one field
        elif opt in EXTENSIONS:
            extensions.append(opt)
        else:
            data.append(opt)
    return {
        "flags": flags,
        "propagation": propagation,
        "attr_set": attr_set,
        "attr_clr": attr_clr,
        "data": ",".join(data),
        "extensions": extensions,
    }
