"""pyrt.common.posixos and pathnames answer as os and posixpath do, for what pyrt's hot modules use."""

from __future__ import annotations

import os
import posixpath
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.common import pathnames, posixos
from tests.conftest import ROOT

# Paths built from the pieces that make path functions go wrong: runs of slashes, dots, dot-dots.
parts = st.sampled_from(["", "/", "//", "///", ".", "..", "a", "b", "c.d", "...", " ", "é"])
paths = st.lists(parts, max_size=8).map("".join)


@given(paths)
def test_dirname_basename_normpath_as_posixpath(p: str) -> None:
    assert pathnames.dirname(p) == posixpath.dirname(p)
    assert pathnames.basename(p) == posixpath.basename(p)
    assert pathnames.normpath(p) == posixpath.normpath(p)


@given(paths, st.lists(paths, max_size=4))
def test_join_as_posixpath(a: str, rest: list[str]) -> None:
    assert pathnames.join(a, *rest) == posixpath.join(a, *rest)


@settings(max_examples=200)
@given(paths, paths)
def test_abspath_relpath_as_posixpath(p: str, start: str) -> None:
    assert pathnames.abspath(p) == posixpath.abspath(p)
    if p:
        assert pathnames.relpath(p, start or ".") == posixpath.relpath(p, start or ".")
    else:
        with pytest.raises(ValueError):
            pathnames.relpath(p)


def test_exists_lexists_isdir_isfile(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    (tmp_path / "link").symlink_to(f)
    (tmp_path / "dangling").symlink_to(tmp_path / "none")
    for p in [tmp_path, f, tmp_path / "link", tmp_path / "dangling", tmp_path / "none", Path("/dev/null"), "a\0b"]:
        name = str(p)
        assert (pathnames.exists(name), pathnames.lexists(name), pathnames.isdir(name), pathnames.isfile(name)) == \
            (os.path.exists(name), os.path.lexists(name), os.path.isdir(name), os.path.isfile(name)), name


def test_resolved_is_realpath_of_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("")
    (tmp_path / "l").symlink_to("d")
    name = f"{tmp_path}/l/../l/./f"
    assert pathnames.resolved(name) == os.path.realpath(name) == f"{tmp_path}/d/f"
    with pytest.raises(FileNotFoundError):
        pathnames.resolved(f"{tmp_path}/none")


def test_getenv_and_fsencode(monkeypatch: pytest.MonkeyPatch) -> None:
    out = subprocess.run(
        [sys.executable, "-IS", "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}]\n"
         "from pyrt.common import posixos\n"
         "print(repr(posixos.getenv('PYRT_T')), repr(posixos.getenv('PYRT_NONE', 'd')), posixos.getenv('PYRT_NONE'))\n"
         "print('os' in sys.modules, '_collections_abc' in sys.modules)"],
        env={"PYRT_T": "x=\udcff"}, capture_output=True, text=True, errors="surrogateescape", check=True)
    assert out.stdout.splitlines() == ["'x=\\udcff' 'd' None", "False False"]
    assert posixos.fsencode("a\udcff") == os.fsencode("a\udcff") == b"a\xff"
    assert posixos.fsencode(b"b") == b"b"


def test_makedirs_as_os(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        posixos.makedirs(f"{tmp_path}/a/b/c", 0o700)
        os.makedirs(f"{tmp_path}/x/b/c", 0o700)
    finally:
        os.umask(old)
    for top in ("a", "x"):
        modes = [stat.S_IMODE(os.stat(f"{tmp_path}/{top}{rest}").st_mode) for rest in ("", "/b", "/b/c")]
        assert modes == [0o755, 0o755, 0o700]
    posixos.makedirs(f"{tmp_path}/a/b/c", exist_ok=True)
    with pytest.raises(FileExistsError):
        posixos.makedirs(f"{tmp_path}/a/b/c")
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        posixos.makedirs(f"{tmp_path}/file", exist_ok=True)  # exists, but not as a directory
    with pytest.raises(NotADirectoryError):
        posixos.makedirs(f"{tmp_path}/file/sub", exist_ok=True)


def test_the_calls_are_the_os_ones() -> None:
    for name in ("open", "read", "write", "close", "fork", "execve", "waitpid", "scandir", "stat_result", "_exit",
                 "O_PATH", "WNOHANG", "SEEK_SET", "SEEK_END", "sep", "devnull"):
        assert getattr(posixos, name) == getattr(os, name), name
