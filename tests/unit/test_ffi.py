"""pyrt.linux.ffi builds libc calls from _ctypes: they must behave as ctypes' own."""

from __future__ import annotations

import ctypes
import errno
import os

from pyrt.linux import ffi
from pyrt.linux import sys as S


def test_scalar_types_have_ctypes_sizes() -> None:
    pairs = [(ffi.c_char, ctypes.c_char), (ffi.c_char_p, ctypes.c_char_p), (ffi.c_void_p, ctypes.c_void_p),
             (ffi.c_ushort, ctypes.c_ushort), (ffi.c_int, ctypes.c_int), (ffi.c_int32, ctypes.c_int32),
             (ffi.c_uint32, ctypes.c_uint32), (ffi.c_long, ctypes.c_long), (ffi.c_ulong, ctypes.c_ulong),
             (ffi.c_uint64, ctypes.c_uint64), (ffi.c_size_t, ctypes.c_size_t)]
    for ours, theirs in pairs:
        assert ffi.sizeof(ours) == ctypes.sizeof(theirs), ours
    assert ffi.c_long(-5).value == -5 and ffi.c_ulong(-1).value == 2**64 - 1 and ffi.c_uint32(2**32).value == 0


def test_a_structure_lays_out_as_ctypes_does() -> None:
    class Ours(ffi.Structure):
        _fields_ = [("a", ffi.c_uint32), ("b", ffi.c_uint64), ("c", ffi.c_char * 5), ("d", ffi.c_ushort)]

    class Theirs(ctypes.Structure):
        _fields_ = [("a", ctypes.c_uint32), ("b", ctypes.c_uint64), ("c", ctypes.c_char * 5), ("d", ctypes.c_ushort)]

    ours, theirs = Ours(1, 2**40, b"abc", 7), Theirs(1, 2**40, b"abc", 7)
    assert ffi.sizeof(ours) == ctypes.sizeof(theirs) == 24  # 4, pad 4, 8, 5, pad 1, 2
    assert bytes(ours) == bytes(theirs)


def test_calls_return_values_and_keep_errno() -> None:
    getpid = ffi.libc("getpid")
    assert getpid() == os.getpid()
    close = ffi.libc("close", argtypes=[ffi.c_int])
    assert close(-1) == -1 and ffi.get_errno() == errno.EBADF
    syscall = ffi.libc("syscall", ffi.c_long)
    assert syscall(39) == os.getpid()  # getpid by number


def test_buffer_copies_bytes_and_has_an_address() -> None:
    buf = ffi.buffer(b"pyrt\0x")
    assert bytes(buf) == b"pyrt\0x" and ffi.addressof(buf) != 0
    assert ctypes.string_at(ffi.addressof(buf), 6) == b"pyrt\0x"


def test_python_api_reaches_this_interpreter() -> None:
    assert ffi.python_api("PyErr_Clear")() is None  # void, and harmless with no error set


def test_the_syscall_layer_reports_errno() -> None:
    try:
        S.mount(None, "/nonexistent-pyrt-target", None, 0, None)
    except OSError as exc:
        assert exc.errno in (errno.ENOENT, errno.EPERM) and exc.filename == "/nonexistent-pyrt-target"
    else:
        raise AssertionError("mount of a missing target succeeded")
