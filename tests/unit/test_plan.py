"""The planner: pure, plain data, and it refuses what pyrt cannot honour."""

from __future__ import annotations

import json
import marshal
from pathlib import Path
from typing import Any

import pytest

from pyrt.common import constants as C
from pyrt.common.errors import SpecError
from pyrt.common.jsonread import parse_json_bytes
from pyrt.config import mountopts
from pyrt.config.spec import parse_spec
from pyrt.planning.plan import build
from tests.conftest import BUSYBOX, ROOTFS, busybox_config


def plan_of(cfg: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], list[str]]:
    spec = parse_spec(parse_json_bytes(json.dumps(cfg).encode(), "config.json"))
    return build(spec, bundle=str(BUSYBOX), **kw)


needs_rootfs = pytest.mark.skipif(not ROOTFS.is_dir(), reason="bundles/busybox/rootfs missing: run scripts/setup")


@needs_rootfs
def test_plan_is_plain_data() -> None:
    plan, warnings = plan_of(busybox_config())
    assert marshal.loads(marshal.dumps(plan)) == plan  # marshal accepts only plain data
    assert warnings == []
    assert plan["clone_flags"] == (C.CLONE_NEWPID | C.CLONE_NEWNET | C.CLONE_NEWIPC | C.CLONE_NEWUTS
                                   | C.CLONE_NEWNS)
    assert plan["process"]["caps"]["bounding"] == (1 << 29) | (1 << 5) | (1 << 10)  # AUDIT_WRITE KILL NBS
    assert [d["path"] for d in plan["devices"]][:3] == ["/dev/null", "/dev/zero", "/dev/full"]


@needs_rootfs
def test_unknown_capability_is_a_warning() -> None:
    cfg = busybox_config()
    cfg["process"]["capabilities"]["bounding"].append("CAP_NOPE")
    plan, warnings = plan_of(cfg)
    assert warnings == ["process.capabilities.bounding: ignoring unknown or unavailable capability 'CAP_NOPE'"]


@needs_rootfs
def test_relative_mount_destination_is_warned_and_made_absolute() -> None:
    cfg = busybox_config()
    cfg["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"})
    plan, warnings = plan_of(cfg)
    assert plan["mounts"][-1]["dest"] == "/data"
    assert "is not absolute" in warnings[0]


@needs_rootfs
@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["root"].update(path="/nonexistent-rootfs"), "root.path: /nonexistent-rootfs: no such directory"),
        (lambda c: c["linux"]["namespaces"].append({"type": "user"}), "linux.uidMappings: a new user namespace"),
        (lambda c: c["linux"]["namespaces"][1].update(path="/nonexistent/ns"),
         "linux.namespaces[1].path: /nonexistent/ns: no such file"),
        (lambda c: c["linux"].update(namespaces=[{"type": "pid"}]), "linux.namespaces: pyrt needs a mount namespace"),
        (lambda c: c["linux"].update(sysctl={"kernel.panic": "1"}), "linux.sysctl.kernel.panic: not a namespaced"),
        (lambda c: c["linux"].update(intelRdt={"closID": "x"}), "linux.intelRdt: not supported"),
        (lambda c: c["mounts"].append({"destination": "/x", "type": "bind", "source": "/nonexistent"}),
         "mounts[7].source: /nonexistent: no such file or directory"),
        (lambda c: c.pop("process"), "process: required"),
    ],
)
def test_planner_refusals(mutate: Any, expected: str) -> None:
    cfg = busybox_config()
    mutate(cfg)
    with pytest.raises(SpecError) as info:
        plan_of(cfg)
    assert str(info.value).startswith(expected)


def test_mount_options_table() -> None:
    parsed = mountopts.parse(("rbind", "ro", "nosuid", "rprivate", "rnoexec", "mode=755", "size=1k", "tmpcopyup"))
    assert parsed["flags"] == C.MS_BIND | C.MS_REC | C.MS_RDONLY | C.MS_NOSUID
    assert parsed["propagation"] == [C.MS_PRIVATE | C.MS_REC]
    assert parsed["attr_set"] == C.MOUNT_ATTR_NOEXEC
    assert parsed["data"] == "mode=755,size=1k"
    assert parsed["extensions"] == ["tmpcopyup"]
    assert mountopts.parse(("ro", "rw"))["flags"] == 0  # later options win, as in runc
    assert mountopts.parse(("rro", "rrw"))["attr_clr"] == C.MOUNT_ATTR_RDONLY


def test_every_runc_mount_option_is_known() -> None:
    runc = Path(__file__).resolve().parents[3] / "shared" / "engines" / "runc-outputs.md"
    if not runc.exists():
        pytest.skip("../shared/engines/runc-outputs.md not present")
    text = runc.read_text()
    start = text.index('"mountOptions": [')
    names = json.loads(text[start + len('"mountOptions": '):text.index("]", start) + 1])
    assert set(names) <= set(mountopts.all_options())


def test_device_rules_given_twice_are_written_once_unless_a_deny_came_between() -> None:
    cfg = busybox_config()
    cfg["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},  # again in runc's defaults
        {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # taken back: stays
    ]}
    rules = plan_of(cfg)[0]["cgroup"]["devices"]
    assert rules[:3] == [[False, "a", -1, -1, "rwm"], [True, "c", 1, 3, "rwm"], [False, "c", 1, 5, "rwm"]]
    assert rules.count([True, "c", 1, 3, "rwm"]) == 1  # the default's copy adds nothing
    assert rules.count([True, "c", 1, 5, "rwm"]) == 1  # re-allowed after the deny: kept
    assert [True, "c", 136, -1, "rwm"] in rules


@pytest.fixture
def fake_lsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake /sys for the LSM checks: tests write enabled or enforce into it."""
    from pyrt.common import lsm_state

    monkeypatch.setattr(lsm_state, "APPARMOR_ENABLED", str(tmp_path / "apparmor-enabled"))
    monkeypatch.setattr(lsm_state, "SELINUX_ENFORCE", str(tmp_path / "selinux-enforce"))
    return tmp_path


@needs_rootfs
@pytest.mark.parametrize("enabled", ["Y", "N", None])
def test_an_apparmor_profile_is_planned_where_apparmor_is_on(fake_lsm: Path, enabled: str | None) -> None:
    if enabled is not None:
        (fake_lsm / "apparmor-enabled").write_text(enabled + "\n")
    cfg = busybox_config()
    cfg["process"]["apparmorProfile"] = "docker-default"
    plan, warnings = plan_of(cfg)
    if enabled == "Y":
        assert plan["process"]["apparmor"] == "docker-default" and warnings == []
    else:
        assert plan["process"]["apparmor"] == ""
        assert warnings == ["process.apparmorProfile: AppArmor is not enabled on this host; ignored (as runc does)"]


@needs_rootfs
@pytest.mark.parametrize("field", ["selinuxLabel", "mountLabel"])
def test_an_selinux_label_is_refused_where_selinux_enforces(fake_lsm: Path, field: str) -> None:
    cfg = busybox_config()
    (cfg["process"] if field == "selinuxLabel" else cfg["linux"])[field] = "system_u:system_r:container_t:s0"
    where = "process.selinuxLabel" if field == "selinuxLabel" else "linux.mountLabel"
    (fake_lsm / "selinux-enforce").write_text("0")
    _plan, warnings = plan_of(cfg)
    assert warnings == [f"{where}: SELinux is not enforcing on this host; ignored (as runc does)"]
    (fake_lsm / "selinux-enforce").write_text("1")
    with pytest.raises(SpecError, match=f"^{where}: SELinux is enforcing on this host and pyrt does not apply"):
        plan_of(cfg)
