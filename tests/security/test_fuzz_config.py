"""Property-based fuzzing of config.json: any mutation is either accepted or refused with one
SpecError naming a JSON path; never another exception (which would reach the user as a traceback)."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrt.common.errors import PyrtError, SpecError
from pyrt.common.jsonread import parse_json_bytes
from pyrt.config.spec import parse_spec
from pyrt.planning.plan import build
from tests.conftest import BUSYBOX, ROOTFS, busybox_config

EXAMPLES = int(os.environ.get("PYRT_FUZZ_EXAMPLES", "3000"))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=12),
                    st.sampled_from(["", "/", "..", "\x00", "é漢\U0001f600", "CAP_KILL", "SCMP_ACT_ALLOW", "rw",
                                     "/proc/kcore", "RLIMIT_NOFILE", "pid", "-1", "1.0.2"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def paths_of(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths_of(v, (*prefix, i))
    return out


BASE = busybox_config()
PATHS = [p for p in paths_of(BASE) if p]


def mutate(cfg: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return cfg


def check(cfg: Any) -> None:
    raw = json.dumps(cfg).encode()
    try:
        spec = parse_spec(parse_json_bytes(raw, "config.json"))
        build(spec, bundle=str(BUSYBOX))
    except SpecError as exc:
        text = str(exc)
        assert text and "\n" not in text, text
    except PyrtError as exc:  # other refusals are still one clear line
        assert str(exc) and "\n" not in str(exc)


@pytest.mark.skipif(not ROOTFS.is_dir(), reason="bundles/busybox/rootfs missing: run scripts/setup")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values, st.booleans()), min_size=1, max_size=3))
def test_mutated_configs_are_accepted_or_refused_in_one_line(mutations: list[tuple[Any, Any, bool]]) -> None:
    cfg = BASE
    for path, value, delete in mutations:
        try:
            cfg = mutate(cfg, path, value, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the way there
    check(cfg)


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True)
@given(values)
def test_any_json_document(doc: Any) -> None:
    check(doc)


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_any_bytes(raw: bytes) -> None:
    try:
        parse_spec(parse_json_bytes(raw, "config.json"))
    except SpecError as exc:
        assert "\n" not in str(exc)


def test_deep_nesting() -> None:
    with pytest.raises(SpecError, match="nested too deeply|invalid JSON"):
        parse_json_bytes(b"[" * 100000 + b"]" * 100000, "config.json")


@pytest.mark.root
def test_mutated_configs_through_the_real_cli(tmp_path: Any) -> None:
    """A few hundred mutations through `pyrt create`: exit 0 or 1, one line on stderr, no traceback,
    and nothing left behind (checked once at the end, after deleting what was created)."""
    import random
    import subprocess

    from tests.conftest import PYRT, cgroup_dirs, host_mounts

    if os.geteuid() != 0:
        pytest.skip("needs root")
    rng = random.Random(20261201)
    pool = [None, True, -1, 2**64, "", "/", "..", "\x00", "é", [], {}, [1, "a"], {"x": 1}, "SCMP_ACT_NOPE",
            "RLIMIT_X", "/nonexistent", 0, 1.5]
    import uuid

    root = tmp_path / "root"
    mounts_before = host_mounts()
    ids: list[str] = []
    run = uuid.uuid4().hex[:6]
    n = int(os.environ.get("PYRT_CLI_FUZZ", "300"))
    try:
        _fuzz_cli(rng, pool, root, tmp_path, run, n, ids)
    finally:
        for cid in ids:
            subprocess.run([str(PYRT), "--root", str(root), "delete", "--force", cid], timeout=60)
    assert not root.exists() or not list(root.iterdir())
    assert all(cgroup_dirs(f"fz{run}-{i}") == [] for i in range(n))
    assert host_mounts() - mounts_before == set()


def _fuzz_cli(rng: Any, pool: list[Any], root: Any, tmp_path: Any, run: str, n: int, ids: list[str]) -> None:
    import subprocess

    from tests.conftest import PYRT

    for i in range(n):
        cfg = copy.deepcopy(BASE)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(PATHS)
            try:
                cfg = mutate(cfg, path, rng.choice(pool), rng.random() < 0.3)
            except (KeyError, IndexError, TypeError):
                pass
        if isinstance(cfg.get("process"), dict):
            cfg["process"]["args"] = ["true"]  # keep accepted configs short-lived
        bundle = tmp_path / f"b{i}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(cfg))
        cid = f"fz{run}-{i}"
        err_file = tmp_path / f"err{i}"
        with open(err_file, "w") as err:  # a file: an accepted create leaves the container holding it
            code = subprocess.run([str(PYRT), "--root", str(root), "create", "-b", str(bundle), cid],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                  timeout=60).returncode
        stderr = err_file.read_text()
        assert code in (0, 1), (code, stderr)
        assert "Traceback" not in stderr
        if code == 1:
            errors = [line for line in stderr.splitlines() if not line.startswith("pyrt: warning: ")]
            assert len(errors) == 1 and errors[0].startswith("pyrt: "), stderr
            assert ": " in errors[0][len("pyrt: "):], stderr  # what, then why
        else:
            ids.append(cid)
