"""libc's functions and the few C types pyrt passes them, built straight from ``_ctypes``.

``_ctypes`` is the C half of ctypes: it converts arguments, calls through libffi and saves errno.
The ``ctypes`` package around it defines ~40 types, imports struct, types and _endian and opens
libpython for ``pythonapi``; that costs 3-4 ms per command here (measured: ``import os, ctypes``
4.7 ms above ``import os``, these definitions 1.8 ms with the module import), and `create`,
`run` and `exec` pay it on every container.  Calls made through this module behave exactly as
through ``ctypes.CDLL(None, use_errno=True)``: same C code, same conversions, same errno copy.

The type checker sees ctypes' own classes (same layouts and methods).
"""

from __future__ import annotations

import _ctypes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ctypes import Structure as Structure
    from ctypes import c_char as c_char
    from ctypes import c_char_p as c_char_p
    from ctypes import c_int as c_int
    from ctypes import c_int32 as c_int32
    from ctypes import c_long as c_long
    from ctypes import c_size_t as c_size_t
    from ctypes import c_uint32 as c_uint32
    from ctypes import c_uint64 as c_uint64
    from ctypes import c_ulong as c_ulong
    from ctypes import c_ushort as c_ushort
    from ctypes import c_void_p as c_void_p
    from typing import Any
else:
    def _scalar(name: str, code: str) -> type:
        """A C scalar type: _SimpleCData with its struct-module code, as ctypes defines them."""
        return type(name, (_ctypes._SimpleCData,), {"_type_": code})

    c_char, c_char_p, c_void_p, c_ushort = _scalar("c_char", "c"), _scalar("c_char_p", "z"), \
        _scalar("c_void_p", "P"), _scalar("c_ushort", "H")
    c_int, c_uint32, c_long = _scalar("c_int", "i"), _scalar("c_uint32", "I"), _scalar("c_long", "l")
    c_ulong, c_uint64 = _scalar("c_ulong", "L"), _scalar("c_uint64", "Q")
    c_int32, c_size_t = c_int, c_ulong  # LP64: int is 32 bits, size_t is unsigned long
    Structure = _ctypes.Structure

byref = _ctypes.byref
sizeof = _ctypes.sizeof
addressof = _ctypes.addressof
get_errno = _ctypes.get_errno
_RTLD_NOW = 2


class _Process:
    """The symbols already loaded into this process (libc, libpython): dlopen(NULL), as CDLL(None)."""

    _handle = _ctypes.dlopen(None, _RTLD_NOW)  # type: ignore[arg-type]  # NULL: this process


_PROCESS = _Process()


class _LibcFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class _PythonFunction(_ctypes.CFuncPtr):
    """A C-API function: called with the GIL held (as ctypes.pythonapi's)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI
    _restype_ = None


def libc(name: str, restype: Any = c_int, argtypes: list[Any] | None = None) -> Any:
    """A libc function; errno after each call is get_errno()."""
    fn = _LibcFunction((name, _PROCESS))  # type: ignore[arg-type]  # a CDLL-like handle holder
    fn.restype = restype
    if argtypes is not None:
        fn.argtypes = argtypes
    return fn


def python_api(name: str) -> Any:
    """A void C-API function of this interpreter (PyOS_BeforeFork and the like)."""
    return _PythonFunction((name, _PROCESS))  # type: ignore[arg-type]


def buffer(data: bytes) -> Any:
    """A C copy of data (ctypes.create_string_buffer without the trailing NUL)."""
    return (c_char * len(data)).from_buffer_copy(data)
