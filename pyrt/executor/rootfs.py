"""The rootfs steps of init: mounts, /dev, pivot_root, sysctl, masked and read-only paths.

Runs in the container's new mount namespace.  Every target inside the rootfs is
resolved with pyrt.linux.paths (inside the root, on fds) and every mount is
checked after it is made: the right filesystem type landed at the right place.
"""

from __future__ import annotations

import errno
import stat

from pyrt.common import constants as C
from pyrt.common import posixos as os
from pyrt.common.errors import SetupError
from pyrt.linux import paths
from pyrt.linux import sys as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_KEEP_FLAGS = (  # statvfs flag -> mount flag: locked flags a remount must keep
    (os.ST_NOSUID, C.MS_NOSUID), (os.ST_NODEV, C.MS_NODEV), (os.ST_NOEXEC, C.MS_NOEXEC),
    (os.ST_RDONLY, C.MS_RDONLY), (os.ST_NOATIME, C.MS_NOATIME), (os.ST_NODIRATIME, C.MS_NODIRATIME),
    (os.ST_RELATIME, C.MS_RELATIME),
)


def _fail(step: str, exc: OSError, path: str) -> SetupError:
    return SetupError(step, f"{path}: {exc.strerror or exc}")


def _existing_flags(target: str) -> int:
    flags = 0
    f = os.statvfs(target).f_flag
    for st_flag, ms_flag in _KEEP_FLAGS:
        if f & st_flag:
            flags |= ms_flag
    return flags


def remount(fd: int | None, flags: int, path: str = "") -> None:
    """Bind-remount with flags; on EPERM keep the flags the kernel locked (user namespaces)."""
    target = paths.fd_path(fd) if fd is not None else path
    try:
        S.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | flags, None)
    except PermissionError:
        S.mount(None, target, None, C.MS_BIND | C.MS_REMOUNT | flags | _existing_flags(target), None)


def prepare(plan: dict[str, Any]) -> int:
    """Make / private, bind the rootfs onto itself; returns an O_PATH fd of the new root."""
    rootfs = plan["rootfs"]
    try:
        S.mount(None, "/", None, plan["rootfs_propagation"], None)
        if plan["rootfs_propagation"] != C.MS_REC | C.MS_PRIVATE:  # rprivate (the default): already so
            # pivot_root refuses a shared parent mount (rootfsPropagation "shared" makes them so), and a
            # shared parent would also carry the rootfs bind back to the host: make that one private.
            S.mount(None, _mount_point_of(os.path.dirname(rootfs)), None, C.MS_PRIVATE, None)
        S.mount(rootfs, rootfs, None, C.MS_BIND | C.MS_REC, None)
    except OSError as exc:
        raise _fail("rootfs", exc, rootfs) from None
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _mounts() -> list[tuple[str, str, str]]:
    """(root within its file system, mount point, file system type) of each mount of this namespace."""
    out = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            out.append((fields[3], fields[4].replace("\\040", " "), fields[fields.index("-") + 1]))
    return out


def _mount_point_of(path: str) -> str:
    """The mount point of the mount that holds path (the longest mountinfo prefix)."""
    best = "/"
    for _root, point, _fstype in _mounts():
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best = point
    return best


def _target(root_fd: int, m: dict[str, Any]) -> int:
    dest = m["dest"]
    if m["type"] in ("proc", "sysfs") and dest != "/":
        # A symlink here would carry the kernel's files anywhere it points (as runc, refused)
        st = paths.lstat_in_root(root_fd, dest)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            what = "a symlink" if stat.S_ISLNK(st.st_mode) else "no directory"
            raise SetupError(f"mount {m['json_path']}",
                             f"{dest}: a {m['type']} file system must be mounted on a directory, and that is {what}")
    if m["bind"] and not m["source_is_dir"]:
        return paths.ensure_file(root_fd, dest)
    fd = paths.mkdir_all(root_fd, dest)
    return fd


def mount_all(root_fd: int, plan: dict[str, Any], enter_cgroups: Callable[[], None]) -> None:
    """The config's mounts, in order; enter_cgroups() before a cgroup mount binds the container's cgroups."""
    for m in plan["mounts"]:
        try:
            if m["type"] == "cgroup":
                enter_cgroups()
                _mount_cgroup(root_fd, m, plan)
            else:
                _mount_one(root_fd, m, plan["rootfs"])
        except SetupError:
            raise
        except OSError as exc:
            raise SetupError(f"mount {m['json_path']}", f"{m['dest']}: {exc.strerror or exc}") from None


