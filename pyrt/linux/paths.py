"""Resolve, create and mount on paths *inside* a root, on file descriptors.

Every path the runtime creates, mounts on or writes inside an untrusted rootfs
goes through here: openat2(RESOLVE_IN_ROOT) makes symlinks and ``..`` resolve as
if the root were ``/``, so nothing outside it can be reached.  Where the kernel
lacks openat2, a userspace walk with O_NOFOLLOW does the same, one component at
a time.  Mounts are made on ``/proc/self/fd/N`` of the resolved O_PATH fd, so the
target cannot be swapped between check and use.
"""

from __future__ import annotations

import errno
import stat

from pyrt.common import constants as C
from pyrt.common import posixos as os
from pyrt.linux import sys as S

_O_PATH = os.O_PATH | os.O_CLOEXEC
_RESOLVE = C.RESOLVE_IN_ROOT | C.RESOLVE_NO_MAGICLINKS
_EAGAIN_TRIES = 64
_have_openat2 = True


def _rel(path: str) -> str:
    parts = [p for p in path.split("/") if p and p != "."]
    return "/".join(parts) or "."


def open_in_root(root_fd: int, path: str, flags: int = _O_PATH) -> int:
    """Open ``path`` as seen from inside the root; raises OSError (ENOENT, ...)."""
    global _have_openat2
    rel = _rel(path)
    if _have_openat2:
        for tries_left in range(_EAGAIN_TRIES - 1, -1, -1):
            try:
                return S.openat2(root_fd, rel, flags | os.O_CLOEXEC, _RESOLVE)
            except OSError as exc:
                # EAGAIN: a ".." was resolved while something renamed or mounted anywhere on the host
                # (the kernel cannot then prove it stayed inside); openat2(2) says to try again.  Seen
                # here at ~4% of calls under a rename storm, and once in the suite: the parent's state
                # writes (renames) overlap init's mounts.
                if exc.errno == errno.EAGAIN and tries_left:
                    continue
                if exc.errno != errno.ENOSYS:
                    raise
                _have_openat2 = False
                break
    return _walk(root_fd, rel, flags)


def _walk(root_fd: int, rel: str, flags: int, depth: int = 0) -> int:
    """Fallback resolver: component by component, symlinks re-resolved under the root."""
    todo = [p for p in rel.split("/") if p and p != "."]
    stack = [os.dup(root_fd)]
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not todo
            fd = os.open(name, _O_PATH | os.O_NOFOLLOW, dir_fd=stack[-1])
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                os.close(fd)
                links += 1
                if links > 40:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            if last:
                if flags & ~(_O_PATH | os.O_DIRECTORY) and not flags & os.O_PATH:
                    os.close(fd)
                    fd = os.open(name, (flags | os.O_NOFOLLOW | os.O_CLOEXEC), dir_fd=stack[-1])
                return fd
            stack.append(fd)
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def mkdir_all(root_fd: int, path: str, mode: int = 0o755, _depth: int = 0) -> int:
    """mkdir -p inside the root; returns an O_PATH fd of the directory.

    The whole path is tried first (one openat2 when it exists); only a missing directory is made, in
    its parent made the same way.  A dangling symlink on the way is followed inside the root and its
    target created, as runc does; nothing is ever created outside the root.
    """
    if _depth > 40:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    rel = _rel(path)
    try:
        return open_in_root(root_fd, rel, _O_PATH | os.O_DIRECTORY)
    except FileNotFoundError:
        if rel == ".":
            raise
    head, _, name = rel.rpartition("/")
    parent = mkdir_all(root_fd, head or ".", mode, _depth)
    try:
        if name != "..":  # "x/.." exists once x does
            try:
                os.mkdir(name, mode, dir_fd=parent)
            except FileExistsError:
                try:
                    target = os.readlink(name, dir_fd=parent)
                except OSError:
                    target = None  # a race: resolve again below
                if target is not None:
                    base = "" if target.startswith("/") else head
                    os.close(mkdir_all(root_fd, f"{base}/{target}", mode, _depth + 1))
        return open_in_root(root_fd, rel, _O_PATH | os.O_DIRECTORY)
    finally:
        os.close(parent)


def ensure_file(root_fd: int, path: str, mode: int = 0o644, _depth: int = 0) -> int:
    """The file at ``path`` inside the root (created empty when missing); an O_PATH fd."""
    if _depth > 40:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
    try:
        return open_in_root(root_fd, path)
    except FileNotFoundError:
        pass
    rel = _rel(path)
    parent = mkdir_all(root_fd, os.path.dirname("/" + rel))
    try:
        name = os.path.basename(rel)
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=parent)
            os.close(fd)
        except FileExistsError:
            target = os.readlink(name, dir_fd=parent)  # a dangling symlink: follow it inside the root
            base = "" if target.startswith("/") else os.path.dirname("/" + rel)
            return ensure_file(root_fd, f"{base}/{target}", mode, _depth + 1)
        return open_in_root(root_fd, path)
    finally:
        os.close(parent)


def lstat_in_root(root_fd: int, path: str) -> os.stat_result | None:
    """What is at ``path`` inside the root, its last component not followed; None when missing."""
    parent, _, name = _rel(path).rpartition("/")
    try:
        dir_fd = open_in_root(root_fd, parent or ".")
    except FileNotFoundError:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(dir_fd)


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def same_file(fd: int, st: os.stat_result) -> bool:
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino)
