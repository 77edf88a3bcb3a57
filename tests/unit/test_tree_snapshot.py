"""The check that the suite leaves bundles/busybox/rootfs as it found it sees every kind of change."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.conftest import tree_snapshot


def test_every_change_shows(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("a")
    (tmp_path / "l").symlink_to("f")
    base = tree_snapshot(tmp_path)
    assert set(base) == {"d", "f", "l"}
    def relink() -> None:
        (tmp_path / "l").unlink()
        (tmp_path / "l").symlink_to("d")

    changes: list[Callable[[], object]] = [
        lambda: (tmp_path / "d" / "new").mkdir(),  # a mount point made in it
        lambda: (tmp_path / "f").write_text("b"),  # same size, other content
        lambda: os.chmod(tmp_path / "d", 0o700),
        relink,
    ]
    for change in changes:
        change()
        assert tree_snapshot(tmp_path) != base
        base = tree_snapshot(tmp_path)