def _landed(root_fd: int, m: dict[str, Any], rootfs: str) -> int:
    """An O_PATH fd of the mount just made at m's destination.  A mount onto / covers the rootfs itself
    (as runc): root_fd is turned to that new top first, so that the mounts after it, the devices and
    pivot_root all land on it."""
    if m["dest"] == "/":
        top = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.dup2(top, root_fd, inheritable=False)
        os.close(top)
    return paths.open_in_root(root_fd, m["dest"])


def _mount_one(root_fd: int, m: dict[str, Any], rootfs: str) -> None:
    fd = _target(root_fd, m)
    copy_from = None
    try:
        if "tmpcopyup" in m["extensions"]:
            copy_from = paths.open_in_root(root_fd, m["dest"], os.O_RDONLY | os.O_DIRECTORY)
        flags = m["flags"]
        if m["bind"]:
            tree = m.get("tree_fd")  # a bind the parent made (parent._detached_trees): attached here
            if tree is not None:
                try:
                    src_st = os.fstat(tree)
                    S.move_mount_fd(tree, fd)
                finally:
                    os.close(tree)
            else:
                src_st = os.stat(m["source"])
                S.mount(m["source"], paths.fd_path(fd), None, C.MS_BIND | (flags & C.MS_REC), None)
            os.close(fd)
            fd = _landed(root_fd, m, rootfs)
            if not paths.same_file(fd, src_st):
                raise SetupError(f"mount {m['json_path']}", f"{m['dest']}: the bind mount did not land on its target")
            extra = flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)
            if extra:
                remount(fd, extra)
        else:
            S.mount(m["source"] or m["type"], paths.fd_path(fd), m["type"], flags, m["data"] or None)
            os.close(fd)
            fd = _landed(root_fd, m, rootfs)
            magic = C.FS_MAGIC.get(m["type"])
            if magic is not None and S.fstatfs_type(fd) != magic and not flags & C.MS_REMOUNT:
                raise SetupError(f"mount {m['json_path']}", f"{m['dest']}: expected a {m['type']} mount there")
        for prop in m["propagation"]:
            S.mount(None, paths.fd_path(fd), None, prop, None)
        if m["attr_set"] or m["attr_clr"]:
            S.mount_setattr(fd, m["attr_set"], m["attr_clr"], recursive=True)
        if copy_from is not None:
            dst = paths.open_in_root(root_fd, m["dest"], os.O_RDONLY | os.O_DIRECTORY)
            try:
                _copy_tree(copy_from, dst)
            finally:
                os.close(dst)
    finally:
        os.close(fd)
        if copy_from is not None:
            os.close(copy_from)


def _copy_tree(src: int, dst: int) -> None:
    """tmpcopyup: copy a directory's content (files, dirs, symlinks; never following links)."""
    for entry in os.scandir(src):
        st = entry.stat(follow_symlinks=False)
        name = entry.name
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, stat.S_IMODE(st.st_mode), dir_fd=dst)
            s2 = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            d2 = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst)
            try:
                _copy_tree(s2, d2)
            finally:
                os.close(s2)
                os.close(d2)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISREG(st.st_mode):
            rfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, stat.S_IMODE(st.st_mode),
                          dir_fd=dst)
            try:
                while chunk := os.read(rfd, 1 << 16):
                    os.write(wfd, chunk)
            finally:
                os.close(rfd)
                os.close(wfd)
        else:
            continue
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)


