"""pyrt's own modules loaded straight from their bytecode, without importlib's machinery (CLI only).

Every import through importlib costs 65-100 us here before the module's code runs (meta-path and
path finders, a spec, a module lock, all in Python), and `run` imports ~25 of pyrt's modules.  The
launcher installs an __import__ that serves absolute imports of one package: it finds the .pyc
beside the source, checks it as importlib does (magic number, timestamp-based, the source's mtime
and size), and runs it in a new module with the attributes importlib sets.  Anything else goes to
importlib unchanged: other packages, relative and star imports, a name that is not a plain .py
module or package, a missing or stale .pyc (importlib recompiles it), and every import of a process
that has imported `threading` (importlib's module locks are what keep concurrent imports apart).
The child uninstalls it when it blocks imports (executor/child.py).  Interleaved A/B, paired
medians: `state` -0.54 ms (n=100), `run` -1.29 ms (n=80).

It serves the standard library's `__future__` too, from the same checked .pyc: every pyrt module starts
with `from __future__ import annotations`, and importlib's path finders for sys.path cost that first
import ~0.3 ms to set up; no other import of `state` or `start` needs them.  This module itself, which
importlib loads, does without the __future__ import (its annotations naming typing's Any are strings).
"""

import _imp
import builtins
import marshal
import posix
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_external = sys.modules["_frozen_importlib_external"]
_ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec
_previous: "Any" = None
_STDLIB_SERVED = frozenset({"__future__"})


class _Fallback(Exception):
    """This import is importlib's to serve."""


class FastImporter:
    """An __import__ for the absolute imports of `package`, whose directory is in `root`."""

    def __init__(self, package: str, root: str, importer: "Any") -> None:
        self.package, self.root, self.importer = package, root, importer
        self.tag = f".{sys.implementation.cache_tag}.pyc"

    def __call__(self, name: str, globals: "Any" = None, locals: "Any" = None, fromlist: "Any" = (),
                 level: int = 0) -> "Any":
        if level or not (name == self.package or name.startswith(self.package + ".") or name in _STDLIB_SERVED) \
                or "threading" in sys.modules or (fromlist and "*" in fromlist):
            return self.importer(name, globals, locals, fromlist, level)
        try:
            module = self._ensure(name)
            for sub in fromlist or ():
                if not hasattr(module, sub):
                    self._ensure(f"{name}.{sub}")
        except _Fallback:
            return self.importer(name, globals, locals, fromlist, level)
        return module if fromlist else sys.modules[name.partition(".")[0]]

    def _ensure(self, name: str) -> "Any":
        if name not in sys.modules:
            parent = name.rpartition(".")[0]
            if parent:
                self._ensure(parent)
            if name not in sys.modules:
                return self._load(name)
        module = sys.modules[name]
        if module is None:  # importlib's mark of a blocked import: its ModuleNotFoundError
            raise _Fallback
        return module

    def _load(self, name: str) -> "Any":
        parent, _, base = name.rpartition(".")
        if parent:
            search = getattr(sys.modules[parent], "__path__", None)
            if not isinstance(search, list) or len(search) != 1:
                raise _Fallback
            directory = search[0]
        elif name in _STDLIB_SERVED:
            directory = getattr(sys, "_stdlib_dir", None)  # CPython 3.11+
            if not isinstance(directory, str):
                raise _Fallback
        else:
            directory = self.root
        source, is_package = f"{directory}/{base}/__init__.py", True
        try:
            st = posix.stat(source)
        except OSError:
            source, is_package = f"{directory}/{base}.py", False
            try:
                st = posix.stat(source)
            except OSError:
                raise _Fallback from None
        where, _, filename = source.rpartition("/")
        cached = f"{where}/__pycache__/{filename[:-3]}{self.tag}"
        try:
            fd = posix.open(cached, posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            raise _Fallback from None
        try:
            data = posix.read(fd, posix.fstat(fd).st_size)
        finally:
            posix.close(fd)
        if (data[:4] != _external.MAGIC_NUMBER or data[4:8] != b"\0\0\0\0"
                or int.from_bytes(data[8:12], "little") != int(st.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != st.st_size & 0xFFFFFFFF):
            raise _Fallback
        code = marshal.loads(memoryview(data)[16:])
        _imp._fix_co_filename(code, source)  # type: ignore[attr-defined]  # as importlib: the file's real path
        loader = _external.SourceFileLoader(name, source)
        spec = _ModuleSpec(name, loader, origin=source, is_package=is_package)
        spec.has_location = True
        spec.cached = cached
        module = type(sys)(name)
        module.__loader__, module.__spec__, module.__file__ = loader, spec, source
        module.__cached__ = cached  # type: ignore[attr-defined]
        module.__package__ = name if is_package else parent
        if is_package:
            module.__path__ = spec.submodule_search_locations = [where]
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        module = sys.modules[name]
        if parent:
            setattr(sys.modules[parent], base, module)
        return module


def install(package: str = "pyrt", root: str | None = None) -> None:
    """Serve `package` (by default pyrt, from where this file is) for the rest of this process."""
    global _previous
    if _previous is not None or sys.flags.optimize or sys.pycache_prefix or sys.flags.verbose:
        return
    if root is None:
        root = __file__.rsplit("/", 3)[0]  # <root>/pyrt/common/fastimport.py
    _previous = builtins.__import__
    builtins.__import__ = FastImporter(package, root, _previous)


def uninstall() -> None:
    global _previous
    if _previous is not None:
        builtins.__import__ = _previous
        _previous = None
