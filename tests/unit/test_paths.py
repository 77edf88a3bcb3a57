"""Resolution inside a root never leaves it, with openat2 and with the fallback walker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrt.linux import paths


@pytest.fixture(params=["openat2", "fallback"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(paths, "_have_openat2", request.param == "openat2")
    yield request.param


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """A root whose symlinks point at a 'host' directory beside it, absolutely and with '..'."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host data")
    root = tmp_path / "root"
    root.mkdir()
    (root / "abs").symlink_to(host)
    (root / "dots").symlink_to("../../../../../../" + str(host).lstrip("/"))
    (root / "etc").mkdir()
    (root / "etc" / "passwd").symlink_to("/etc/../../../etc/passwd-in-root")
    return root, host


def _real(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_symlinks_resolve_inside_the_root(resolver: str, hostile: tuple[Path, Path]) -> None:
    root, host = hostile
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        for link in ("abs", "dots"):
            fd = paths.mkdir_all(rfd, f"/{link}/made")
            assert _real(fd).startswith(str(root) + "/"), link
        fd = paths.ensure_file(rfd, "/etc/passwd")
        assert _real(fd) == str(root / "etc" / "passwd-in-root")
    finally:
        os.close(rfd)
    assert sorted(os.listdir(host)) == ["secret"], "nothing may be created on the host side"
    assert (root / str(host).lstrip("/") / "made").is_dir()


def test_dotdot_cannot_climb_out(resolver: str, hostile: tuple[Path, Path]) -> None:
    root, _host = hostile
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        fd = paths.open_in_root(rfd, "/../../../..")
        assert _real(fd) == str(root)
    finally:
        os.close(rfd)


def test_missing_path_is_enoent(resolver: str, tmp_path: Path) -> None:
    rfd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(FileNotFoundError):
            paths.open_in_root(rfd, "/nope/deeper")
    finally:
        os.close(rfd)


def test_mkdir_all_makes_what_is_missing_and_only_that(resolver: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "keep").write_text("x")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _real(paths.mkdir_all(rfd, "/a")) == str(root / "a")  # there already: untouched
        assert _real(paths.mkdir_all(rfd, "a/b/c/")) == str(root / "a" / "b" / "c")
        assert _real(paths.mkdir_all(rfd, "/x/../y/./z")) == str(root / "y" / "z")  # x is made, as by mkdir -p
        assert _real(paths.mkdir_all(rfd, "/../../w")) == str(root / "w")  # '..' stops at the root
        assert _real(paths.mkdir_all(rfd, "/")) == str(root)
        with pytest.raises(NotADirectoryError):
            paths.mkdir_all(rfd, "/a/keep/sub")
    finally:
        os.close(rfd)
    assert sorted(p.name for p in root.iterdir()) == ["a", "w", "x", "y"]
    assert (root / "a" / "keep").read_text() == "x"


def test_mkdir_all_follows_dangling_symlinks_inside_the_root(resolver: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "rel").symlink_to("../made/here")  # relative: from d
    (root / "abs").symlink_to("/other")
    (root / "loop").symlink_to("loop")
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _real(paths.mkdir_all(rfd, "/d/rel/sub")) == str(root / "made" / "here" / "sub")
        assert _real(paths.mkdir_all(rfd, "/abs")) == str(root / "other")
        with pytest.raises(OSError):
            paths.mkdir_all(rfd, "/loop/x")
    finally:
        os.close(rfd)


def test_openat2_eagain_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """openat2(RESOLVE_IN_ROOT) fails with EAGAIN when a ".." is resolved while anything on the host
    renames or mounts; the caller is to try again (a flaky create in the suite was this)."""
    import errno

    from pyrt.linux import sys as S

    (tmp_path / "a").mkdir()
    real, calls = S.openat2, []

    def flaky(*args: object) -> int:
        calls.append(args)
        if len(calls) <= 3:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(S, "openat2", flaky)
    root = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _real(paths.open_in_root(root, "a/../a")) == str(tmp_path / "a") and len(calls) == 4

        def always(*args: object) -> int:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

        monkeypatch.setattr(S, "openat2", always)
        with pytest.raises(OSError) as caught:  # not forever: after its tries, the error stands
            paths.open_in_root(root, "a")
        assert caught.value.errno == errno.EAGAIN
    finally:
        os.close(root)


def test_dotdot_resolves_during_a_rename_storm(tmp_path: Path) -> None:
    """The real kernel: another thread renames in a loop while paths with ".." resolve inside a root.
    Raw openat2 gets EAGAIN at some rate here; open_in_root must never pass it on."""
    import errno
    import threading
    import time

    from pyrt.common import constants as C
    from pyrt.linux import sys as S

    (tmp_path / "root" / "a" / "b").mkdir(parents=True)
    (tmp_path / "root" / "c").mkdir()
    (tmp_path / "ren").mkdir()
    (tmp_path / "ren" / "0").touch()
    stop = threading.Event()

    def rename_storm() -> None:
        i = 0
        while not stop.is_set():
            os.rename(tmp_path / "ren" / str(i), tmp_path / "ren" / str(i + 1))
            i += 1

    thread = threading.Thread(target=rename_storm)
    thread.start()
    root = os.open(tmp_path / "root", os.O_PATH | os.O_DIRECTORY)
    raw_eagain = resolved = 0
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                os.close(S.openat2(root, "a/b/../../c", os.O_PATH | os.O_CLOEXEC, C.RESOLVE_IN_ROOT))
            except OSError as exc:
                assert exc.errno == errno.EAGAIN
                raw_eagain += 1
            for _ in range(20):
                os.close(paths.open_in_root(root, "a/b/../../c"))
                resolved += 1
    finally:
        stop.set()
        thread.join()
        os.close(root)
    assert resolved > 0
    if raw_eagain == 0:
        pytest.skip("no EAGAIN from openat2 in this run: the race did not happen")