def _mount_cgroup(root_fd: int, m: dict[str, Any], plan: dict[str, Any]) -> None:
    """/sys/fs/cgroup: the container's own cgroup of each hierarchy, bound under a tmpfs; on a cgroup2-only
    host, the container's cgroup2 leaf bound there itself, as the host has its cgroup2 there."""
    flags = m["flags"]
    extra = (flags & ~(C.MS_BIND | C.MS_REC | C.MS_REMOUNT)) | C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC
    leaves = plan["cgroup_leaves"] or plan.get("cgroup_view") or []  # a rootless one: the caller's
    if len(leaves) == 1 and leaves[0]["version"] == 2:
        fd = paths.mkdir_all(root_fd, m["dest"])
        try:
            S.mount(leaves[0]["dir"], paths.fd_path(fd), None, C.MS_BIND | C.MS_REC, None)
        finally:
            os.close(fd)
        if not _set_attrs(root_fd, m["dest"], extra):
            fd = paths.open_in_root(root_fd, m["dest"])
            try:
                remount(fd, extra)
            finally:
                os.close(fd)
        return
    fd = paths.mkdir_all(root_fd, m["dest"])
    try:
        S.mount("tmpfs", paths.fd_path(fd), "tmpfs", (flags & ~C.MS_RDONLY) | C.MS_NOSUID | C.MS_NODEV
                | C.MS_NOEXEC, "mode=755")
    finally:
        os.close(fd)
    # The binds' directories are made in that new, empty tmpfs, which only this mount namespace sees and
    # nothing in the container can have changed yet: by name, relative to its root (no resolution in
    # the rootfs, no symlink to follow; O_NOFOLLOW all the same).  Four syscalls a hierarchy instead of
    # seven: /sys/fs/cgroup took 0.87 ms of init's 3.6 here, now 0.66 (the ten binds themselves remain).
    cg = paths.open_in_root(root_fd, m["dest"])
    if S.fstatfs_type(cg) != C.FS_MAGIC["tmpfs"]:
        os.close(cg)
        raise SetupError(f"mount {m['json_path']}", f"{m['dest']}: expected a tmpfs mount there")
    binds = []
    try:
        for leaf in leaves:
            name = leaf["mount"].rsplit("/", 1)[1]
            binds.append(f"{m['dest']}/{name}")
            try:
                os.mkdir(name, 0o755, dir_fd=cg)
            except FileExistsError:  # two hierarchies of one name: the last bind is seen, as before
                pass
            sub = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cg)
            try:
                S.mount(leaf["dir"], paths.fd_path(sub), None, C.MS_BIND | C.MS_REC, None)
            finally:
                os.close(sub)
    finally:
        os.close(cg)
    if not _set_attrs(root_fd, m["dest"], extra):  # the old way: one bind-remount each
        for dest in binds:
            sub = paths.open_in_root(root_fd, dest)
            try:
                remount(sub, extra)
            finally:
                os.close(sub)
    if flags & C.MS_RDONLY:
        fd = paths.open_in_root(root_fd, m["dest"])
        try:
            S.mount(None, paths.fd_path(fd), None, C.MS_REMOUNT | flags | C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC,
                    "mode=755")
        finally:
            os.close(fd)


_ATTRS = ((C.MS_RDONLY, C.MOUNT_ATTR_RDONLY), (C.MS_NOSUID, C.MOUNT_ATTR_NOSUID), (C.MS_NODEV, C.MOUNT_ATTR_NODEV),
          (C.MS_NOEXEC, C.MOUNT_ATTR_NOEXEC), (C.MS_NODIRATIME, C.MOUNT_ATTR_NODIRATIME))
_ATIME_FLAGS = C.MS_NOATIME | C.MS_STRICTATIME | C.MS_RELATIME


def _set_attrs(root_fd: int, dest: str, flags: int) -> bool:
    """What a bind-remount with flags does, for dest and every mount under it in one mount_setattr
    (Linux 5.12; the cgroup binds: 10 remounts here).  False where it cannot: an older kernel, a flag
    it has no attribute for, or a flag a user namespace locked (remount() keeps those)."""
    attr_set, rest = 0, flags & ~_ATIME_FLAGS
    for ms, attr in _ATTRS:
        if flags & ms:
            attr_set, rest = attr_set | attr, rest & ~ms
    if rest:
        return False
    # as mount(2) sets atime on a remount: strictatime, else noatime, else relatime (its default)
    attr_set |= (C.MOUNT_ATTR_STRICTATIME if flags & C.MS_STRICTATIME else
                 C.MOUNT_ATTR_NOATIME if flags & C.MS_NOATIME else C.MOUNT_ATTR_RELATIME)
    attr_clr = C.MOUNT_ATTR__ATIME
    fd = paths.open_in_root(root_fd, dest)
    try:
        S.mount_setattr(fd, attr_set, attr_clr, recursive=True)
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return False
        raise
    finally:
        os.close(fd)


