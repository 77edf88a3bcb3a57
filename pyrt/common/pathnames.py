"""The os.path functions pyrt's hot modules use, for str paths, without importing os.

posixpath imports os, whose import costs 2.3 ms on this machine (see posixos).  Each function
returns what posixpath's namesake returns for a str (tests compare them on generated paths),
except `resolved`, which asks the kernel and needs the path to exist.
"""

from __future__ import annotations

import posix


def join(a: str, *p: str) -> str:
    path = a
    for b in p:
        if b.startswith("/"):
            path = b
        elif not path or path.endswith("/"):
            path += b
        else:
            path += "/" + b
    return path


def dirname(p: str) -> str:
    head = p[:p.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def basename(p: str) -> str:
    return p[p.rfind("/") + 1:]


def normpath(path: str) -> str:
    if not path:
        return "."
    # POSIX keeps exactly two leading slashes (implementation-defined), collapses three or more.
    initial = 2 if path.startswith("//") and not path.startswith("///") else 1 if path.startswith("/") else 0
    comps: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp != ".." or (not initial and not comps) or (comps and comps[-1] == ".."):
            comps.append(comp)
        elif comps:
            comps.pop()
    return "/" * initial + "/".join(comps) or "."


def abspath(path: str) -> str:
    return normpath(path if path.startswith("/") else join(posix.getcwd(), path))


def relpath(path: str, start: str = ".") -> str:
    if not path:
        raise ValueError("no path specified")
    path_list = [x for x in abspath(path).split("/") if x]
    start_list = [x for x in abspath(start).split("/") if x]
    i = 0
    for a, b in zip(path_list, start_list, strict=False):
        if a != b:
            break
        i += 1
    rel = [".."] * (len(start_list) - i) + path_list[i:]
    return join(*rel) if rel else "."


def exists(path: str) -> bool:
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def lexists(path: str) -> bool:
    """os.path.lexists: a dangling symlink exists too."""
    try:
        posix.lstat(path)
    except (OSError, ValueError):
        return False
    return True


def isdir(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000
    except (OSError, ValueError):
        return False


def isfile(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o100000
    except (OSError, ValueError):
        return False


def resolved(path: str) -> str:
    """The canonical path of an existing file, as the kernel resolved it (realpath); OSError if missing."""
    fd = posix.open(path, posix.O_PATH | posix.O_CLOEXEC)
    try:
        return posix.readlink(f"/proc/self/fd/{fd}")
    finally:
        posix.close(fd)


def unreachable(path: str) -> str | None:
    """Why path cannot be stat'ed ("no such file or directory", "permission denied"...), or None."""
    try:
        posix.stat(path)
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    except ValueError as exc:
        return str(exc)
    return None
