"""The hot commands stay cheap: what `state`, `start`, `kill`, `delete` and `list` import.

Imports are dear on this machine (json ~10 ms through re and enum, typing ~18 ms, argparse ~12 ms,
attrs ~45 ms); one stray import on the hot path doubles `pyrt state`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = {"json", "re", "enum", "typing", "argparse", "signal", "socket", "attrs", "attr", "pyseccomp", "pyroute2",
         "inspect", "subprocess", "ctypes"}


@pytest.mark.parametrize("argv", [["state", "x"], ["start", "x"], ["kill", "x", "KILL"], ["delete", "x"], ["list"]])
def test_hot_commands_import_nothing_heavy(argv: list[str], tmp_path: object) -> None:
    code = ("import sys\n"
            f"sys.path[:0] = [{str(ROOT)!r}]\n"
            "from pyrt.cli import main\n"
            f"main({['--root', str(tmp_path), *argv]!r})\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True).stdout
    loaded = set(out.split())
    assert not (HEAVY & loaded), f"{argv[0]} imports {sorted(HEAVY & loaded)}"
