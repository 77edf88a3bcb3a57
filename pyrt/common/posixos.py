"""What pyrt's hot modules use of `os`, without importing os.

`import os` costs 2.3 ms on this machine (interleaved medians of `python -IS -c ...`, n=200:
13.7 ms for `pass`, 16.0 for `import os`), mostly _collections_abc for os.environ's
MutableMapping: 10-14% of `pyrt state`, `start`, `kill` or `delete`, none of which needs it.
Almost all of os is the C module posix re-exported; the rest pyrt needs is here.  Hot modules
import this module as `os`, so mypy checks every call against what is really here.
"""

from __future__ import annotations

import sys
from posix import *  # noqa: F403 - the calls and constants os re-exports from posix
from posix import _exit as _exit
from posix import environ as _environb
from posix import mkdir as _mkdir

from pyrt.common import pathnames

path = pathnames  # os.path: the functions of it pyrt uses
sep = "/"
devnull = "/dev/null"
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
_FS_ENCODING = sys.getfilesystemencoding()


def fsencode(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode(_FS_ENCODING, "surrogateescape")


def getenv(key: str, default: str | None = None) -> str | None:
    """os.getenv: the environment as the process started with it (pyrt never changes its own)."""
    value = _environb.get(fsencode(key))
    return default if value is None else value.decode(_FS_ENCODING, "surrogateescape")


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """os.makedirs: missing parents are made with the default mode, as os has done since 3.7."""
    try:
        try:
            _mkdir(name, mode)
        except FileNotFoundError:
            parent = path.dirname(name.rstrip("/"))
            if not parent or parent == name:
                raise
            makedirs(parent, exist_ok=True)
            _mkdir(name, mode)
    except FileExistsError:
        if not (exist_ok and path.isdir(name)):
            raise
