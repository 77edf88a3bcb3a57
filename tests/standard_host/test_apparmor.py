"""AppArmor: the config's profile is in force for the container's process and for exec, from its execve
on; a profile that is not loaded is refused with one line and nothing left."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import Runtime, busybox_config
from tests.standard_host.conftest import STANDARD_HOST, apparmor_enabled

pytestmark = [pytest.mark.root, *STANDARD_HOST]

PROFILE = "pyrt-test-profile"
RULES = f"""#include <tunables/global>
profile {PROFILE} flags=(attach_disconnected,mediate_deleted) {{
  #include <abstractions/base>
  file,
  capability,
  network,
  mount,
  umount,
  signal,
  ptrace,
  deny /proc/sysrq-trigger rwklx,
}}
"""


@pytest.fixture(scope="module")
def profile() -> Iterator[str]:
    if not apparmor_enabled():
        pytest.skip("AppArmor is not enabled here")
    subprocess.run(["apparmor_parser", "-r"], input=RULES, text=True, check=True)
    yield PROFILE
    subprocess.run(["apparmor_parser", "-R"], input=RULES, text=True)


def test_the_profile_is_in_force_for_run_and_exec(rt: Runtime, profile: str) -> None:
    cid = rt.new_id()
    cfg = busybox_config()
    cfg["process"]["apparmorProfile"] = profile
    cfg["process"]["args"] = ["sh", "-c", "cat /proc/self/attr/current; exec sleep 60"]
    rt("run", "-d", "-b", str(rt.bundle(cfg)), cid, check=True)
    try:
        res = rt("exec", cid, "cat", "/proc/self/attr/current")
        assert res.returncode == 0 and res.stdout == f"{profile} (enforce)\n", (res.stdout, res.stderr)
        pid = rt.state(cid)["pid"]
        with open(f"/proc/{pid}/attr/current") as fh:
            assert fh.read() == f"{profile} (enforce)\n"
    finally:
        rt("delete", "--force", cid, check=True)


def test_docker_default_when_docker_has_loaded_it(rt: Runtime) -> None:
    if not apparmor_enabled():
        pytest.skip("AppArmor is not enabled here")
    with open("/sys/kernel/security/apparmor/profiles") as fh:
        if "docker-default " not in fh.read():
            pytest.skip("docker-default is not loaded (dockerd loads it when it starts)")
    cfg = busybox_config()
    cfg["process"]["apparmorProfile"] = "docker-default"
    cfg["process"]["args"] = ["cat", "/proc/self/attr/current"]
    res = rt("run", "-b", str(rt.bundle(cfg)), rt.new_id())
    assert res.returncode == 0 and res.stdout == "docker-default (enforce)\n", (res.stdout, res.stderr)


def test_a_profile_that_is_not_loaded_is_refused(rt: Runtime) -> None:
    if not apparmor_enabled():
        pytest.skip("AppArmor is not enabled here")
    cfg = busybox_config()
    cfg["process"]["apparmorProfile"] = "pyrt-no-such-profile"
    cid = rt.new_id()
    res = rt("run", "-b", str(rt.bundle(cfg)), cid)
    assert res.returncode == 1, (res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "process.apparmorProfile: 'pyrt-no-such-profile' is not loaded" in lines[0], lines
    assert not rt.leftovers()
