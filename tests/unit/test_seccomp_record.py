"""The recorded-profile generator (pyrt/seccomp/record.py): pure, no containers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyrt.common.errors import PyrtError
from pyrt.seccomp import profiles, record, tools
from pyrt.seccomp.compiler import compile_section


def observed(workload: set[str], runtime: set[str] = frozenset(), **values: set[int]) -> record.Observed:  # type: ignore[assignment]
    obs = record.Observed()
    obs.workload |= workload
    obs.runtime |= runtime
    for name, seen in values.items():
        obs.values[name] |= seen
    return obs


def by_kind(prof: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in prof["syscalls"] if e["comment"].startswith(f"{record.TAG} {kind}")]


def test_the_profile_is_docker_format_and_allows_only_what_was_seen() -> None:
    prof = record.profile(observed({"read", "write", "execve", "exit_group"}))
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO" and prof["defaultErrnoRet"] == 1
    assert prof["archMap"] == [{"architecture": "SCMP_ARCH_X86_64",
                                "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}]
    assert by_kind(prof, "workload")[0]["names"] == ["execve", "exit_group", "read", "write"]
    runtime = set(by_kind(prof, "runtime")[0]["names"])
    assert {"capset", "setgroups", "futex", "close_range"} <= runtime  # runc's and pyrt's, measured
    assert not runtime & {"read", "write", "execve"}  # listed once, under the workload
    assert by_kind(prof, "clone3")[0] == {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                                          "comment": by_kind(prof, "clone3")[0]["comment"]}


def test_clone_keeps_only_the_namespace_flags_it_used() -> None:
    never = record.profile(observed({"clone"}, clone={0x11, 0x3D0F00}))
    (rule,) = by_kind(never, "clone:")
    assert rule["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
    uts = record.profile(observed({"clone"}, clone={0x04000011}))
    assert by_kind(uts, "clone:")[0]["args"][0]["value"] == 0x7E020000 & ~0x04000000
    every = record.profile(observed({"clone"}, clone={0x7E020011}))
    assert "args" not in by_kind(every, "clone:")[0]


def test_socket_and_personality_get_one_rule_per_value() -> None:
    prof = record.profile(observed({"socket", "personality"}, socket={2, 1}, personality={0xFFFFFFFF}))
    assert [(e["names"], e["args"]) for e in by_kind(prof, "socket")] == [
        (["socket"], [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]),
        (["socket"], [{"index": 0, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"}])]
    assert [e["args"][0]["value"] for e in by_kind(prof, "personality")] == [0xFFFFFFFF]
    assert by_kind(prof, "workload") == []  # nothing unconditional: socket and personality only by value


def test_parse_reads_back_what_profile_wrote() -> None:
    obs = observed({"read", "clone", "socket", "personality"}, {"umask"}, clone={0x04000011}, socket={1},
                   personality={0})
    back = record.parse(json.loads(json.dumps(record.profile(obs))), "p.json")
    assert back.workload >= {"read", "clone", "socket", "personality"}
    assert back.values["socket"] == {1} and back.values["personality"] == {0}
    assert back.values["clone"] == {0x04000000}
    assert record.profile(back) == record.profile(obs)


def test_merging_is_a_union() -> None:
    a = observed({"read", "socket"}, socket={1})
    b = observed({"write", "socket"}, socket={2})
    a.merge(b)
    prof = record.profile(a)
    assert set(by_kind(prof, "workload")[0]["names"]) == {"read", "write"}
    assert [e["args"][0]["value"] for e in by_kind(prof, "socket")] == [1, 2]


@pytest.mark.parametrize("data, message", [
    ([], "not a seccomp profile"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, "not a profile written by pyrt"),
    ({"syscalls": [{"names": "read", "comment": "pyrt-record: workload"}]}, "syscalls[0].names"),
    ({"syscalls": [{"names": ["x"], "comment": "pyrt-record: mystery"}]}, "unknown pyrt-record: entry"),
    ({"syscalls": [{"names": ["socket"], "comment": "pyrt-record: socket", "args": [{"value": "1"}]}]},
     "args[0].value"),
])
def test_parse_names_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(PyrtError, match=message.replace("[", r"\[").replace("]", r"\]")):
        record.parse(data, "p.json")


def test_a_recorded_profile_renders_compiles_and_explains(tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    record.write(str(path), record.profile(observed({"read", "write", "execve", "exit_group", "socket"},
                                                    socket={1})))
    section = profiles.render(profiles.load(str(path)), profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64")
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert compile_section(section, "linux.seccomp")["bpf"]
    text = tools.explain(str(path), profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64")
    assert "socket" in text
    allowed, _ = tools.check(str(path), "socket", ["1"], profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64")
    denied, _ = tools.check(str(path), "socket", ["10"], profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64")
    unshare, _ = tools.check(str(path), "unshare", [], profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64")
    assert allowed and not denied and not unshare
    assert not list(tmp_path.glob(".rec.json*"))


def test_check_target_refuses_what_could_not_be_written(tmp_path: Path) -> None:
    with pytest.raises(PyrtError, match="is a directory"):
        record.check_target(str(tmp_path))
    with pytest.raises(PyrtError, match="is not a directory"):
        record.check_target(str(tmp_path / "no" / "p.json"))
    record.check_target(str(tmp_path / "p.json"))
    assert record.load_previous(str(tmp_path / "p.json")) is None
