"""Ids, the state store and the small JSON codec of the hot commands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrt.commands.state import Store, status, validate_id
from pyrt.common import fastjson
from pyrt.common.errors import PyrtError, StateError


@pytest.mark.parametrize("cid", ["a", "abc-DEF_1.2+3", "x" * 200])
def test_valid_ids(cid: str) -> None:
    validate_id(cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "../../x", "a/b", "a b", "é", "a\x00b", "x" * 1025])
def test_invalid_ids(cid: str) -> None:
    with pytest.raises(PyrtError, match="invalid container id"):
        validate_id(cid)


def test_store_claims_an_id_once(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "root"))
    fd = store.create("c1")
    os.close(fd)
    with pytest.raises(StateError, match="already exists"):
        store.create("c1")
    with pytest.raises(StateError, match="^container c2 does not exist$"):
        store.read("c2")


def test_write_is_atomic_and_status_derived(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    os.close(store.create("c1"))
    record = {"id": "c1", "pid": os.getpid(), "init_start_time": -1, "status": "created"}
    store.write("c1", record)
    assert store.read("c1") == record
    assert [p.name for p in (tmp_path / "c1").iterdir()] == ["state.json"]  # no temp file left
    assert status(store, record) == "stopped"  # same pid, another start time: pid reuse is caught
    store.remove("c1")
    assert not (tmp_path / "c1").exists()


@pytest.mark.parametrize("exchange_works", [True, False])
def test_rewrites_replace_the_state_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          exchange_works: bool) -> None:
    """Later writes exchange the new file with the old (no rename over a file: see sys.replace),
    or rename where the filesystem cannot exchange; either way one state.json, the last one."""
    from pyrt.linux import sys as S

    calls: list[str] = []
    real = S.exchange

    def exchange(a: str, b: str) -> None:
        calls.append(b)
        if not exchange_works:
            raise OSError(22, "Invalid argument", b)
        real(a, b)

    monkeypatch.setattr(S, "exchange", exchange)
    store = Store(str(tmp_path))
    os.close(store.create("c1"))
    for n in range(3):
        store.write("c1", {"id": "c1", "n": n})
        assert store.read("c1") == {"id": "c1", "n": n}
        assert [p.name for p in (tmp_path / "c1").iterdir()] == ["state.json"]
    assert calls == [str(tmp_path / "c1" / "state.json")] * 2  # not for the first write: nothing to exchange


@pytest.mark.parametrize("value", [
    {"a": 1, "b": [1, 2, {"c": None}], "d": True, "e": False, "f": "x\"y\\z\n\u00e9\U0001f600"},
    [], {}, "", 0, -5, 1.5, [[[]]], {"k": {"n": -1234567890123}},
])
def test_fastjson_round_trip(value: object) -> None:
    assert fastjson.loads(fastjson.dumps(value)) == value
    assert json.loads(fastjson.dumps(value)) == value
    assert fastjson.loads(json.dumps(value)) == value
    assert json.loads(fastjson.dumps(value, indent=2)) == value


@pytest.mark.parametrize("text", ["", "{", "[1,]", "{\"a\" 1}", "nul", "1 2", "{1: 2}"])
def test_fastjson_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        fastjson.loads(text)


def test_every_status_validates_against_the_state_schema(tmp_path: Path) -> None:
    from pyrt.commands.state import oci_view
    from tests.conftest import schema_validator

    validator = schema_validator("state-schema.json")
    store = Store(str(tmp_path))
    os.close(store.create("c1"))
    base = {"ociVersion": "1.0.2-dev", "id": "c1", "pid": os.getpid(), "bundle": "/b", "rootfs": "/b/rootfs",
            "created": "2026-12-01T00:00:00.000000000Z", "annotations": {"a": "b"}}
    from pyrt.linux.processes import proc_stat

    me = proc_stat(os.getpid())
    assert me is not None
    seen = []
    for record in ({**base, "status": "creating", "creator_pid": os.getpid(), "creator_start_time": me[1]},
                   {**base, "status": "created", "init_start_time": me[1]},
                   {**base, "status": "created", "init_start_time": -1}):
        view = oci_view(store, record)
        validator.validate(view)
        seen.append(view["status"])
    open(store.fifo("c1"), "w").close()
    view = oci_view(store, {**base, "status": "created", "init_start_time": me[1]})
    validator.validate(view)
    seen.append(view["status"])
    assert seen == ["creating", "running", "stopped", "created"]


@given(st.text())
def test_fastjson_strings_are_json_strings(text: str) -> None:
    assert fastjson.dumps(text) == json.dumps(text, ensure_ascii=False)
    assert fastjson.loads(fastjson.dumps(text)) == text
    assert fastjson.loads(json.dumps(text)) == text  # \uXXXX escapes, surrogate pairs for astral characters


@given(st.text(alphabet=st.sampled_from('ab"\\/ubfnrtxdD0123456789cCeEfF\x01\x1f \u00e9\u2028')))
def test_fastjson_reads_string_literals_as_json_does(body: str) -> None:
    literal = f'"{body}"'
    try:
        expected: object = json.loads(literal)
    except ValueError:
        expected = ValueError
    try:
        got: object = fastjson.loads(literal)
    except ValueError:
        got = ValueError
    assert got == expected


def test_write_atomic_puts_a_file_in_place_over_an_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--pid-file: the second write exchanges the new file with the old (sys.replace), leaving one
    file with the new bytes; an unwritable place is one error naming the flag and the path."""
    from pyrt.linux import sys as S
    from pyrt.linux.files import write_atomic

    calls: list[str] = []
    real = S.exchange

    def exchange(a: str, b: str) -> None:
        calls.append(b)
        real(a, b)

    monkeypatch.setattr(S, "exchange", exchange)
    target = tmp_path / "init.pid"
    write_atomic(str(target), b"123", "--pid-file")
    write_atomic(str(target), b"4567", "--pid-file")
    assert target.read_bytes() == b"4567"
    assert [p.name for p in tmp_path.iterdir()] == ["init.pid"]
    assert calls == [str(target)]
    with pytest.raises(PyrtError, match=r"^--pid-file /nonexistent/x\.pid: No such file or directory$"):
        write_atomic("/nonexistent/x.pid", b"1", "--pid-file")
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-dir" / "kept").write_text("")
    with pytest.raises(PyrtError, match=r": Is a directory$"):  # rename's answer: exchange would swap it away
        write_atomic(str(tmp_path / "a-dir"), b"1", "--pid-file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir", "init.pid"]
    assert [p.name for p in (tmp_path / "a-dir").iterdir()] == ["kept"]
    os.symlink("init.pid", tmp_path / "link")
    write_atomic(str(tmp_path / "link"), b"89", "--pid-file")  # the link is replaced, its target untouched
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "link").read_bytes() == b"89"
    assert (tmp_path / "init.pid").read_bytes() == b"4567"
