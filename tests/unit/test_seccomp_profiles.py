"""Docker's default profile: pyrt's builder, the renderer, and Docker's own data files agree."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from pyrt.common.caps import CAPS
from pyrt.common.errors import SpecError
from pyrt.seccomp import profiles
from tests.conftest import SHARED

DOCKER_JSON = SHARED / "seccomp" / "docker-default.json"
needs_shared = pytest.mark.skipif(not DOCKER_JSON.exists(), reason="../shared/seccomp not present")


def names(section: dict[str, Any]) -> list[str]:
    return [n for s in section["syscalls"] for n in s["names"]]


def test_default_caps_render_as_measured() -> None:
    r = profiles.render(profiles.docker_default(), profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64", (6, 18))
    assert (len(r["syscalls"]), len(names(r)), len(set(names(r)))) == (15, 377, 371)
    assert r["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert r["defaultAction"] == "SCMP_ACT_ERRNO" and r["defaultErrnoRet"] == 1
    assert "unshare" not in names(r)
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in r["syscalls"]


def test_sys_admin_allows_unshare_and_drops_the_clone_rules() -> None:
    r = profiles.render(profiles.docker_default(), ("CAP_SYS_ADMIN",), "SCMP_ARCH_X86_64", (6, 18))
    assert "unshare" in names(r) and "mount" in names(r)
    assert not any(s.get("args") and s["names"] == ["clone"] for s in r["syscalls"])
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} not in r["syscalls"]


def test_arch_and_kernel_conditions() -> None:
    arm = profiles.render(profiles.docker_default(), (), "SCMP_ARCH_AARCH64", (6, 18))
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arm_fadvise64_64" in names(arm) and "arch_prctl" not in names(arm)
    old = profiles.render(profiles.docker_default(), (), "SCMP_ARCH_X86_64", (4, 4))
    assert "ptrace" not in names(old)  # minKernel 4.8
    assert "ptrace" in names(profiles.render(profiles.docker_default(), (), "SCMP_ARCH_X86_64", (4, 8)))


@needs_shared
def test_docker_data_file_renders_like_the_builder_for_any_caps() -> None:
    data = json.loads(DOCKER_JSON.read_text())
    rng = random.Random(1234)
    cap_sets = [(), profiles.DOCKER_DEFAULT_CAPS, CAPS] + [tuple(rng.sample(CAPS, rng.randint(1, 20)))
                                                           for _ in range(40)]
    for caps in cap_sets:
        for arch in ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"):
            assert profiles.render(data, caps, arch, (6, 18)) == profiles.render(profiles.docker_default(), caps,
                                                                                 arch, (6, 18))


@needs_shared
def test_docker_20_10_rendered_profile_differs_as_documented() -> None:
    old = json.loads((SHARED / "engines" / "docker-runc-run-rm.config.json").read_text())["linux"]["seccomp"]
    new = profiles.render(profiles.docker_default(), profiles.DOCKER_DEFAULT_CAPS, "SCMP_ARCH_X86_64", (6, 18))
    assert old["architectures"] == new["architectures"] and old["defaultAction"] == new["defaultAction"]
    assert set(names(old)) - set(names(new)) == {"io_uring_enter", "io_uring_register", "io_uring_setup"}


@pytest.mark.parametrize("text, name", [("x86_64", "SCMP_ARCH_X86_64"), ("amd64", "SCMP_ARCH_X86_64"),
                                        ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64"), ("arm64", "SCMP_ARCH_AARCH64"),
                                        ("aarch64", "SCMP_ARCH_AARCH64"), ("s390x", "SCMP_ARCH_S390X")])
def test_arch_names(text: str, name: str) -> None:
    assert profiles.arch_name(text) == name


def test_cap_names() -> None:
    assert profiles.cap_names("chown,CAP_KILL, sys_admin") == ("CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN")
    with pytest.raises(SpecError, match="unknown capability 'nope'"):
        profiles.cap_names("nope")
    with pytest.raises(SpecError, match="unknown architecture"):
        profiles.arch_name("z80")


@pytest.mark.parametrize("profile, expected", [
    ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
      "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}, "archMap: give either architectures or archMap"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]},
     'syscalls[0]: has both "name" and "names"'),
    ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW",
                                                        "includes": {"minKernel": "four"}}]},
     "syscalls[0].includes.minKernel: expected a kernel version"),
])
def test_render_refusals(profile: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as info:
        profiles.render(profile, (), "SCMP_ARCH_X86_64", (6, 18))
    assert str(info.value).startswith(expected)