def make_devices(root_fd: int, plan: dict[str, Any], in_userns: bool) -> None:
    for d in plan["devices"]:
        parent = paths.mkdir_all(root_fd, os.path.dirname(d["path"]))
        name = os.path.basename(d["path"])
        try:
            kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[d["type"]]
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:  # something is already there: only the same device may stay
                same = (stat.S_IFMT(st.st_mode) == kind and
                        (kind == stat.S_IFIFO or st.st_rdev == os.makedev(d["major"], d["minor"])))
                if not same:
                    raise SetupError("linux.devices", f"{d['path']}: a different file is already there")
                continue
            if in_userns and kind != stat.S_IFIFO:
                _bind_host_device(root_fd, parent, name, d)
                continue
            os.mknod(name, kind | d["mode"], os.makedev(d["major"], d["minor"]), dir_fd=parent)
            os.chown(name, d["uid"], d["gid"], dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise SetupError("devices", f"{d['path']}: {exc.strerror}") from None
        finally:
            os.close(parent)


def _bind_host_device(root_fd: int, parent: int, name: str, d: dict[str, Any]) -> None:
    """In a user namespace mknod is refused: bind the host's node of the same path instead, as runc does;
    only when it is the device the config describes (a different one is never given the config's name)."""
    kind = stat.S_IFBLK if d["type"] == "b" else stat.S_IFCHR
    st = os.stat(d["path"])
    if stat.S_IFMT(st.st_mode) != kind or st.st_rdev != os.makedev(d["major"], d["minor"]):
        found = (f"{'b' if stat.S_ISBLK(st.st_mode) else 'c'} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
                 if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode) else "no device")
        raise SetupError("linux.devices", f"{d['path']}: the host's node is {found}, not {d['type']} "
                         f"{d['major']}:{d['minor']} (in a user namespace the host's node is bound)")
    fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o000, dir_fd=parent)
    os.close(fd)
    target = paths.open_in_root(root_fd, d["path"])
    try:
        S.mount(d["path"], paths.fd_path(target), None, C.MS_BIND, None)
    finally:
        os.close(target)


def dev_symlinks(root_fd: int, plan: dict[str, Any]) -> None:
    if not plan["setup_dev"]:
        return
    links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx")]  # ptmx whether /dev/pts is mounted or not (runc)
    if os.path.exists("/proc/kcore"):  # the host's (before pivot): a kernel with CONFIG_PROC_KCORE, as runc
        links.append(("/proc/kcore", "core"))
    dev = paths.open_in_root(root_fd, "/dev")
    try:
        for target, name in links:
            if name == "ptmx":
                try:
                    os.unlink(name, dir_fd=dev)
                except FileNotFoundError:
                    pass
            try:
                os.symlink(target, name, dir_fd=dev)
            except FileExistsError:
                pass
    except OSError as exc:
        raise SetupError("devices", f"/dev: {exc.strerror}") from None
    finally:
        os.close(dev)


def pivot(plan: dict[str, Any]) -> None:
    rootfs = plan["rootfs"]
    try:
        if plan["no_pivot"]:
            _hide_kernel_file_systems(rootfs)
            os.chdir(rootfs)
            S.mount(rootfs, "/", None, C.MS_MOVE, None)
            os.chroot(".")
            os.chdir("/")
            if plan["root_propagation"] is not None:
                S.mount(None, "/", None, plan["root_propagation"], None)
            return
        old = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        new = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fchdir(new)
            S.pivot_root(".", ".")
            os.fchdir(old)  # the old root is stacked under the new one: detach it
            S.mount(None, ".", None, C.MS_SLAVE | C.MS_REC, None)
            S.umount2(".", C.MNT_DETACH)
        finally:
            os.close(old)
            os.close(new)
        os.chdir("/")
        # linux.rootfsPropagation is for the container's root: only now is that "/"
        if plan["root_propagation"] is not None:
            S.mount(None, "/", None, plan["root_propagation"], None)
    except OSError as exc:
        raise _fail("pivot_root", exc, rootfs) from None


def _hide_kernel_file_systems(rootfs: str) -> None:
    """Without pivot_root the host's mounts stay in the container's mount namespace, beyond its chroot.
    A whole proc or sysfs among them would let a process inside mount a fresh one (the kernel allows
    that where a full mount is visible, e.g. from a nested user namespace): detach each, or cover it
    with a tmpfs where detaching is refused (as runc)."""
    inside = rootfs.rstrip("/") + "/"
    found = [point for root, point, fstype in _mounts()
             if root == "/" and fstype in ("proc", "sysfs") and not (point + "/").startswith(inside)]
    for point in found:
        try:
            S.mount(None, point, None, C.MS_SLAVE | C.MS_REC, None)  # the detach must not reach the host
            S.umount2(point, C.MNT_DETACH)
        except FileNotFoundError:
            continue  # under a mount already detached
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM):
                raise
            S.mount("tmpfs", point, "tmpfs", 0, None)


