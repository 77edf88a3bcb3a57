"""scripts/stress at CI size: parallel lifecycles and same-id races leave nothing behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import IS_ROOT, ROOT

pytestmark = pytest.mark.root


@pytest.mark.skipif(not IS_ROOT, reason="needs root: runs containers")
def test_stress_small() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "stress.py"), "40", "8"], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("pyrt: cycles=40 parallel=8 failures=0 leaks=0"), res.stdout
