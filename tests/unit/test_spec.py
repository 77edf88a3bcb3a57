"""config.json parsing: every error names the JSON path; engine configs parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyrt.common.errors import SpecError
from pyrt.common.jsonread import parse_json_bytes
from pyrt.config.spec import parse_spec
from tests.conftest import SHARED, busybox_config

ENGINE_CONFIGS = sorted((SHARED / "engines").glob("*.config.json"))


def parse(cfg: dict[str, Any]) -> Any:
    return parse_spec(parse_json_bytes(json.dumps(cfg).encode(), "config.json"))


def error(cfg: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as info:
        parse(cfg)
    return str(info.value)


def test_busybox_bundle_parses() -> None:
    spec = parse(busybox_config())
    assert spec.process is not None and spec.process.no_new_privileges
    assert [ns.type for ns in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount"]


@pytest.mark.skipif(not ENGINE_CONFIGS, reason="../shared/engines not present")
@pytest.mark.parametrize("path", ENGINE_CONFIGS, ids=lambda p: p.name)
def test_engine_configs_parse(path: Path) -> None:
    spec = parse_spec(parse_json_bytes(path.read_bytes(), str(path)))
    assert spec.process is not None and spec.process.args


def test_unknown_namespace_names_the_path() -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"][2]["type"] = "foo"
    assert error(cfg) == "linux.namespaces[2].type: unknown namespace 'foo'"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c.pop("ociVersion"), "ociVersion: required"),
        (lambda c: c.update(ociVersion="banana"), "ociVersion: 'banana' is not a SemVer version"),
        (lambda c: c.update(ociVersion="1.0"), "ociVersion: '1.0' is not a SemVer version"),
        (lambda c: c.pop("root"), "root: required"),
        (lambda c: c["root"].update(path=7), "root.path: expected a string, got number"),
        (lambda c: c["process"].update(args=[]), "process.args: must name the program to run"),
        (lambda c: c["process"].update(args="sh"), "process.args: expected an array, got string"),
        (lambda c: c["process"].update(cwd="tmp"), "process.cwd: must be an absolute path"),
        (lambda c: c["process"]["user"].update(uid=-1), "process.user.uid: -1 is out of range"),
        (lambda c: c["process"]["user"].update(uid=True), "process.user.uid: expected an integer, got boolean"),
        (lambda c: c["process"]["rlimits"][0].update(type="RLIMIT_BOGUS"),
         "process.rlimits[0].type: unknown rlimit 'RLIMIT_BOGUS'"),
        (lambda c: c["process"]["rlimits"][0].update(soft=2048),
         "process.rlimits[0]: soft limit 2048 is above the hard limit 1024"),
        (lambda c: c["process"].update(env=["NOEQUALS"]), "process.env[0]: expected KEY=VALUE"),
        (lambda c: c["mounts"][0].update(destination=""), "mounts[0].destination: must not be empty"),
        (lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
         "linux.namespaces[5].type: namespace 'pid' given twice"),
        (lambda c: c["linux"].update(rootfsPropagation="sideways"),
         "linux.rootfsPropagation: unknown propagation 'sideways'"),
        (lambda c: c["linux"]["resources"]["devices"][0].update(access="rwx"),
         "linux.resources.devices[0].access: expected letters from 'rwm'"),
        (lambda c: c.update(linux=[]), "linux: expected an object, got array"),
    ],
)
def test_errors_name_the_json_path(mutate: Any, expected: str) -> None:
    cfg = busybox_config()
    mutate(cfg)
    assert error(cfg).startswith(expected)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(SpecError, match='config.json: duplicate key "hostname"'):
        parse_json_bytes(b'{"hostname": "a", "hostname": "b"}', "config.json")


def test_invalid_utf8_and_json() -> None:
    with pytest.raises(SpecError, match="not valid UTF-8"):
        parse_json_bytes(b'{"a": "\xff"}', "config.json")
    with pytest.raises(SpecError, match=r"invalid JSON: .*line 1 column"):
        parse_json_bytes(b"{nope", "config.json")


def test_unknown_fields_are_ignored() -> None:
    cfg = busybox_config()
    cfg["somethingNew"] = {"x": 1}
    cfg["process"]["alsoNew"] = True
    assert parse(cfg).hostname == cfg["hostname"]


def test_block_io_device_lists() -> None:
    cfg = busybox_config()
    cfg["linux"]["resources"]["blockIO"] = {
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1 << 20}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]}
    assert parse(cfg).linux.resources.io_devices == (
        ("linux.resources.blockIO.weightDevice[0].weight", "weight", 8, 0, 500),
        ("linux.resources.blockIO.weightDevice[0].leafWeight", "leaf_weight", 8, 0, 300),
        ("linux.resources.blockIO.throttleReadBpsDevice[0].rate", "rbps", 8, 0, 1 << 20),
        ("linux.resources.blockIO.throttleWriteIOPSDevice[0].rate", "wiops", 8, 16, 100))
    cfg["linux"]["resources"]["blockIO"] = {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}
    assert error(cfg) == "linux.resources.blockIO.throttleReadBpsDevice[0].minor: required"


def test_fields_pyrt_cannot_honour_are_recorded() -> None:
    cfg = busybox_config()
    cfg["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    cfg["linux"]["intelRdt"] = {"closID": "x"}
    cfg["linux"]["resources"]["rdma"] = {"mlx": {"hcaHandles": 1}}
    cfg["linux"]["resources"]["cpu"] = {"shares": 0, "quota": 0, "idle": 0}  # zeros: unset, as engines send
    spec = parse(cfg)
    assert spec.unsupported == ()
    assert spec.hooks["prestart"][0].path == "/bin/true"
    assert spec.linux.unsupported == ("linux.intelRdt",)
    assert spec.linux.resources.unsupported == ()
    assert spec.linux.resources.rdma == (("mlx", 1, None),)
    assert spec.linux.resources.settings == {}
    cfg["linux"]["resources"]["cpu"]["idle"] = 1
    assert error(cfg) == "linux.resources.cpu.idle: not supported by this version of pyrt"


def test_resources_keep_only_what_is_set() -> None:
    cfg = busybox_config()
    cfg["linux"]["resources"].update({"memory": {"limit": 1 << 20, "swap": 0, "disableOOMKiller": False},
                                      "cpu": {"shares": 512, "cpus": "0", "quota": 0},
                                      "blockIO": {"weight": 0}, "pids": {"limit": 0},
                                      "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
                                      "unified": {"hugetlb.2MB.max": "0"}})
    res = parse(cfg).linux.resources
    assert res.settings == {"memory.limit": 1 << 20, "cpu.shares": 512, "cpu.cpus": "0"}
    assert res.hugepages == (("2MB", 0),) and res.unified == {"hugetlb.2MB.max": "0"}


def test_models_are_values_without_generated_methods() -> None:
    """The models share _Value's repr, == and hash (attrs generating them per class cost the cold
    import 5.3 ms): two parses of one config are equal, a changed field is not, and repr names fields."""
    import attrs

    from pyrt.config import spec as model

    a, b = parse(busybox_config()), parse(busybox_config())
    assert a == b and a is not b  # (a Spec holds dicts: unhashable, as with attrs' own hash)
    assert a.linux.namespaces == b.linux.namespaces and hash(a.linux.namespaces) == hash(b.linux.namespaces)
    cfg = busybox_config()
    cfg["hostname"] = "other"
    assert parse(cfg) != a and a != "Spec"
    m = model.IdMapping(container_id=0, host_id=1000, size=1)
    assert repr(m) == "IdMapping(container_id=0, host_id=1000, size=1)"
    assert m == model.IdMapping(0, 1000, 1) != model.IdMapping(0, 1000, 2)
    assert {m, model.IdMapping(0, 1000, 1)} == {m}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.size = 2  # type: ignore[misc]
    for cls in (model.Spec, model.Process, model.Mount, model.Linux, model.Hook):
        assert "__repr__" not in cls.__dict__ and "__eq__" not in cls.__dict__, cls
