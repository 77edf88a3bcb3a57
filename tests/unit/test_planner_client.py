"""The planner's contract without sockets: plan shape checks, refusals, cache keys that never go stale."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pyrt.common import cache, lsm_state
from pyrt.planning.bundle import build_plan, plan_bundle, plan_key
from pyrt.planning.planner_client import PROTOCOL, check_plan
from tests.conftest import SHARED, busybox_config, engine_config

ENGINE_CONFIGS = ["docker-runc-run-rm", "docker-runc-run-tty", "docker-runc-init", "podman-runc-run-rm",
                  "ctr-runc-run-rm", "ctr-runc-seccomp-default"]


def bundle_of(tmp_path: Path, cfg: dict[str, Any], name: str = "b") -> str:
    d = tmp_path / name
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


@pytest.mark.skipif(not (SHARED / "engines").exists(), reason="../shared/engines not present")
@pytest.mark.parametrize("name", ENGINE_CONFIGS)
def test_every_engine_config_plans_to_the_checked_shape(tmp_path: Path, name: str) -> None:
    cfg = engine_config(name)
    for ns in cfg["linux"]["namespaces"]:
        ns.pop("path", None)
    b = bundle_of(tmp_path, cfg)
    plan, _w, _d = build_plan(json.dumps(cfg).encode(), "config.json", b, None, {})
    assert check_plan(plan, b, {}) is None


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.pop("seccomp"), "keys"),
    (lambda p: p.update(extra=1), "keys"),
    (lambda p: p.update(rootfs=7), "plan.rootfs is a int"),
    (lambda p: p["process"].update(uid="0"), "plan.process.uid is a str"),
    (lambda p: p["process"].update(args=[]), "process.args"),
    (lambda p: p.update(bundle="/elsewhere"), "another bundle"),
    (lambda p: p.update(no_pivot=True), "options"),
    (lambda p: p.update(seccomp={"bpf": "x", "flags": 0, "listener": None, "notify": False}),
     "plan.seccomp.bpf is a str"),
])
def test_a_damaged_plan_is_refused(tmp_path: Path, damage: Any, why: str) -> None:
    b = bundle_of(tmp_path, busybox_config())
    plan, _w, _d = build_plan(json.dumps(busybox_config()).encode(), "config.json", b, None, {})
    assert check_plan(plan, b, {}) is None
    bad = copy.deepcopy(plan)
    damage(bad)
    problem = check_plan(bad, b, {})
    assert problem is not None and why in problem


def test_the_planner_refuses_what_it_would_key_differently(tmp_path: Path) -> None:
    from pyrt.planning.planner import Planner

    cfg = busybox_config()
    b = bundle_of(tmp_path, cfg)
    raw = json.dumps(cfg).encode()
    p = Planner(str(tmp_path / "p.sock"))
    req = {"protocol": PROTOCOL, "key": plan_key(raw, b, {}, None, b"", p.code), "config": raw,
           "config_path": "config.json", "bundle": b, "options": {}, "seccomp_source": None, "seccomp_bytes": b""}
    assert "plan" in p.answer(req)
    assert "other pyrt code" in p.answer({**req, "key": plan_key(raw, b, {}, None, b"", ("old", 1, 2))})["refused"]
    assert p.answer({**req, "options": {"rm": True}})["refused"] == "unknown options"
    assert p.answer({**req, "protocol": 0})["refused"] == "a malformed request"
    assert p.answer("junk")["refused"] == "a malformed request"
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    changed = {**req, "seccomp_source": str(profile), "seccomp_bytes": b"{}",
               "key": plan_key(raw, b, {}, str(profile), b"{}", p.code)}
    assert "changed during the request" in p.answer(changed)["refused"]
    bad_config = b'{"ociVersion": "1.0.2", "process": {"args": []}}'
    bad = {**req, "config": bad_config, "key": plan_key(bad_config, b, {}, None, b"", p.code)}
    assert p.answer(bad)["error"][1].startswith("root")  # the same error planning here would give


def test_a_changed_config_capability_or_profile_is_a_new_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYRT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYRT_PLANNER_SOCKET", str(tmp_path / "none.sock"))
    cfg = busybox_config()
    b = bundle_of(tmp_path, cfg)
    first, _w, _d, source = plan_bundle(b)
    assert source == "built" and plan_bundle(b)[3] == "cache"
    cfg["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    bundle_of(tmp_path, cfg)
    second, _w, _d, source = plan_bundle(b)
    assert source == "built" and second["process"]["caps"] != first["process"]["caps"]
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"}]}))
    one = plan_bundle(b, security_opt=f"seccomp={profile}")
    assert one[3] == "built" and plan_bundle(b, security_opt=f"seccomp={profile}")[3] == "cache"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}))
    two = plan_bundle(b, security_opt=f"seccomp={profile}")
    assert two[3] == "built" and two[0]["seccomp"]["bpf"] != one[0]["seccomp"]["bpf"]
    assert plan_bundle(b, no_pivot=True)[0]["no_pivot"] is True
    assert len(os.listdir(tmp_path / "cache" / "plans")) == 5
    assert cache.host_stamp()[-2:] == ((os.path.exists("/sys/fs/cgroup/cgroup.controllers"),
                                        os.path.isdir("/sys/fs/cgroup/unified")),
                                       (lsm_state.apparmor_enabled(), lsm_state.selinux_enforcing()))