def _proc_fd(root_fd: int) -> int | None:
    try:
        fd = paths.open_in_root(root_fd, "/proc")
    except OSError:
        return None
    if S.fstatfs_type(fd) != C.FS_MAGIC["proc"]:
        os.close(fd)
        return None
    return fd


def sysctl(plan: dict[str, Any]) -> None:
    if not plan["sysctl"]:
        return
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        proc = _proc_fd(root)
        if proc is None:
            raise SetupError("sysctl", "/proc is not mounted in the container")
        os.close(proc)
        for key, path, value in plan["sysctl"]:
            try:
                fd = paths.open_in_root(root, path, os.O_WRONLY | os.O_TRUNC)
            except OSError as exc:
                raise SetupError("sysctl", f"{key}: {exc.strerror}") from None
            try:
                if S.fstatfs_type(fd) != C.FS_MAGIC["proc"]:
                    raise SetupError("sysctl", f"{key}: {path} is not on procfs")
                os.write(fd, value.encode())
            except OSError as exc:
                raise SetupError("sysctl", f"{key}={value}: {exc.strerror}") from None
            finally:
                os.close(fd)
    finally:
        os.close(root)


def _open_if_there(root: int, path: str, field: str) -> int | None:
    """An O_PATH fd of ``path`` inside the root; None when it does not exist (nothing to do)."""
    try:
        return paths.open_in_root(root, path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _fail(field, exc, path) from None


def readonly_and_masked(plan: dict[str, Any]) -> None:
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    null = None  # /dev/null, opened and checked once for every masked file
    try:
        for path in plan["readonly_paths"]:
            fd = _open_if_there(root, path, "readonlyPaths")
            if fd is None:
                continue
            try:
                S.mount(paths.fd_path(fd), paths.fd_path(fd), None, C.MS_BIND | C.MS_REC, None)
                os.close(fd)
                fd = paths.open_in_root(root, path)
                # read-only, the rest as it was (as runc)
                remount(fd, C.MS_RDONLY | C.MS_REC | _existing_flags(paths.fd_path(fd)))
            except OSError as exc:
                raise _fail("readonlyPaths", exc, path) from None
            finally:
                os.close(fd)
        for path in plan["masked_paths"]:
            fd = _open_if_there(root, path, "maskedPaths")
            if fd is None:
                continue
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    S.mount("tmpfs", paths.fd_path(fd), "tmpfs", C.MS_RDONLY, "size=0k")
                else:
                    if null is None:
                        null = paths.open_in_root(root, "/dev/null")
                        if not stat.S_ISCHR(os.fstat(null).st_mode):
                            raise SetupError("maskedPaths", f"{path}: /dev/null is not a device")
                    S.mount(paths.fd_path(null), paths.fd_path(fd), None, C.MS_BIND, None)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT,):
                    raise _fail("maskedPaths", exc, path) from None
            finally:
                os.close(fd)
    finally:
        if null is not None:
            os.close(null)
        os.close(root)


def make_cwd(cwd: str) -> None:
    """process.cwd made where missing (0755, as runc), after pivot_root and resolved inside the new root
    without magic links: a cwd of /proc/self/fd/N/... must not reach a directory of the host that some
    fd of this process still holds (CVE-2024-21626's kind)."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.close(paths.mkdir_all(root, cwd))
    except OSError as exc:
        raise _fail("process.cwd", exc, cwd) from None
    finally:
        os.close(root)


def readonly_root(plan: dict[str, Any]) -> None:
    """/dev read-only when the config asked (planned writable until now), then root.readonly."""
    if plan["dev_readonly_flags"]:
        try:
            remount(None, plan["dev_readonly_flags"], "/dev")
        except OSError as exc:
            raise _fail("/dev read-only", exc, "/dev") from None
    if not plan["readonly_root"]:
        return
    try:
        remount(None, C.MS_RDONLY, "/")  # after pivot_root "/" is the container's root: no /proc needed
    except OSError as exc:
        raise _fail("root.readonly", exc, "/") from None


def bind_console(plan: dict[str, Any], pty_name: str) -> None:
    """/dev/console is the container's terminal, as runc makes it (only in a /dev pyrt mounted)."""
    if not plan["setup_dev"]:
        return
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        target = paths.ensure_file(root, "/dev/console", 0o600)
        try:
            S.mount(pty_name, paths.fd_path(target), None, C.MS_BIND, None)
        finally:
            os.close(target)
    except OSError as exc:
        raise _fail("console", exc, "/dev/console") from None
    finally:
        os.close(root)
