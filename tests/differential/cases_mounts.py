"""Mounts and devices: what the container sees of its file systems and /dev."""

from __future__ import annotations

import os
from pathlib import Path

from tests.differential.edits import (
    HOST_DIR,
    PRIVATE_DIR,
    bind,
    caps,
    chain,
    device,
    device_rule,
    drop_mount,
    idmapped_bind,
    linux,
    mount,
    process,
    replace_mount,
    set_path,
    userns,
    writable_root,
)
from tests.differential.harness import Case, RootfsEdit, Session

M = "mounts"
D = "devices"
OPTS = "grep -E ' {0} ' /proc/self/mounts | cut -d' ' -f3,4"
MODES = "stat -c '%n %F %a %u:%g' {0}"
DEVS = "for f in /dev/*; do stat -c '%n %F %a %u:%g %t:%T' $f; done"
IDMAP = "runc 1.1.5 predates idmapped mounts and binds the source as it is; crun shifts its ids"
CORE = "crun adds /dev/core -> /proc/kcore; runc does not"
OPEN = "(: > {0}) 2>/dev/null && echo opened || echo refused"
ALL_CAPS = caps(
    bounding=["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"], effective=["CAP_SYS_ADMIN"], permitted=["CAP_SYS_ADMIN"]
)


def symlink(name: str, target: str) -> RootfsEdit:
    def edit(rootfs: Path) -> None:
        path = rootfs / name.lstrip("/")
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        os.symlink(target, path)

    return edit


def make_file(name: str, text: str = "in the rootfs\n") -> RootfsEdit:
    def edit(rootfs: Path) -> None:
        path = rootfs / name.lstrip("/")
        path.unlink(missing_ok=True)  # the rootfs is hard links to the harness's copy: never write through one
        path.write_text(text)

    return edit


def proc_as_file(rootfs: Path) -> None:
    (rootfs / "proc").rmdir()
    (rootfs / "proc").write_text("")


def run_no_pivot(s: Session) -> str:
    return s.obs("run", "--no-pivot", s.id)


# A process inside (not root: mapping uid 0 into a new user namespace needs CAP_SETFCAP) mounts a fresh
# /proc from a nested user and pid namespace: the kernel allows that only where a full proc mount is
# visible in the mount namespace (the host's, when the root is not pivoted).
NESTED_PROC = "unshare -U -r -m -p -f mount -t proc proc /tmp 2>/dev/null && echo mounted || echo refused"
AS_USER = process(user={"uid": 1000, "gid": 1000})


