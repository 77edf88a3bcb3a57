"""pyseccomp imported through pyrt.seccomp.binding: the same libraries, without ctypes.util's ldconfig."""

from __future__ import annotations

import subprocess
import sys
import sysconfig

from tests.conftest import ROOT

PATHS = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
REPORT = ("import ctypes, ctypes.util\n"
          "print(ps._libc._name, ps._libseccomp._name, ps.resolve_syscall(ps.Arch.X86_64, 'unshare'),\n"
          "      'subprocess' in before, ctypes.util.find_library is binding.find_library,\n"
          "      ctypes.util is sys.modules['ctypes.util'], hasattr(ctypes.util, '_findSoname_ldconfig'))\n")


def _run(prelude: str) -> list[str]:
    """In a fresh isolated interpreter: prelude, load(), then what pyseccomp loaded and what was imported."""
    code = (f"import sys\nsys.path[:0] = {PATHS!r}\n{prelude}\n"
            "from pyrt.seccomp import binding\n"
            "ps = binding.load()\n"
            "before = set(sys.modules)\n" + REPORT)
    res = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_pyseccomp_gets_the_sonames_without_subprocess_or_ldconfig() -> None:
    # ldconfig -p lists the same sonames here (what find_library returned before)
    libc, libseccomp, nr, used_subprocess, stand_in_left, bound, real = _run("")
    assert (libc, libseccomp, nr) == ("libc.so.6", "libseccomp.so.2", "272")
    assert used_subprocess == "False"  # ctypes.util imports subprocess and runs ldconfig through it
    assert (stand_in_left, bound, real) == ("False", "True", "True")  # the real ctypes.util afterwards


def test_a_soname_that_does_not_open_is_asked_of_the_real_find_library() -> None:
    out = _run("import pyrt.seccomp.binding as b\nb.SONAMES.update(c='libc.so.99', seccomp='libseccomp.so.99')")
    libc, libseccomp, nr, used_subprocess, stand_in_left, bound, real = out
    assert (libc, libseccomp, nr) == ("libc.so.6", "libseccomp.so.2", "272")  # what ldconfig -p answered
    assert used_subprocess == "True"
    assert (stand_in_left, bound, real) == ("False", "True", "True")


def test_with_ctypes_util_already_imported_pyseccomp_is_imported_as_it_is() -> None:
    libc, libseccomp, nr, _used, stand_in_left, bound, real = _run("import ctypes.util")
    assert (libc, libseccomp, nr) == ("libc.so.6", "libseccomp.so.2", "272")
    assert (stand_in_left, bound, real) == ("False", "True", "True")
