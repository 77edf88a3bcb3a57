"""README's tour, run as a reader would type it: every line of its `sh` blocks, in order, from the
repository's top.  A line's comment states what it shows: `(exit N)` its exit status (else 0), `prints "X"`
text its output must contain.  What the line leaves behind (the tour's containers, its files in /tmp)
is removed afterwards and checked for."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_ROOT, ROOT, cgroup_dirs, host_mounts, reap

README = ROOT / "README.md"
TOUR_IDS = ("demo", "demo2", "web")
TOUR_FILES = ("/tmp/app.json", "/tmp/docker-default.json")


def tour_lines(text: str) -> list[tuple[str, str, int, list[str]]]:
    """(section, command, expected exit status, texts it prints) for each line of each ```sh block
    under "## A tour"."""
    tour = text.split("## A tour", 1)[1].split("\n## ", 1)[0]
    out = []
    section = ""
    in_block = False
    for line in tour.splitlines():
        if line.startswith("### "):
            section = line[4:]
        if line.startswith("```"):
            in_block = line == "```sh" if not in_block else False
            continue
        if not in_block or not line.strip():
            continue
        command, _, comment = line.partition("   #")
        status = re.search(r"\(exit (\d+)\)", comment)
        out.append((section, command.strip(), int(status.group(1)) if status else 0,
                    re.findall(r'prints "([^"]+)"', comment)))
    return out


def test_the_tour_is_found() -> None:
    lines = tour_lines(README.read_text())
    sections = {s for s, *_ in lines}
    assert {"Run a bundle", "The lifecycle, as engines drive it", "Seccomp, as Docker layers it",
            "Recording a minimal profile", "Networking"} <= sections
    assert len(lines) >= 25


@pytest.fixture
def clean_tour() -> Iterator[None]:
    if not IS_ROOT:
        pytest.skip("needs root: the tour runs real containers")
    before = host_mounts()
    yield
    reap()
    left = [f"state /run/pyrt/{cid}" for cid in TOUR_IDS if Path("/run/pyrt", cid).exists()]
    left += [f"cgroup {d}" for cid in TOUR_IDS for d in cgroup_dirs(cid)]
    for cid in TOUR_IDS:
        subprocess.run(["pyrt", "delete", "--force", cid], capture_output=True)
    for name in TOUR_FILES:
        Path(name).unlink(missing_ok=True)
    reap()
    assert not left, f"the tour left {left}"
    assert not host_mounts() - before


def test_every_tour_line_does_what_its_comment_says(clean_tour: None, tmp_path: Path) -> None:
    """One output file for all lines, as a terminal is: a container started detached keeps writing to
    the stdio of the command that created it (a pipe would never reach its end)."""
    env = {**os.environ, "PATH": f"/usr/local/bin:{os.environ['PATH']}"}
    terminal = tmp_path / "terminal"
    with open(terminal, "w+") as out:
        for section, command, status, prints in tour_lines(README.read_text()):
            start = out.seek(0, os.SEEK_END)
            res = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdout=out, stderr=out,
                                 timeout=60, stdin=subprocess.DEVNULL)
            out.seek(start)
            seen = out.read()
            shown = f"[{section}] {command} -> {res.returncode}\n{seen}"
            assert res.returncode == status, shown
            for text in prints:
                assert text in seen, shown
