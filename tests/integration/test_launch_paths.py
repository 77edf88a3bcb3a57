"""Two ways init comes to be: forked by pyrt itself, born in its new namespaces and cgroup2 leaf (the
common case), or by an intermediate process (a user or time namespace, a pid namespace to join, no
clone3 into the cgroup: PYRT_CLONE_INTO_CGROUP=0).  The container is the same either way."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Runtime, busybox_config

pytestmark = pytest.mark.root

PROBE = ("echo pid=$$; hostname; cat /sys/class/net/lo/flags; "
         "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Uid|Gid|Groups):' /proc/self/status; "
         "cut -d' ' -f5,6,10 /proc/self/mountinfo | sort; sort /proc/self/cgroup; "
         "for n in cgroup ipc mnt net pid uts; do readlink /proc/self/ns/$n | cut -d: -f1; done; "
         "grep -c _ses /proc/keys; ls /dev; unshare --user true 2>&1; echo unshare=$?")


def run_both_ways(rt: Runtime, cfg: dict[str, object]) -> dict[str, str]:
    out = {}
    bundle = str(rt.bundle(cfg))
    for how, env in (("direct", {}), ("intermediate", {"PYRT_CLONE_INTO_CGROUP": "0"})):
        cid = rt.new_id()
        res = rt("--debug", "run", "-b", bundle, cid, env=dict(os.environ, **env))
        assert res.returncode == 0, res.stderr
        said = "this process, into its namespaces" if how == "direct" else "an intermediate process"
        assert f"init is forked by {said}" in res.stderr, res.stderr
        out[how] = res.stdout.replace(cid, "ID")
    return out


def test_the_same_container_forked_directly_or_through_an_intermediate(rt: Runtime) -> None:
    cfg = busybox_config()  # the demo profile: a seccomp filter, a hostname, every namespace but user
    cfg["process"]["args"] = ["sh", "-c", PROBE]
    out = run_both_ways(rt, cfg)
    assert out["direct"] == out["intermediate"]
    lines = out["direct"].splitlines()
    assert lines[:3] == ["pid=1", cfg["hostname"], "0x9"]  # pid 1, its hostname, lo up (IFF_UP|IFF_LOOPBACK)
    assert "Seccomp:\t2" in lines and "unshare=1" in lines


def test_a_joined_network_namespace_forked_directly(rt: Runtime, tmp_path: Path) -> None:
    name = f"pyrt-launch-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "pyrt-probe0", "type", "veth", "peer", "name", "pyrt-probe1"],
                       check=True)
        cfg = busybox_config()
        cfg["linux"]["namespaces"] = [ns if ns["type"] != "network" else {"type": "network",
                                                                           "path": f"/run/netns/{name}"}
                                      for ns in cfg["linux"]["namespaces"]]
        cfg["process"]["args"] = ["sh", "-c", "ls /sys/class/net | sort; " + PROBE]
        out = run_both_ways(rt, cfg)
        assert out["direct"] == out["intermediate"]
        assert out["direct"].splitlines()[:3] == ["lo", "pyrt-probe0", "pyrt-probe1"]  # the joined one's
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_a_failure_in_the_directly_forked_init_is_one_line(rt: Runtime) -> None:
    cfg = busybox_config()
    cfg["linux"]["namespaces"] = [ns if ns["type"] != "uts" else {"type": "uts", "path": "/proc/self/ns/net"}
                                  for ns in cfg["linux"]["namespaces"]]
    cid = rt.new_id()
    res = rt("--debug", "run", "-b", str(rt.bundle(cfg)), cid)
    assert res.returncode == 1 and "init is forked by this process" in res.stderr
    errors = [line for line in res.stderr.splitlines() if "debug:" not in line]
    assert errors == ["pyrt: join uts namespace /proc/self/ns/net: Invalid argument"], res.stderr
    assert not (rt.root / cid).exists()


def test_a_cgroup_namespace_and_limits_the_same_either_way(rt: Runtime) -> None:
    # forked directly, init enters its v1 leaves only once the parent has made them and written the
    # limits (after clone3): its cgroup namespace must still be rooted in its own cgroup everywhere
    cfg = busybox_config()
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 42}}
    cfg["process"]["args"] = ["sh", "-c", PROBE + "; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                              "/sys/fs/cgroup/pids/pids.max"]
    out = run_both_ways(rt, cfg)
    assert out["direct"] == out["intermediate"]
    lines = out["direct"].splitlines()
    cgroup_lines = [line for line in lines if line.count(":") == 2 and line.split(":")[0].isdigit()]
    assert cgroup_lines and all(line.endswith(":/") for line in cgroup_lines), lines
    assert lines[-2:] == [str(64 << 20), "42"]
