"""pyseccomp, imported without ``ctypes.util``.

pyseccomp looks up libc and libseccomp with ``ctypes.util.find_library`` when it is imported.  On
Linux that module imports shutil and subprocess (~10 ms here) and each lookup runs ``ldconfig -p``
in a child process (~2 ms each): ~14 of the ~18 ms that ``import pyseccomp`` costs a cold plan
(`-X importtime`, no planner, no cache).  What those lookups return is a soname, and the two sonames
are fixed by the libraries' ABIs: glibc's ``libc.so.6`` and libseccomp 2.x's ``libseccomp.so.2``
(what ``ldconfig -p`` lists for them here).  So while pyseccomp is imported, ``ctypes.util`` is a
stand-in whose find_library answers those sonames when the dynamic loader can open them, and asks
the real ``ctypes.util`` for anything else (musl's libc, another libseccomp): the same libraries,
found the same way as before when the names do not fit.  Import pyseccomp through ``load()``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SONAMES = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}


def load() -> Any:
    """The pyseccomp module (imported on the first call: another thread importing ctypes.util during that
    import would get the stand-in, whose find_library is all pyseccomp uses of it)."""
    module = sys.modules.get("pyseccomp")
    if module is not None:
        return module
    import ctypes

    if "ctypes.util" in sys.modules:  # imported already: nothing left to save
        import pyseccomp

        return pyseccomp
    stand_in = type(sys)("ctypes.util")
    stand_in.find_library = find_library  # type: ignore[attr-defined]
    sys.modules["ctypes.util"] = stand_in
    ctypes.util = stand_in  # what `import ctypes.util` binds
    try:
        import pyseccomp
    finally:
        if sys.modules.get("ctypes.util") is stand_in:
            del sys.modules["ctypes.util"]
            del ctypes.util
    return pyseccomp


def find_library(name: str) -> str | None:
    """ctypes.util.find_library's answer for name: its known soname when that opens, else the real one's."""
    import ctypes

    soname = SONAMES.get(name)
    if soname is not None:
        try:
            ctypes.CDLL(soname)
        except OSError:
            pass
        else:
            return soname
    current = sys.modules.get("ctypes.util")
    if getattr(current, "find_library", None) is find_library:  # the stand-in: make way for the real module
        del sys.modules["ctypes.util"]
        if getattr(ctypes, "util", None) is current:
            del ctypes.util
    import ctypes.util

    return ctypes.util.find_library(name)
