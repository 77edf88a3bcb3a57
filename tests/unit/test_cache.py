"""The plan cache: atomic, bounded, oldest evicted first, corrupt entries are misses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyrt.common import cache


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYRT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_round_trip_and_keys() -> None:
    k = cache.key("plan", b"config", ("opt", 1))
    assert k != cache.key("plan", b"config", ("opt", 2))
    assert cache.get("plans", k) is None
    cache.put("plans", k, {"plan": {"bpf": b"\x00" * 8}})
    assert cache.get("plans", k) == {"plan": {"bpf": b"\x00" * 8}}


def test_a_later_put_is_the_value_as_it_was_and_is_written_at_flush() -> None:
    """create puts a new plan with later=True, then changes the plan (its id, cgroups) and flushes while
    init builds its rootfs: the cache holds the plan as planned, and nothing before the flush."""
    k = cache.key("plan", b"later")
    mounts = [1, 2]
    plan: dict[str, Any] = {"id": None, "mounts": mounts}
    cache.put("plans", k, plan, later=True)
    plan["id"] = "c1"
    mounts.append(3)
    assert cache.get("plans", k) is None
    cache.flush()
    assert cache.get("plans", k) == {"id": None, "mounts": [1, 2]}
    cache.flush()  # nothing left to write
    cache.put("plans", k, {"unmarshallable": object()}, later=True)  # never an error for the caller
    cache.flush()
    assert cache.get("plans", k) == {"id": None, "mounts": [1, 2]}


@pytest.mark.parametrize("damage", [b"", b"garbage", cache.MAGIC, cache.MAGIC + b"\xff\xfe"])
def test_corrupt_or_truncated_entry_is_a_miss(cache_dir: Path, damage: bytes) -> None:
    k = cache.key("x")
    cache.put("plans", k, {"a": 1})
    (cache_dir / "plans" / k).write_bytes(damage)
    assert cache.get("plans", k) is None
    cache.put("plans", k, {"a": 2})
    assert cache.get("plans", k) == {"a": 2}


def test_eviction_removes_oldest_first(cache_dir: Path) -> None:
    keys = [cache.key(i) for i in range(5)]
    for i, k in enumerate(keys):
        cache.put("plans", k, b"x" * 1000)
        os.utime(cache_dir / "plans" / k, (1000 + i, 1000 + i))
    cache.get("plans", keys[0])  # used now: the newest
    assert cache.evict("plans", limit=3 * 1100) == 2
    left = {p.name for p in (cache_dir / "plans").iterdir()}
    assert left == {keys[0], keys[3], keys[4]}


def test_puts_keep_a_kind_near_its_limit_without_scanning_on_every_put(cache_dir: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_BYTES", 20 * 1100)
    scans: list[str] = []
    real = cache.evict

    def counted(kind: str) -> int:
        scans.append(kind)
        return real(kind)

    monkeypatch.setattr(cache, "evict", counted)
    for i in range(400):
        cache.put("plans", cache.key(i), b"x" * 1000)
    total = sum(p.stat().st_size for p in (cache_dir / "plans").iterdir())
    assert total <= 20 * 1100 + 300 * 1100  # passing by 300 entries: (15/16)**300 = 4e-9
    assert 5 <= len(scans) <= 80  # ~25 of 400 (one in 16), not 400


def test_concurrent_writers_of_one_entry_both_succeed(cache_dir: Path) -> None:
    code = ("import sys; from pyrt.common import cache\n"
            "for i in range(200): cache.put('plans', 'same', {'n': list(range(500))})\n"
            "assert cache.get('plans', 'same') == {'n': list(range(500))}\n")
    env = dict(os.environ, PYRT_CACHE_DIR=str(cache_dir))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]
    assert [p.name for p in (cache_dir / "plans").iterdir()] == ["same"]


def test_stats_and_clear() -> None:
    cache.put("plans", cache.key(1), [1])
    assert cache.stats()["kinds"]["plans"]["entries"] == 1
    assert cache.clear() == 1
    assert cache.stats()["kinds"]["plans"]["entries"] == 0


def test_the_code_stamp_covers_every_module_of_every_package() -> None:
    """A changed module anywhere in pyrt, however deep its package, must change the stamp (a plan cached
    by older code is never reused): the stamp counts every .py file and takes the newest mtime."""
    from pyrt.common import cache
    from tests.conftest import ROOT

    files = [p for p in (ROOT / "pyrt").rglob("*.py") if "__pycache__" not in p.parts]
    _version, newest, count = cache._scan_code()
    assert count == len(files)
    assert newest == max(p.stat().st_mtime_ns for p in files)
