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

from pyrt.errors import PyrtError, SpecError
from pyrt.jsonread import parse_json_bytes
from pyrt.plan import build
from pyrt.spec import parse_spec
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