CASES = [
    Case(
        M,
        "tmpfs with size and mode",
        MODES.format("/mnt") + "; " + OPTS.format("/mnt"),
        edit=mount("/mnt", options=["size=1m", "mode=0700"]),
    ),
    Case(
        M, "tmpfs nosuid nodev noexec", OPTS.format("/mnt"), edit=mount("/mnt", options=["nosuid", "nodev", "noexec"])
    ),
    Case(
        M,
        "tmpfs read-only",
        "touch /mnt/x 2>/dev/null; echo $?; " + OPTS.format("/mnt"),
        edit=mount("/mnt", options=["ro"]),
    ),
    Case(M, "tmpfs owned by uid and gid", MODES.format("/mnt"), edit=mount("/mnt", options=["uid=1000", "gid=1000"])),
    Case(M, "tmpfs atime options", OPTS.format("/mnt"), edit=mount("/mnt", options=["noatime", "nodiratime"])),
    Case(
        M,
        "bind of a host directory, read-only",
        "cat /mnt/file; touch /mnt/x 2>/dev/null; echo $?",
        edit=bind("/mnt", options=("bind", "ro")),
    ),
    Case(M, "bind of a host directory, read-write", "touch /mnt/rw && echo $? && rm /mnt/rw", edit=bind("/mnt")),
    Case(M, "rbind", "cat /mnt/file", edit=bind("/mnt", options=("rbind",))),
    Case(
        M,
        "bind of a host file onto a missing path",
        "cat /etc/from-host; " + MODES.format("/etc/from-host"),
        edit=bind("/etc/from-host", source=f"{HOST_DIR}/file"),
    ),
    Case(
        M,
        "bind of a host file over a rootfs file",
        "cat /etc/hosts",
        edit=bind("/etc/hosts", source=f"{HOST_DIR}/file"),
        rootfs=make_file("etc/hosts"),
    ),
    Case(
        M,
        "bind with nosuid nodev ro",
        OPTS.format("/mnt"),
        edit=bind("/mnt", options=("bind", "nosuid", "nodev", "ro")),
    ),
    Case(
        M,
        "bind with type none",
        "cat /mnt/file",
        edit=lambda c: c["mounts"].append(
            {"destination": "/mnt", "type": "none", "source": HOST_DIR, "options": ["rbind", "rprivate"]}
        ),
    ),
    Case(
        M,
        "bind without a type",
        "cat /mnt/file",
        edit=lambda c: c["mounts"].append({"destination": "/mnt", "source": HOST_DIR, "options": ["bind"]}),
    ),
    Case(M, "bind source relative to the bundle", "ls /mnt | grep -c busybox", edit=bind("/mnt", source="rootfs/bin")),
    # (in a user namespace over /tmp: the namespace's root may not make /mnt in a rootfs the host's root owns)
    Case(
        M,
        "bind source a user namespace cannot reach",
        "cat /tmp/file",
        edit=chain(userns(), bind("/tmp", source=PRIVATE_DIR)),
    ),
    Case(
        M,
        "idmapped bind mount",
        "stat -c '%u:%g' /mnt/owned",
        edit=idmapped_bind("/mnt"),
        follow="crun",
        refs_differ=IDMAP,
    ),
    Case(
        M,
        "idmapped bind mount in a user namespace",
        "stat -c '%u:%g' /tmp/owned",
        edit=chain(userns(), idmapped_bind("/tmp", host_id=1000)),
    ),
    Case(M, "bind source missing", "true", edit=bind("/mnt", source="/no/such/source")),
    Case(
        M,
        "bind onto /",
        "ls /bin/busybox; touch /x 2>/dev/null; echo $?",
        edit=chain(writable_root, bind("/", source="rootfs", options=("rbind", "ro"))),
        refs_differ="crun fails (mount to ''): runc binds the source over the rootfs",
    ),
    Case(
        M,
        "mount points made for nested destinations",
        MODES.format("/a /a/b /a/b/c"),
        edit=mount("/a/b/c"),
        refs_differ="crun makes the missing parents 1755, runc 755",
    ),
    Case(
        M,
        "mount point for a file bind in a new directory",
        MODES.format("/new /new/file"),
        edit=bind("/new/file", source=f"{HOST_DIR}/file"),
    ),
    Case(
        M,
        "destination through a symlink in the rootfs",
        "ls -d /tmp/x && " + OPTS.format("/tmp/x"),
        edit=mount("/link/x"),
        rootfs=symlink("link", "/tmp"),
    ),
    Case(
        M,
        "destination symlink pointing out of the rootfs",
        OPTS.format("/escape"),
        edit=mount("/escape/x"),
        rootfs=symlink("escape", "../../../../../../tmp"),
    ),
    Case(M, "relative destination", OPTS.format("/mnt"), edit=mount("mnt")),
    Case(M, "unknown file system type", "true", edit=mount("/mnt", type="nosuchfs", source="x")),
    Case(M, "unknown mount option", "true", edit=mount("/mnt", options=["frobnicate"])),
    Case(M, "/proc is a symlink in the rootfs", "ls /proc/self/ | head -1", rootfs=symlink("proc", "/tmp")),
    Case(M, "/sys is a symlink in the rootfs", "ls /sys | head -1", rootfs=symlink("sys", "/tmp")),
    Case(M, "/proc is a file in the rootfs", "true", rootfs=proc_as_file),
    Case(
        M,
        "read-only /dev with its submounts",
        "ls /dev/pts /dev/shm >/dev/null && echo ok; " + OPTS.format("/dev") + "; touch /dev/x 2>/dev/null; echo $?",
        edit=replace_mount("/dev", options=["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]),
    ),
    Case(M, "sysfs read-write", OPTS.format("/sys"), edit=replace_mount("/sys", options=["nosuid", "noexec", "nodev"])),
    Case(
        M,
        "cgroup mount listing",
        "ls /sys/fs/cgroup | sort",
        refs_differ="crun binds net_cls and net_prio too (runc leaves out hierarchies it has no use for)",
        differs="on a hybrid host pyrt puts the container in a cgroup2 leaf too (cgroup.kill, cgroup2-only "
        "limits) and binds it as 'unified', as the host has it",
        expect="exit=0\n"
        + "".join(
            f"{n}\n"
            for n in ("blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd", "unified")
        ),
    ),
    Case(
        M,
        "cgroup mount options",
        OPTS.format("/sys/fs/cgroup"),
        refs_differ="runc's tmpfs is mode=755, crun's size=1024k",
        differs="the config says ro: pyrt makes the "
        "tmpfs under the cgroup binds read-only too, runc and crun leave it writable",
        expect="exit=0\ntmpfs ro,nosuid,nodev,noexec,relatime,mode=755\n",
    ),
    Case(
        M,
        "no /dev mount: runtime makes the default devices",
        DEVS,
        edit=chain(
            drop_mount("/dev"), drop_mount("/dev/pts"), drop_mount("/dev/shm"), drop_mount("/dev/mqueue"), writable_root
        ),
        refs_differ=CORE,
    ),
    Case(M, "devpts options", OPTS.format("/dev/pts")),
    Case(M, "mqueue", OPTS.format("/dev/mqueue")),
    Case(
        M, "rootfsPropagation private", "grep -c shared: /proc/self/mountinfo", edit=linux(rootfsPropagation="private")
    ),
    Case(M, "rootfsPropagation slave", "grep -c master: /proc/self/mountinfo", edit=linux(rootfsPropagation="slave")),
    Case(
        M,
        "rootfsPropagation shared",
        "grep ' / / ' /proc/self/mountinfo | grep -c shared:",
        edit=linux(rootfsPropagation="shared"),
    ),
    Case(
        M,
        "bind with rshared propagation",
        "grep ' /mnt ' /proc/self/mountinfo | grep -c shared:",
        edit=bind("/mnt", options=("rbind", "rshared")),
        refs_differ="crun keeps the mount private here (the grep finds nothing); runc makes it shared",
    ),
    Case(M, "masked paths are read-only tmpfs or null", "stat -c '%n %F' /proc/kcore /proc/acpi 2>&1"),
    Case(M, "read-only paths", "grep -E ' /proc/(sys|bus) ' /proc/self/mounts | cut -d' ' -f2,4 | cut -c1-18"),
    Case(M, "root path relative to the bundle", "true", edit=set_path("root.path", "rootfs/")),
    Case(M, "--no-pivot: a nested proc mount is refused", NESTED_PROC, steps=run_no_pivot, edit=AS_USER),
    Case(M, "pivoted: a nested proc mount is refused", NESTED_PROC, edit=AS_USER),
    Case(M, "--no-pivot: the root is the rootfs", "ls /sys/class/net; ls / | wc -l", steps=run_no_pivot),
    Case(D, "default /dev", DEVS, refs_differ=CORE),
    Case(
        D,
        "default /dev symlinks",
        "for f in fd stdin stdout stderr ptmx core; do echo $f $(readlink /dev/$f); done",
        refs_differ=CORE,
    ),
    Case(
        D,
        "a listed device the cgroup denies stays closed",
        OPEN.format("/dev/kmsg"),
        edit=device("/dev/kmsg", "c", 1, 11),
    ),
    Case(
        D,
        "a listed device the cgroup allows opens",
        OPEN.format("/dev/kmsg"),
        edit=chain(device("/dev/kmsg", "c", 1, 11), device_rule(True, "rw", type="c", major=1, minor=11)),
    ),
    Case(
        D,
        "an explicit deny of a listed device wins",
        OPEN.format("/dev/kmsg"),
        edit=chain(
            device("/dev/kmsg", "c", 1, 11),
            device_rule(True, "rwm", type="a"),
            device_rule(False, "rwm", type="c", major=1, minor=11),
        ),
        refs_differ="crun applies the rules before it makes the devices, so the deny of 'm' fails its mknod",
        differs="on cgroup v1 pyrt writes the rules in order and the kernel keeps the deny of c 1:11 m, which "
        "the wildcard 'c *:* m' allowed after it does not lift: mknod fails as in crun; runc computes the "
        "final rule set first and lets mknod through",
        expect="exit=1\n",
    ),
    Case(
        D,
        "an explicit deny of /dev/null",
        OPEN.format("/dev/null"),
        edit=device_rule(False, "rwm", type="c", major=1, minor=3),
    ),
    Case(
        D, "allow all", OPEN.format("/dev/kmsg"), edit=chain(device("/dev/kmsg", "c", 1, 11), device_rule(True, "rwm"))
    ),
    Case(
        D,
        "wildcard minor",
        OPEN.format("/dev/kmsg"),
        edit=chain(device("/dev/kmsg", "c", 1, 11), device_rule(True, "rw", type="c", major=1)),
    ),
    Case(
        D,
        "device mode and owner",
        MODES.format("/dev/kmsg"),
        edit=device("/dev/kmsg", "c", 1, 11, fileMode=0o600, uid=1000, gid=1000),
    ),
    Case(D, "device without a mode", MODES.format("/dev/kmsg"), edit=device("/dev/kmsg", "c", 1, 11)),
    Case(D, "block device", "stat -c '%n %F %t:%T' /dev/loopx", edit=device("/dev/loopx", "b", 7, 200)),
    Case(D, "fifo device", "stat -c '%n %F' /dev/fifo", edit=device("/dev/fifo", "p", 0, 0)),
    Case(D, "unbuffered character device", "stat -c '%n %F %t:%T' /dev/u", edit=device("/dev/u", "u", 1, 11)),
    Case(
        D,
        "device in a new subdirectory",
        MODES.format("/dev/sub /dev/sub/dir/kmsg"),
        edit=device("/dev/sub/dir/kmsg", "c", 1, 11),
    ),
    Case(D, "device path with .. in it", "ls /dev/kmsg2", edit=device("/dev/../dev/kmsg2", "c", 1, 11)),
    Case(D, "device path with a double slash", "ls /dev/kmsg3", edit=device("/dev//kmsg3", "c", 1, 11)),
    Case(D, "device outside /dev", "stat -c '%n %F' /mydev", edit=chain(device("/mydev", "c", 1, 11), writable_root)),
    Case(
        D,
        "the same device path twice",
        "true",
        edit=chain(device("/dev/kmsg", "c", 1, 11), device("/dev/kmsg", "c", 1, 11)),
    ),
    Case(
        D,
        "a listed device replacing a default one",
        MODES.format("/dev/null"),
        edit=device("/dev/null", "c", 1, 3, fileMode=0o600),
        follow="crun",
        refs_differ="runc drops its default cgroup rule for a device the config lists: with the config's "
        "deny-all it cannot reopen /dev/null and fails; crun keeps the rule",
    ),
    Case(
        D,
        "device with an unknown type",
        "true",
        edit=device("/dev/x", "z", 1, 1),
        refs_differ="runc refuses type 'z', crun ignores the entry",
    ),
    Case(
        D,
        "rules in order: deny after allow",
        OPEN.format("/dev/kmsg"),
        edit=chain(
            device("/dev/kmsg", "c", 1, 11),
            device_rule(True, "rwm", type="c", major=1, minor=11),
            device_rule(False, "r", type="c", major=1, minor=11),
        ),
    ),
    Case(
        D,
        "mknod inside with CAP_MKNOD",
        "mknod /tmp/n c 1 3 && echo made; " + OPEN.format("/tmp/n"),
        edit=chain(caps(bounding=["CAP_MKNOD"], effective=["CAP_MKNOD"], permitted=["CAP_MKNOD"]), mount("/tmp")),
    ),
]
